"""The parts of a scenario that only the availability model reads.

A capacity planner describes *how the platform fails* and *what planned work it undergoes*;
the simulation (``harness simulate``) turns that into a distribution of monthly availability::

    topology:
      database: {failover: 90s, success_probability: 0.95, manual_recovery: 30m}
      load_balancers: {per_site: 2, switchover: 10s}
    releases: {interval: 14d, regression_probability: 0.05}
    maintenance:
      - {kind: rolling-patch, first: 6d2h, every: 7d, per_server: 10m}
    migration: {plan: phased, start: 5d22h, wave_interval: 7d}
    simulation: {duration: 30d, timeout: 30s, excluded_causes: [org-connectivity, supplier]}

Every section has defaults, so a scenario written for the load test alone is still a valid
simulation input (with no releases, no maintenance and no migration). Cross-references — a
failover target that is not a data centre, a wave naming an unknown organisation type — are
checked by :mod:`harness.config.loading`, where the error can be located in the file.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from harness.config.fields import Distribution, KebabId, Lognormal, Seconds, StrictModel
from harness.spine import Service

DAY_S = 86_400.0  # seconds in a day


class Cause(StrEnum):
    """What burned the error budget; every failed or slow message is given one cause."""

    HARDWARE = "hardware"  # application servers failing and being repaired
    SITE = "site"  # a whole data centre, its load balancers or its network path
    DATABASE = "database"  # a database cluster failing over or down
    SOFTWARE = "software"  # national software faults and release regressions
    CONFIG = "config"  # a configuration change that breaks every site at once
    MAINTENANCE = "maintenance"  # planned work: patching, site drains, service downtime
    SUPPLIER = "supplier"  # a clinical-system supplier's organisations cut off
    MIGRATION = "migration"  # cut-over downtime and rollbacks of a migration
    ORG_CONNECTIVITY = "org-connectivity"  # one organisation's own network link
    LOAD = "load"  # queueing at full capacity: the platform is simply too small


class Component(StrEnum):
    """Kinds of component a ``failures`` entry may name (besides ``<service>-server``)."""

    SERVER = "server"  # every application server of every pool
    SITE = "site"  # a whole data centre (power, cooling, building)
    LOAD_BALANCER = "load-balancer"  # each load balancer of a site's pair
    NETWORK = "network"  # a site's network path to the clients
    DATABASE = "database"  # each node of a site's database cluster
    SOFTWARE_RELEASE = "software-release"  # a national software fault (common to all sites)
    SOFTWARE_FAULT = "software-fault"  # the same as software-release
    CONFIG_CHANGE = "config-change"  # a bad configuration push (all services, all sites)
    SUPPLIER_GATEWAY = "supplier-gateway"  # one supplier's link to the Spine
    ORG_CONNECTIVITY = "org-connectivity"  # each organisation's own link, independently


def known_components() -> list[str]:
    """Every component name a failure process may use."""
    return [str(c) for c in Component] + [f"{s}-server" for s in Service]


class LoadBalancerSpec(StrictModel):
    """The load balancers in front of each data centre."""

    per_site: int = Field(2, ge=1, le=16, examples=[2])
    """Load balancers per site; the site is cut off only when all of them are down."""
    switchover: Seconds = Field(10.0, examples=["10s"])
    """Traffic of the site fails for this long while a standby takes over from a failed one.
    Seconds, or a duration such as ``10s``."""


class DatabaseSpec(StrictModel):
    """Each data centre's database cluster: a primary and standbys with automatic failover."""

    nodes: int = Field(2, ge=1, le=9, examples=[2])
    """Nodes per site (one primary, the rest standbys)."""
    failover: Seconds = Field(90.0, examples=["90s"])
    """Writes and reads fail for this long while a standby is promoted. Seconds, or a duration such
    as ``90s``."""
    success_probability: float = Field(0.95, ge=0.0, le=1.0, examples=[0.95])
    """Chance that the automatic promotion works; otherwise ``manual_recovery`` applies. A
    probability, 0–1."""
    manual_recovery: Seconds = Field(1800.0, gt=0, examples=["30m"])
    """Outage when the automatic failover fails and an engineer promotes by hand. Seconds, or a
    duration such as ``30m``."""


