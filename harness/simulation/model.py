"""The infrastructure model of one replication: build the SimPy processes, run, record.

``run_infrastructure(layout, rng)`` is the SimPy half of the hybrid method. It creates one
environment, registers the channels the traffic layer will read (servers out per pool, site
routing, database outages, service error shares, supplier and migration blocks), starts a
process for every failing component, planned window and organisation with an event, runs a
warm-up, and returns the recorded timeline. Each component starts in its stationary state
(:mod:`~harness.simulation.distributions`); the warm-up, far longer than any repair, lets what
couples them settle too — repairs queued for a crew, database promotions, failovers. A month
is a few hundred SimPy events: traffic never enters the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import simpy

from harness.config.availability import Cause, Component, RollingPatch, ServiceDowntime
from harness.config.scenario import FailureSpec
from harness.simulation.components import DatabaseCluster, LoadBalancers, Router, renewal
from harness.simulation.importance import Bias
from harness.simulation.layout import SERVICES, Layout
from harness.simulation.organisations import OrgOutages, start_organisations
from harness.simulation.planned import (
    migration_waves,
    releases,
    rolling_patch,
    service_downtime,
    service_fault,
    site_drain,
    supplier_outages,
)
from harness.simulation.scripted import start_scripted
from harness.simulation.timeline import Group, Timeline

WARMUP_S = 30 * 86_400.0  # failure processes run a month before the window opens
Callback = Callable[[], None]


@dataclass(frozen=True)
class Channels:
    """The channel groups of one replication's timeline."""

    hardware_out: Group  # (sites, services): servers failed or under repair
    maintenance_out: Group  # (sites, services): servers out for patching
    route_fail: Group  # (sites,): share of a site's own traffic failing
    shift: Group  # (sites, sites): share of a site's traffic moved by failover
    drain: Group  # (sites, sites): share moved by a planned drain
    database: Group  # (sites,): share of requests failing at the site's database
    software: Group  # (services,): share failing for software faults and regressions
    config: Group  # (services,): share failing for a bad configuration change
    downtime: Group  # (services,): share failing for planned service downtime
    supplier: Group  # (suppliers,): supplier cut off
    wave_block: Group  # (waves,): cut-over downtime of a migration wave
    wave_error: Group  # (waves,): share failing while a wave goes wrong


def register_channels(timeline: Timeline, layout: Layout) -> Channels:
    """Register every channel group of ``layout`` on ``timeline``."""
    s, v = layout.n_sites, len(SERVICES)
    waves = max(len(layout.wave_times_s), 1)
    return Channels(
        hardware_out=timeline.group("hardware_out", (s, v), 0.0, Cause.HARDWARE),
        maintenance_out=timeline.group("maintenance_out", (s, v), 0.0, Cause.MAINTENANCE),
        route_fail=timeline.group("route_fail", (s,), 0.0, Cause.SITE),
        shift=timeline.group("shift", (s, s), 0.0, Cause.SITE),
        drain=timeline.group("drain", (s, s), 0.0, Cause.MAINTENANCE),
        database=timeline.group("database", (s,), 0.0, Cause.DATABASE),
        software=timeline.group("software", (v,), 0.0, Cause.SOFTWARE),
        config=timeline.group("config", (v,), 0.0, Cause.CONFIG),
        downtime=timeline.group("downtime", (v,), 0.0, Cause.MAINTENANCE),
        supplier=timeline.group("supplier", (len(layout.cohorts.suppliers),), 0.0, Cause.SUPPLIER),
        wave_block=timeline.group("wave_block", (waves,), 0.0, Cause.MIGRATION),
        wave_error=timeline.group("wave_error", (waves,), 0.0, Cause.MIGRATION),
    )


def _bump(env: simpy.Environment, timeline: Timeline, channel: int, delta: float) -> Callback:
    """A callback that changes a channel by ``delta`` now."""

    def bump() -> None:
        timeline.add(env.now, channel, delta)

    return bump


@dataclass(frozen=True)
class Infrastructure:
    """What the SimPy half of a replication produced."""

    timeline: Timeline
    channels: Channels
    org_outages: OrgOutages
    events: int  # SimPy events processed
    log_weight: float = 0.0  # importance-sampling log-likelihood ratio (0 for plain runs)


def _start_renewal(
    env: simpy.Environment,
    spec: FailureSpec,
    rng: np.random.Generator,
    bias: Bias,
    on_fail: Callable[[], None],
    on_repair: Callable[[], None],
    crew: simpy.Resource | None = None,
) -> None:
    """Start one fail/repair cycle of a component, its failure times biased when sampling."""
    sampler = bias.sampler(spec.component, spec.time_to_failure)
    env.process(
        renewal(
            env, spec.time_to_failure, spec.time_to_repair, rng, on_fail, on_repair, crew, sampler
        )
    )


def _servers(
    env: simpy.Environment,
    layout: Layout,
    ch: Channels,
    rng: np.random.Generator,
    timeline: Timeline,
    bias: Bias,
) -> None:
    crews = [simpy.Resource(env, layout.scenario.topology.repair_crews) for _ in layout.sites]
    for v, service in enumerate(SERVICES):
        specs = layout.failure(f"{service}-server") or layout.failure(Component.SERVER)
        for spec in specs:
            for site in range(layout.n_sites):
                channel = ch.hardware_out.index(site, v)
                for _ in range(int(layout.servers[v])):
                    _start_renewal(
                        env,
                        spec,
                        rng,
                        bias,
                        _bump(env, timeline, channel, 1.0),
                        _bump(env, timeline, channel, -1.0),
                        crew=crews[site],
                    )


