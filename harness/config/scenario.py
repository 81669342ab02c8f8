"""The scenario: everything one run needs to know, in one validated file.

A scenario names the population (how many organisations, which seed), the traffic (scale,
window, time compression), the platform (data centres, server pools, failure processes), how
to drive load, a timeline of injected faults, and the objectives to judge against::

    name: ci-smoke
    seed: 7
    organisations: {count: 200}
    traffic: {scale: "2014", start: "2014-09-01T08:00", duration: 2m, rate_scale: 0.01}
    faults:
      - {kind: kill-worker, at: 30s, worker: 0}

Every model forbids unknown keys, identifiers are kebab-case, and variants are discriminated
unions on one field (``distribution``, ``executor``, ``kind``) so that an error names the exact
variant. Later subsystems extend these models; the JSON Schema (``harness scenarios schema``)
follows automatically.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from harness.config.availability import (
    DatabaseSpec,
    LoadBalancerSpec,
    MaintenanceWindow,
    MigrationSpec,
    ReleaseSpec,
    SimulationSpec,
)
from harness.config.fields import DURATION_JSON_SCHEMA as DURATION_JSON_SCHEMA
from harness.config.fields import KEBAB_PATTERN as KEBAB_PATTERN
from harness.config.fields import Distribution, KebabId, Seconds, StrictModel
from harness.config.fields import Exponential as Exponential
from harness.config.fields import Lognormal as Lognormal
from harness.config.fields import Weibull as Weibull
from harness.errors import ConfigurationError
from harness.spine import AVAILABILITY_TARGET, CATALOGUE, Service, parse_scale


def _check_scale(value: str) -> str:
    try:
        parse_scale(value)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    return value


def _check_interaction(value: str) -> str:
    known = {i.id for i in CATALOGUE}
    if value not in known:
        raise ValueError(f"unknown interaction {value!r}; known: {', '.join(sorted(known))}")
    return value


InteractionId = Annotated[str, AfterValidator(_check_interaction)]


class OrganisationsSpec(StrictModel):
    """The organisation directory to build (see ``harness.spine.build_directory``)."""

    count: int = Field(20_000, ge=1, le=200_000, examples=[200])
    """How many organisations (a count): 20,000 for 2014, ~28,000 for 2016."""


class TrafficSpec(StrictModel):
    """Which part of the traffic profile to play, and how fast."""

    scale: Annotated[
        str,
        BeforeValidator(str),
        AfterValidator(_check_scale),
        WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number", "exclusiveMinimum": 0}]}),
    ] = Field("2014", examples=["2014"])
    """``2014`` (400 M/month), ``2018`` (1 bn/month) or a factor on 2014, e.g. ``1.5``."""
    winter_pressure: float = Field(0.0, ge=0.0, le=2.0, examples=[0.15])
    """Extra load in mid-January, as a share of the normal load, 0–2 (0.1 = +10 %)."""
    start: datetime = Field(datetime(2014, 9, 1, 8, 0), examples=["2014-09-01T08:00"])
    """Start of the window in profile time; a time without offset is London local time."""
    duration: Seconds = Field(600.0, gt=0, examples=["2m"])
    """Length of the window in profile time. Seconds, or a duration such as ``2m``."""
    time_scale: float = Field(1.0, ge=1.0, le=100_000.0, examples=[60])
    """Profile seconds played per wall-clock second (60 plays an hour in a minute)."""
    rate_scale: float = Field(1.0, gt=0.0, le=1.0, examples=[0.1])
    """Share of the profile's rate actually sent, 0–1 (0.1 sends a tenth of national traffic), so
    a generator and server can keep up."""


class DataCentreMode(StrEnum):
    """How traffic uses the data centres."""

    ACTIVE_ACTIVE = "active-active"
    ACTIVE_PASSIVE = "active-passive"


class PoolSpec(StrictModel):
    """A pool of identical servers for one national service in each data centre."""

    servers: int = Field(4, ge=1, le=1_000, examples=[4])
    """Servers per data centre."""
    service_time_ms: float = Field(20.0, gt=0.0, examples=[5])
    """Mean time one server spends on one request, in milliseconds."""


class FailoverSpec(StrictModel):
    """Moving traffic off a failed data centre."""

    detection: Seconds = Field(60.0, examples=["60s"])
    """Time to notice a site failure. Seconds, or a duration such as ``60s``."""
    success_probability: float = Field(0.98, ge=0.0, le=1.0, examples=[0.98])
    """Chance that an automatic failover works first time. A probability, 0–1."""
    manual: Seconds = Field(1800.0, gt=0, examples=["30m"])
    """Time to fail over by hand after the automatic failover did not work. Seconds, or a duration
    such as ``30m``."""
    targets: dict[KebabId, list[KebabId]] = Field(
        default_factory=dict, examples=[{"dc-a": ["dc-b"], "dc-b": ["dc-a"]}]
    )
    """Where each site's traffic goes when it fails (default: every other site)."""