class ReleaseSpec(StrictModel):
    """Software releases on a cadence, each with a chance of shipping a regression."""

    interval: Seconds = Field(14 * DAY_S, gt=0, examples=["14d"])
    """Time between releases of a service. Seconds, or a duration such as ``14d``."""
    first: Seconds = Field(1 * DAY_S + 20 * 3600.0, examples=["1d20h"])
    """Offset of the first release from the start of the simulated window (Tuesday 20:00). Seconds,
    or a duration such as ``1d20h``."""
    services: list[Service] = Field(default_factory=list, examples=[["pds", "eps"]])
    """Services released (empty: every service, one after another, an hour apart)."""
    regression_probability: float = Field(0.05, ge=0.0, le=1.0, examples=[0.05])
    """Chance that a release ships a regression. A probability, 0–1."""
    error_fraction: float = Field(0.5, gt=0.0, le=1.0, examples=[0.5])
    """Share of the service's requests that fail while a regression is live. A share, 0–1."""
    time_to_rollback: Distribution = Field(
        Lognormal(distribution="lognormal", median=1800.0, sigma=0.6),
        examples=[{"distribution": "lognormal", "median": "30m", "sigma": 0.6}],
    )
    """Time from release to the regression being rolled back (a distribution of seconds)."""


class _WindowBase(StrictModel):
    first: Seconds = Field(0.0, examples=["6d2h"])
    """Offset of the first window from the start of the simulated window. Seconds, or a duration
    such as ``6d2h``."""
    every: Seconds = Field(7 * DAY_S, gt=0, examples=["7d"])
    """Time between windows. Seconds, or a duration such as ``7d``."""


class RollingPatch(_WindowBase):
    """Servers patched one at a time, pool by pool and site by site: capacity dips, no outage."""

    kind: Literal["rolling-patch"] = Field(examples=["rolling-patch"])
    """Window type: ``rolling-patch``."""
    per_server: Seconds = Field(600.0, gt=0, examples=["10m"])
    """Time each server is out of its pool. Seconds, or a duration such as ``10m``."""
    services: list[Service] = Field(default_factory=list, examples=[["pds"]])
    """Pools patched (empty: every pool)."""


class SiteDrain(_WindowBase):
    """One data centre drained on purpose: its traffic moves to the others without failing."""

    kind: Literal["site-drain"] = Field(examples=["site-drain"])
    """Window type: ``site-drain``."""
    data_centre: KebabId = Field(examples=["dc-b"])
    """The data centre drained, one of ``topology.data_centres``. Example: ``dc-b``."""
    duration: Seconds = Field(gt=0, examples=["2h"])
    """How long it is drained, seconds or a duration. Example: ``2h``."""


class ServiceDowntime(_WindowBase):
    """A service taken down on purpose (503 with ``Retry-After``): its requests fail."""

    kind: Literal["service-downtime"] = Field(examples=["service-downtime"])
    """Window type: ``service-downtime``."""
    service: Service = Field(examples=["scr"])
    """The service taken down (``pds``, ``eps``, ``scr``, ``sds``, ``mesh``, ``auth``)."""
    duration: Seconds = Field(gt=0, examples=["5m"])
    """How long it is down, seconds or a duration. Example: ``30m``."""


MaintenanceWindow = Annotated[
    RollingPatch | SiteDrain | ServiceDowntime, Field(discriminator="kind")
]


class MigrationPlan(StrEnum):
    """How organisations move to the new platform."""

    PHASED = "phased"  # waves of organisation types over weekends, canary first
    BIG_BANG = "big-bang"  # everyone at once


class WaveSpec(StrictModel):
    """One migration wave: which organisation types move, and when."""

    org_types: list[KebabId] = Field(min_length=1, examples=[["gp-practice"]])
    """Organisation types in the wave (``gp-practice``, ``community-pharmacy``…)."""
    at: Seconds = Field(examples=["5d22h"])
    """Offset of the cut-over from the start of the simulated window. Seconds, or a duration such as
    ``5d22h``."""


class MigrationSpec(StrictModel):
    """A migration to a new platform during the simulated window (the 2014 decision)."""

    plan: MigrationPlan = Field(MigrationPlan.PHASED, examples=["phased"])
    """``phased`` (waves of organisation types, canary first) or ``big-bang`` (all at once)."""
    start: Seconds = Field(5 * DAY_S + 22 * 3600.0, examples=["5d22h"])
    """Offset of the first cut-over (Saturday 22:00 when the window starts on a Monday). Seconds, or
    a duration such as ``5d22h``."""
    wave_interval: Seconds = Field(7 * DAY_S, gt=0, examples=["7d"])
    """Phased plan without explicit waves: time between the directory's waves 0 (canary)…4. Seconds,
    or a duration such as ``7d``."""
    waves: list[WaveSpec] = Field(
        default_factory=list, examples=[[{"org_types": ["gp-practice"], "at": "5d22h"}]]
    )
    """Explicit waves of a phased plan; empty means the directory's own waves."""
    cutover_downtime: Seconds = Field(300.0, examples=["5m"])
    """Outage of the organisations being moved, per wave (everyone at once for big-bang). Seconds,
    or a duration such as ``5m``."""
    dual_running: bool = Field(True, examples=[True])
    """Phased only: old and new platforms run side by side, so a cut-over costs no downtime."""
    rollback_probability: float = Field(0.05, ge=0.0, le=1.0, examples=[0.05])
    """Chance that a wave (the big bang) goes wrong and its organisations fail until rollback. A
    probability, 0–1."""
    error_fraction: float = Field(1.0, gt=0.0, le=1.0, examples=[1.0])
    """Share of the moved organisations' requests that fail while a wave is going wrong. A share,
    0–1."""
    time_to_rollback: Distribution = Field(
        Lognormal(distribution="lognormal", median=7200.0, sigma=0.5),
        examples=[{"distribution": "lognormal", "median": "2h", "sigma": 0.5}],
    )
    """Time from a wave going wrong to its rollback (a distribution of seconds)."""
    org_failure_probability: float = Field(0.002, ge=0.0, le=1.0, examples=[0.002])
    """Chance that one organisation's own cut-over fails (its clinical system must be fixed). A
    probability, 0–1."""
    org_time_to_fix: Distribution = Field(
        Lognormal(distribution="lognormal", median=14400.0, sigma=0.8),
        examples=[{"distribution": "lognormal", "median": "4h", "sigma": 0.8}],
    )
    """Time to fix one organisation's failed cut-over (a distribution of seconds)."""


