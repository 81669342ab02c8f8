"""The static shape of a simulated platform: sites, pools, cohorts and traffic matrices.

Everything here is computed once per scenario and shared, read-only, by every replication:
the data centres and their server pools; the *cohorts* — groups of organisations that share
fate because they have the same type, clinical-system supplier, home data centre and
migration wave, so that one supplier outage or one migration wave hits exactly one set of
cohorts; and the traffic, taken from :class:`harness.spine.TrafficProfile` (the same numbers
the load driver plays) as expected messages per minute per organisation type and service.

A replication then only adds what is random: the outage timeline and the Poisson draws.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from harness.config.availability import Component, MigrationPlan
from harness.config.scenario import DataCentreMode, FailureSpec, PoolSpec, Scenario
from harness.spine import Directory, OrgType, Service, TrafficProfile, parse_scale
from harness.spine.calendar import to_epoch_s
from harness.spine.traffic import minute_midpoints

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
MINUTE_S = 60.0  # seconds per slice
SERVICES: tuple[Service, ...] = tuple(Service)
ORG_TYPES: tuple[OrgType, ...] = tuple(OrgType)


@dataclass(frozen=True)
class Cohorts:
    """Organisations grouped by shared fate (type × supplier × home site × wave).

    Attributes:
        org_type: type index (into ``ORG_TYPES``) of each cohort.
        supplier: supplier index of each cohort.
        site: home (origin) site index of each cohort's traffic.
        wave: migration wave index of each cohort, -1 when it does not move.
        size: organisations in each cohort.
        share: each cohort's share of its type's traffic.
        of_org: the cohort of every organisation, in directory order.
        suppliers: supplier names, by index.
    """

    org_type: IntArray
    supplier: IntArray
    site: IntArray
    wave: IntArray
    size: IntArray
    share: FloatArray
    of_org: IntArray
    suppliers: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.size)


@dataclass(frozen=True)
class Traffic:
    """Expected messages per minute over the simulated window, from the shared profile.

    Attributes:
        per_type: expected messages per minute, ``(minutes, types, services)``.
        slow_budget_s: waiting budgets per service (latency objective minus service time),
            ``(services, thresholds)``.
        slow_weight: share of each service's messages under each budget, same shape.
        minutes: number of minutes in the window.
    """

    per_type: FloatArray
    slow_budget_s: FloatArray
    slow_weight: FloatArray
    minutes: int


@dataclass(frozen=True)
class Layout:
    """Everything about a scenario that does not change between replications."""

    scenario: Scenario
    sites: tuple[str, ...]
    servers: IntArray  # per service, per site
    service_time_s: FloatArray  # per service
    failover_targets: tuple[tuple[int, ...], ...]
    cohorts: Cohorts
    org_type: IntArray  # type index of every organisation
    org_wave: IntArray  # migration wave of every organisation (-1: none)
    org_codes: tuple[str, ...]
    type_counts: IntArray
    wave_times_s: FloatArray  # cut-over offset of each migration wave
    failures: dict[str, tuple[FailureSpec, ...]]
    traffic: Traffic
    horizon_s: float

    @property
    def n_sites(self) -> int:
        """Number of data centres."""
        return len(self.sites)

    def pool(self, service: Service) -> PoolSpec:
        """The pool of a service (defaults when the scenario does not list it)."""
        return self.scenario.topology.pools.get(service, PoolSpec())

    def failure(self, component: str) -> tuple[FailureSpec, ...]:
        """The failure processes declared for a component."""
        return self.failures.get(component, ())


def _waves(scenario: Scenario, directory: Directory) -> tuple[IntArray, FloatArray]:
    """Migration wave of each organisation (-1: none) and each wave's cut-over time."""
    n = len(directory)
    migration = scenario.migration
    if migration is None:
        return np.full(n, -1, dtype=np.int64), np.empty(0)
    if migration.plan is MigrationPlan.BIG_BANG:
        return np.zeros(n, dtype=np.int64), np.array([migration.start])
    if migration.waves:
        by_type = {t: w for w, wave in enumerate(migration.waves) for t in wave.org_types}
        waves = np.array([by_type.get(str(o.org_type), -1) for o in directory], dtype=np.int64)
        return waves, np.array([w.at for w in migration.waves], dtype=np.float64)
    waves = np.array([o.migration_wave for o in directory], dtype=np.int64)
    count = int(waves.max()) + 1
    times = migration.start + migration.wave_interval * np.arange(count, dtype=np.float64)
    waves = np.where(times[waves] < scenario.simulation.duration, waves, -1)
    return waves, times