class TopologySpec(StrictModel):
    """The platform the simulation models and the embedded run starts."""

    mode: DataCentreMode = Field(DataCentreMode.ACTIVE_ACTIVE, examples=["active-active"])
    """``active-active`` (every site serves) or ``active-passive`` (a standby takes over)."""
    data_centres: list[KebabId] = Field(
        default_factory=lambda: ["dc-a", "dc-b"], min_length=1, examples=[["dc-a", "dc-b"]]
    )
    """Data-centre names; ``harness run`` starts one server group per name. Example:
    ``[dc-a, dc-b]``."""
    pools: dict[Service, PoolSpec] = Field(
        default_factory=dict, examples=[{"pds": {"servers": 4, "service_time_ms": 5}}]
    )
    """Server pools by service id; services not listed get the defaults of ``PoolSpec``."""
    failover: FailoverSpec = Field(
        FailoverSpec(),
        examples=[{"detection": "60s", "success_probability": 0.98, "manual": "30m"}],
    )
    """How a failed site's traffic moves to the others (detection time, success chance)."""
    load_balancers: LoadBalancerSpec = Field(
        LoadBalancerSpec(), examples=[{"per_site": 2, "switchover": "10s"}]
    )
    """The load balancers in front of each site (a pair that can fail and switch over)."""
    database: DatabaseSpec = Field(
        DatabaseSpec(),
        examples=[{"failover": "90s", "success_probability": 0.95, "manual_recovery": "30m"}],
    )
    """The replicated database: how a primary's failure is detected and a replica promoted."""
    repair_crews: int = Field(2, ge=1, le=1_000, examples=[2])
    """Engineers per site who repair failed servers, one failure each at a time."""

    @field_validator("data_centres")
    @classmethod
    def _unique_sites(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("data centre names must be unique")
        return value


class FailureSpec(StrictModel):
    """A failure process of one kind of component."""

    component: KebabId = Field(examples=["site"])
    """What fails, e.g. ``pds-server``, ``database``, ``site``, ``supplier-gateway``."""
    time_to_failure: Distribution = Field(
        examples=[{"distribution": "exponential", "mean": "26280h"}]
    )
    """Time between failures: ``{distribution: exponential, mean: 300d}`` (seconds)."""
    time_to_repair: Distribution = Field(
        examples=[{"distribution": "lognormal", "median": "4h", "sigma": 0.8}]
    )
    """Time to repair: ``{distribution: lognormal, median: 4h, sigma: 0.8}`` (seconds)."""
    service: Service | None = Field(None, examples=["pds"])
    """Software faults only: the service that fails (default: one at random each time)."""
    supplier: KebabId | None = Field(None, examples=["cegedim"])
    """Supplier gateways only: whose link fails (default: one at random, by organisations)."""
    error_fraction: float = Field(1.0, gt=0.0, le=1.0, examples=[0.5])
    """Software faults and configuration changes: share of requests that fail. A share, 0–1."""


class OpenModelLoad(StrictModel):
    """Arrivals follow the traffic profile whatever the server does (no coordinated omission)."""

    executor: Literal["open-model"] = Field("open-model", examples=["open-model"])
    """Load executor: ``open-model`` plays the traffic profile."""
    max_concurrency: int = Field(256, ge=1, le=100_000, examples=[64])
    """Arrivals in flight at once, per generator process; the rest wait for a free slot, and
    one that waits ``request_timeout`` never leaves and counts as a timeout of its service."""
    request_timeout: Seconds = Field(30.0, gt=0, examples=["10s"])
    """Client timeout of one request, seconds or a duration. Example: ``10s``."""


class ConstantArrivalRate(StrictModel):
    """A fixed Poisson rate, for calibration and regression checks."""

    executor: Literal["constant-arrival-rate"] = Field(examples=["constant-arrival-rate"])
    """Load executor: ``constant-arrival-rate`` sends a fixed Poisson rate in the profile's mix."""
    rate_per_s: float = Field(gt=0, le=100_000, examples=[200])
    """Arrivals per second. Example: ``200``."""
    max_concurrency: int = Field(256, ge=1, le=100_000, examples=[64])
    """Arrivals in flight at once, per generator process; the rest wait for a free slot, and
    one that waits ``request_timeout`` never leaves and counts as a timeout of its service."""
    request_timeout: Seconds = Field(30.0, gt=0, examples=["10s"])
    """Client timeout of one request, seconds or a duration. Example: ``10s``."""


LoadSpec = Annotated[OpenModelLoad | ConstantArrivalRate, Field(discriminator="executor")]


class _FaultBase(StrictModel):
    """When a fault starts: exactly one of ``at`` (wall time) and ``at_time`` (profile time)."""

    at: Seconds | None = Field(None, examples=["60s"])
    """When the fault starts, as wall-clock time from the start of the load, seconds or a
    duration; read by ``harness run`` only (``simulate`` ignores it). Example: ``60s``."""
    at_time: datetime | None = Field(None, examples=["2014-09-08T08:00"])
    """When the fault starts, as an instant of profile time (a time without offset is London
    local time): ``simulate`` places it in its simulated window, ``run`` converts it to wall
    time when it falls inside the load's window. Example: ``2014-09-08T08:00``."""

    @model_validator(mode="after")
    def _one_start(self) -> Self:
        if (self.at is None) == (self.at_time is None):
            raise ValueError("give exactly one of at (wall time) and at_time (profile time)")
        return self

    @property
    def wall_s(self) -> float:
        """``at`` in seconds; only for faults already placed on the load's wall clock."""
        if self.at is None:
            raise ValueError(f"{self.kind_name()} has at_time, not at: convert it first")
        return self.at

    def kind_name(self) -> str:
        """The fault's ``kind``."""
        return str(getattr(self, "kind", type(self).__name__))


class KillWorker(_FaultBase):
    """SIGKILL one server worker process."""

    kind: Literal["kill-worker"] = Field(examples=["kill-worker"])
    """Fault type: ``kill-worker``."""
    worker: int = Field(0, ge=0, examples=[0])
    """Index of the worker process in the first server group. Example: ``0``."""


class PauseWorker(_FaultBase):
    """SIGSTOP one server worker, SIGCONT after ``duration``."""

    kind: Literal["pause-worker"] = Field(examples=["pause-worker"])
    """Fault type: ``pause-worker``."""
    worker: int = Field(0, ge=0, examples=[1])
    """Index of the worker process in the first server group. Example: ``1``."""
    duration: Seconds = Field(gt=0, examples=["30s"])
    """How long the worker stays stopped, seconds or a duration. Example: ``30s``."""


class InjectLatency(_FaultBase):
    """Add latency to one service's responses."""

    kind: Literal["latency"] = Field(examples=["latency"])
    """Fault type: ``latency``."""
    service: Service = Field(examples=["pds"])
    """The service slowed (``pds``, ``eps``, ``scr``, ``sds``, ``mesh``, ``auth``)."""
    latency_ms: float = Field(gt=0, le=600_000, examples=[400])
    """Added to each response, milliseconds. Example: ``400``."""
    duration: Seconds = Field(gt=0, examples=["5m"])
    """How long the latency is added, seconds or a duration. Example: ``5m``."""


class InjectErrors(_FaultBase):
    """Answer a fraction of one service's requests with 500."""

    kind: Literal["errors"] = Field(examples=["errors"])
    """Fault type: ``errors``."""
    service: Service = Field(examples=["eps"])
    """The service that fails (``pds``, ``eps``, ``scr``, ``sds``, ``mesh``, ``auth``)."""
    fraction: float = Field(gt=0, le=1, examples=[0.02])
    """Share of its requests answered with 500 (0-1). Example: ``0.02``."""
    duration: Seconds = Field(gt=0, examples=["5m"])
    """How long the errors last, seconds or a duration. Example: ``5m``."""


class StallStorage(_FaultBase):
    """Block storage writes for a while."""

    kind: Literal["stall-storage"] = Field(examples=["stall-storage"])
    """Fault type: ``stall-storage``."""
    duration: Seconds = Field(gt=0, examples=["30s"])
    """How long writes are blocked, seconds or a duration. Example: ``30s``."""


class Maintenance(_FaultBase):
    """Planned maintenance: 503 with ``Retry-After`` from one service."""

    kind: Literal["maintenance"] = Field(examples=["maintenance"])
    """Fault type: ``maintenance``."""
    service: Service = Field(examples=["scr"])
    """The service under maintenance (``pds``, ``eps``, ``scr``, ``sds``, ``mesh``, ``auth``)."""
    duration: Seconds = Field(gt=0, examples=["5m"])
    """How long the service is under maintenance, seconds or a duration. Example: ``5m``."""


class SupplierOutage(_FaultBase):
    """One clinical-system supplier's organisations cannot reach the Spine."""

    kind: Literal["supplier-outage"] = Field(examples=["supplier-outage"])
    """Fault type: ``supplier-outage``."""
    supplier: KebabId = Field(examples=["cegedim"])
    """The clinical-system supplier whose organisations are cut off. Example: ``cegedim``."""
    duration: Seconds = Field(gt=0, examples=["2h"])
    """How long the supplier is cut off, seconds or a duration. Example: ``2h``."""


class LoseDataCentre(_FaultBase):
    """Every server process of one data centre stops; clients fail over."""

    kind: Literal["lose-data-centre"] = Field(examples=["lose-data-centre"])
    """Fault type: ``lose-data-centre``."""
    data_centre: KebabId = Field(examples=["dc-b"])
    """The data centre lost, one of ``topology.data_centres``. Example: ``dc-b``."""
    duration: Seconds = Field(gt=0, examples=["2h"])
    """How long the data centre is down, seconds or a duration. Example: ``2h``."""


Fault = Annotated[
    KillWorker
    | PauseWorker
    | InjectLatency
    | InjectErrors
    | StallStorage
    | Maintenance
    | SupplierOutage
    | LoseDataCentre,
    Field(discriminator="kind"),
]


class LatencyObjective(StrictModel):
    """A latency SLO overriding the catalogue's for one interaction."""

    threshold: Seconds = Field(gt=0, examples=["300ms"])
    """Latency limit, seconds or a duration. Example: ``300ms``."""
    percentile: float = Field(0.95, gt=0, lt=1, examples=[0.95])
    """The percentile held to it (0-1). Example: ``0.95``."""


class SloSpec(StrictModel):
    """What the run is judged against."""

    availability_target: float = Field(AVAILABILITY_TARGET, gt=0.0, lt=1.0, examples=[0.9997])
    """Share of good requests (load) or of a month (simulate) to meet (0-1). Example: ``0.9997``."""
    confidence: float = Field(0.95, gt=0.5, lt=1.0, examples=[0.95])
    """One-sided confidence for pass/fail verdicts. A probability, 0.5–1."""
    latency: dict[InteractionId, LatencyObjective] = Field(
        default_factory=dict,
        examples=[{"pds.retrieve": {"threshold": "300ms", "percentile": 0.95}}],
    )
    """Latency objectives by interaction id, overriding the catalogue's. Example:
    ``{pds.retrieve: {threshold: 300ms, percentile: 0.95}}``."""


SweepValue = bool | int | float | str


class Scenario(StrictModel):
    """A complete, validated scenario. Load files with ``harness.config.load_scenario``."""

    name: KebabId = Field(examples=["ci-smoke"])
    """Kebab-case name, used in results directory names. Example: ``ci-smoke``."""
    description: str = Field(
        "", examples=["Two minutes of the 2014 Monday 08:00 peak at a tenth of its rate."]
    )
    """What the scenario asks, in a sentence or two."""
    seed: int = Field(0, ge=0, examples=[7])
    """Root of every random stream; the same seed reproduces a run exactly."""
    organisations: OrganisationsSpec = Field(OrganisationsSpec(), examples=[{"count": 200}])
    """The directory of organisations. Read by load, run and simulate."""
    traffic: TrafficSpec = Field(
        TrafficSpec(),
        examples=[
            {"scale": "2014", "start": "2014-09-01T08:00", "duration": "2m", "rate_scale": 0.1}
        ],
    )
    """The traffic window: profile scale, start, duration, time and rate scales. Read by load
    and run (the window they play) and simulate (scale and winter pressure)."""
    topology: TopologySpec = Field(
        TopologySpec(),
        examples=[
            {
                "mode": "active-active",
                "data_centres": ["dc-a", "dc-b"],
                "pools": {"pds": {"servers": 4, "service_time_ms": 5}},
            }
        ],
    )
    """Sites, server pools, failover, load balancers and database. Read by simulate and run
    (one server group per data centre)."""
    failures: list[FailureSpec] = Field(
        default_factory=list,
        examples=[
            [
                {
                    "component": "site",
                    "time_to_failure": {"distribution": "exponential", "mean": "26280h"},
                    "time_to_repair": {"distribution": "lognormal", "median": "4h", "sigma": 0.8},
                }
            ]
        ],
    )
    """Random failure processes of components. Read by simulate (and run --months)."""
    load: LoadSpec = Field(
        OpenModelLoad(),
        examples=[{"executor": "open-model", "max_concurrency": 64, "request_timeout": "10s"}],
    )
    """How load is generated (executor, concurrency, timeout). Read by load and run."""
    faults: list[Fault] = Field(
        default_factory=list, examples=[[{"kind": "kill-worker", "at": "60s", "worker": 0}]]
    )
    """Scripted faults. Read by run (``at``, and ``at_time`` inside the load's window) and
    simulate (``at_time`` inside the simulated window, on top of the random failures); load
    ignores them. Each command names the faults it ignores."""
    slo: SloSpec = Field(SloSpec(), examples=[{"availability_target": 0.9997}])
    """The objectives every command judges against. Read by load, run, report and simulate."""
    releases: ReleaseSpec | None = Field(
        None, examples=[{"interval": "14d", "first": "1d20h", "regression_probability": 0.05}]
    )
    """Software releases with regressions. Read by simulate (none by default)."""
    maintenance: list[MaintenanceWindow] = Field(
        default_factory=list,
        examples=[[{"kind": "rolling-patch", "first": "6d2h", "every": "7d", "per_server": "10m"}]],
    )
    """Planned maintenance windows. Read by simulate."""
    migration: MigrationSpec | None = Field(
        None, examples=[{"plan": "phased", "start": "5d22h", "wave_interval": "7d"}]
    )
    """A migration during the simulated window. Read by simulate."""
    simulation: SimulationSpec = Field(
        SimulationSpec(),
        examples=[{"duration": "30d", "excluded_causes": ["org-connectivity", "supplier"]}],
    )
    """The simulated month and how simulate judges it. Read by simulate (and run --months)."""
    sweep: dict[str, list[SweepValue]] = Field(
        default_factory=dict, examples=[{"topology.pools.pds.servers": [8, 10, 12]}]
    )
    """A grid of dotted keys to lists of values, e.g. ``topology.pools.pds.servers: [4, 6]``.
    Read by simulate."""
    calibration: str | None = Field(None, examples=["calibration/reference-server.yaml"])
    """A calibration file (``harness calibrate``), relative to the scenario file: the measured
    costs of the reference server that ``harness run`` predicts with. Read by run."""


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (for editors and ``harness scenarios schema``)."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "harness scenario"
    return schema