class FlushSpec(StrictModel):
    """What clients do when they reconnect after a cohort outage (the thundering herd)."""

    fraction: float = Field(0.5, ge=0.0, le=1.0, examples=[0.5])
    """Share of the messages held during the outage that are sent on reconnection. A share, 0–1."""
    duration: Seconds = Field(600.0, gt=0, examples=["10m"])
    """Time over which the held messages are flushed. Seconds, or a duration such as ``10m``."""


class ImportanceSpec(StrictModel):
    """Importance sampling: fail one kind of component more often, and reweight the months.

    Rare combinations (both data centres down in one month) barely ever happen in a plain run;
    making the component fail ``factor`` times more often and weighting each month by its
    likelihood ratio estimates their probability without millions of replications. Only
    components with exponential times to failure can be biased this way.
    """

    component: KebabId = Field(examples=["site"])
    """The component whose failures are made more frequent (``site``, ``database``…)."""
    factor: float = Field(10.0, gt=1.0, le=10_000.0, examples=[10])
    """How many times more often it fails in the biased runs."""


class SimulationSpec(StrictModel):
    """The simulated window and how messages are judged."""

    start: datetime = Field(datetime(2014, 9, 1, 0, 0), examples=["2014-09-01T00:00"])
    """Start of the simulated window; a time without offset is London local time."""
    duration: Seconds = Field(30 * DAY_S, ge=3600.0, le=366 * DAY_S, examples=["30d"])
    """Length of one simulated month (30 days by default). Seconds, or a duration such as
    ``30d``."""
    timeout: Seconds = Field(30.0, gt=0, examples=["30s"])
    """Client timeout: a request that would wait longer fails instead. Seconds, or a duration such
    as ``30s``."""
    slow_is_bad: bool = Field(True, examples=[True])
    """Count requests slower than their latency objective against availability."""
    bad_minute_threshold: float = Field(0.01, gt=0.0, lt=1.0, examples=[0.01])
    """A minute is bad (time-based availability) when more than this share of it is bad. A share of
    the minute's requests, 0–1."""
    excluded_causes: list[Cause] = Field(
        default_factory=lambda: [Cause.ORG_CONNECTIVITY, Cause.SUPPLIER],
        examples=[["org-connectivity", "supplier"]],
    )
    """Causes reported (per organisation and type) but excluded from the Spine's SLI: an
    organisation's own link and a supplier's gateway are not the Spine's to keep up. Planned
    ``maintenance`` is always excluded, as ``load`` and ``run`` exclude requests answered
    "under maintenance" (one rule, ``harness.slo.outcomes``)."""
    reconnect_flush: FlushSpec = Field(FlushSpec(), examples=[{"fraction": 0.5, "duration": "10m"}])
    """What clients send when they reconnect after a cohort outage (the thundering herd)."""
    slo_gate: bool = Field(False, examples=[False])
    """No longer read (kept so older files validate): ``harness simulate`` always judges its
    prediction against ``max_breach_probability``; ``--no-verdict`` predicts only."""
    max_breach_probability: float = Field(0.05, ge=0.0, le=1.0, examples=[0.05])
    """The acceptable probability (0–1) that a month breaches the availability target: ``simulate``
    fails when the 95 % interval of either measure's P(breach) is wholly above it, passes when
    both are wholly at or below it, and is otherwise inconclusive. Example: ``0.05``."""
    importance: ImportanceSpec | None = Field(None, examples=[{"component": "site", "factor": 10}])
    """Importance sampling of a rare failure (off by default)."""