def build_cohorts(scenario: Scenario, directory: Directory) -> tuple[Cohorts, IntArray]:
    """Group the directory into cohorts; also return each organisation's migration wave."""
    frame = directory.to_frame()
    sites = list(scenario.topology.data_centres)
    waves, _ = _waves(scenario, directory)
    type_index = {str(t): i for i, t in enumerate(ORG_TYPES)}
    suppliers = tuple(sorted(frame["supplier"].unique()))
    supplier_index = {s: i for i, s in enumerate(suppliers)}
    home = frame["data_centre"].map(lambda dc: sites.index(dc) if dc in sites else -1)
    if scenario.topology.mode is DataCentreMode.ACTIVE_PASSIVE:
        home = pd.Series(np.zeros(len(frame), dtype=np.int64))
    else:
        # Directory sites the topology lacks are spread over the sites it has.
        spread = np.arange(len(frame)) % len(sites)
        home = pd.Series(np.where(home.to_numpy() >= 0, home.to_numpy(), spread))
    keys = pd.DataFrame(
        {
            "type": frame["org_type"].map(type_index).to_numpy(),
            "supplier": frame["supplier"].map(supplier_index).to_numpy(),
            "site": home.to_numpy(),
            "dir_wave": frame["migration_wave"].to_numpy(),
            "wave": waves,
        }
    )
    codes = keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy(np.int64)
    table = keys.assign(code=codes).drop_duplicates("code").sort_values("code")
    size = np.bincount(codes, minlength=len(table)).astype(np.int64)
    type_total = np.bincount(table["type"].to_numpy(), weights=size, minlength=len(ORG_TYPES))
    share = size / type_total[table["type"].to_numpy()]
    cohorts = Cohorts(
        org_type=table["type"].to_numpy(np.int64),
        supplier=table["supplier"].to_numpy(np.int64),
        site=table["site"].to_numpy(np.int64),
        wave=table["wave"].to_numpy(np.int64),
        size=size,
        share=share,
        of_org=np.asarray(codes, dtype=np.int64),
        suppliers=suppliers,
    )
    return cohorts, waves


def build_traffic(scenario: Scenario, service_time_s: FloatArray) -> Traffic:
    """Expected messages per minute per organisation type and service over the window.

    A request is slow when it waits longer than its interaction's latency objective (the
    scenario's ``slo.latency`` override, else the catalogue's) less the service time.
    """
    profile = TrafficProfile(
        scale=parse_scale(scenario.traffic.scale),
        winter_pressure=scenario.traffic.winter_pressure,
    )
    start_s = to_epoch_s(pd.Timestamp(scenario.simulation.start))
    t = minute_midpoints(start_s, start_s + scenario.simulation.duration)
    rates = profile.rates(t) * MINUTE_S
    per_type = np.zeros((len(t), len(ORG_TYPES), len(SERVICES)))
    weights: dict[Service, dict[float, float]] = {s: defaultdict(float) for s in SERVICES}
    for k, stream in enumerate(profile.streams):
        ti, vi = ORG_TYPES.index(stream.org_type), SERVICES.index(stream.service)
        per_type[:, ti, vi] += rates[:, k]
        override = scenario.slo.latency.get(stream.interaction.id)
        slo_s = stream.interaction.latency_slo_s if override is None else override.threshold
        weights[stream.service][slo_s] += stream.share
    width = max(len(w) for w in weights.values())
    budget = np.zeros((len(SERVICES), width))
    weight = np.zeros((len(SERVICES), width))
    for vi, service in enumerate(SERVICES):
        found = sorted(weights[service].items())
        total = sum(w for _, w in found) or 1.0
        for j, (slo_s, w) in enumerate(found):
            budget[vi, j] = max(slo_s - service_time_s[vi], 0.0)
            weight[vi, j] = w / total
        if not found:
            budget[vi, 0], weight[vi, 0] = 1.0, 1.0
    return Traffic(per_type, budget, weight, len(t))


def build_layout(scenario: Scenario, directory: Directory) -> Layout:
    """Derive the static layout of ``scenario`` over ``directory``."""
    topology = scenario.topology
    sites = tuple(topology.data_centres)
    pools = [topology.pools.get(s, PoolSpec()) for s in SERVICES]
    service_time_s = np.array([p.service_time_ms / 1000.0 for p in pools])
    targets = []
    for i, site in enumerate(sites):
        named = topology.failover.targets.get(site)
        chosen = [sites.index(t) for t in named] if named else list(range(len(sites)))
        targets.append(tuple(j for j in chosen if j != i))
    cohorts, org_wave = build_cohorts(scenario, directory)
    _, wave_times = _waves(scenario, directory)
    failures: dict[str, list[FailureSpec]] = defaultdict(list)
    for spec in scenario.failures:
        name = spec.component
        if name == Component.SOFTWARE_FAULT:
            name = Component.SOFTWARE_RELEASE
        failures[name].append(spec)
    org_type = np.array([ORG_TYPES.index(o.org_type) for o in directory], dtype=np.int64)
    return Layout(
        scenario=scenario,
        sites=sites,
        servers=np.array([p.servers for p in pools], dtype=np.int64),
        service_time_s=service_time_s,
        failover_targets=tuple(targets),
        cohorts=cohorts,
        org_type=org_type,
        org_wave=org_wave,
        org_codes=tuple(o.ods_code for o in directory),
        type_counts=np.bincount(org_type, minlength=len(ORG_TYPES)).astype(np.int64),
        wave_times_s=wave_times,
        failures={k: tuple(v) for k, v in failures.items()},
        traffic=build_traffic(scenario, service_time_s),
        horizon_s=scenario.simulation.duration,
    )