def _sites(
    env: simpy.Environment, layout: Layout, router: Router, rng: np.random.Generator, bias: Bias
) -> None:
    topology = layout.scenario.topology
    for site in range(layout.n_sites):
        for component in (Component.SITE, Component.NETWORK):
            for spec in layout.failure(component):
                _start_renewal(
                    env,
                    spec,
                    rng,
                    bias,
                    partial(router.path_down, site),
                    partial(router.path_up, site),
                )
        for spec in layout.failure(Component.LOAD_BALANCER):
            pair = LoadBalancers(
                router, site, topology.load_balancers.per_site, topology.load_balancers.switchover
            )
            for unit in range(topology.load_balancers.per_site):
                _start_renewal(
                    env, spec, rng, bias, partial(pair.failed, unit), partial(pair.repaired, unit)
                )


def _databases(
    env: simpy.Environment,
    layout: Layout,
    ch: Channels,
    timeline: Timeline,
    rng: np.random.Generator,
    bias: Bias,
) -> None:
    spec_db = layout.scenario.topology.database
    for spec in layout.failure(Component.DATABASE):
        for site in range(layout.n_sites):
            cluster = DatabaseCluster(
                env,
                timeline,
                ch.database.index(site),
                spec_db.nodes,
                spec_db.failover,
                spec_db.success_probability,
                spec_db.manual_recovery,
                rng,
            )
            for node in range(spec_db.nodes):
                _start_renewal(
                    env,
                    spec,
                    rng,
                    bias,
                    partial(cluster.node_failed, node),
                    partial(cluster.node_repaired, node),
                )


def _planned(
    env: simpy.Environment,
    layout: Layout,
    ch: Channels,
    timeline: Timeline,
    router: Router,
    rng: np.random.Generator,
) -> None:
    scenario = layout.scenario
    window = {"offset_s": WARMUP_S, "horizon_s": layout.horizon_s}
    for spec in layout.failure(Component.SOFTWARE_RELEASE):
        env.process(service_fault(env, spec, ch.software, timeline, rng, every_service=False))
    for spec in layout.failure(Component.CONFIG_CHANGE):
        env.process(service_fault(env, spec, ch.config, timeline, rng, every_service=True))
    if scenario.releases is not None:
        env.process(releases(env, scenario.releases, ch.software, timeline, rng, **window))
    for item in scenario.maintenance:
        if isinstance(item, RollingPatch):
            servers = [int(n) for n in layout.servers]
            env.process(rolling_patch(env, item, ch.maintenance_out, servers, timeline, **window))
        elif isinstance(item, ServiceDowntime):
            env.process(service_downtime(env, item, ch.downtime, timeline, **window))
        else:
            site = layout.sites.index(item.data_centre)
            env.process(site_drain(env, item, site, router, **window))
    cohorts = layout.cohorts
    weights = np.bincount(cohorts.supplier, weights=cohorts.size, minlength=len(cohorts.suppliers))
    for spec in layout.failure(Component.SUPPLIER_GATEWAY):
        env.process(
            supplier_outages(
                env, spec, ch.supplier, cohorts.suppliers, weights / weights.sum(), timeline, rng
            )
        )
    if scenario.migration is not None and len(layout.wave_times_s):
        env.process(
            migration_waves(
                env,
                scenario.migration,
                list(layout.wave_times_s),
                ch.wave_block,
                ch.wave_error,
                timeline,
                rng,
                offset_s=WARMUP_S,
            )
        )


def run_infrastructure(layout: Layout, rng: np.random.Generator) -> Infrastructure:
    """Run the SimPy model of one replication and return its recorded timeline."""
    env = simpy.Environment()
    timeline = Timeline(horizon_s=layout.horizon_s, offset_s=WARMUP_S)
    ch = register_channels(timeline, layout)
    failover = layout.scenario.topology.failover
    router = Router(
        env,
        timeline,
        ch.route_fail,
        ch.shift,
        ch.drain,
        layout.failover_targets,
        failover.detection,
        failover.success_probability,
        failover.manual,
        rng,
    )
    bias = Bias(layout.scenario.simulation.importance, WARMUP_S, rng)
    _servers(env, layout, ch, rng, timeline, bias)
    _sites(env, layout, router, rng, bias)
    _databases(env, layout, ch, timeline, rng, bias)
    _planned(env, layout, ch, timeline, router, rng)
    scripted = {
        "software": ch.software,
        "database": ch.database,
        "downtime": ch.downtime,
        "supplier": ch.supplier,
        "hardware_out": ch.hardware_out,
    }
    start_scripted(env, layout, timeline, router, scripted, WARMUP_S)
    org_outages = start_organisations(
        env,
        links=layout.failure(Component.ORG_CONNECTIVITY),
        migration=layout.scenario.migration,
        org_wave=layout.org_wave,
        wave_times_s=layout.wave_times_s,
        horizon_s=layout.horizon_s,
        offset_s=WARMUP_S,
        rng=rng,
    )
    end_s = WARMUP_S + layout.horizon_s
    env.run(until=end_s)
    return Infrastructure(timeline, ch, org_outages, _event_count(env), bias.log_weight(end_s))


def _event_count(env: simpy.Environment) -> int:
    # SimPy numbers its events with an internal counter; its next value is the count so far.
    counter = getattr(env, "_eid", None)
    return int(next(counter)) if counter is not None else -1
