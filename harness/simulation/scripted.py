"""Scripted faults in the simulated window: "what if we lose dc-b for 2 h on Monday at 08:00?"

A scenario's ``faults`` with an ``at_time`` inside the simulated window
(:func:`harness.config.placement.simulate_placement`) are applied in every simulated month on
top of the random failures, through the same channels the random events use, so that they
are blamed on the cause an operator would give them:

========================  ================================================================
``lose-data-centre``      the site's path goes down (``site``): its traffic fails until the
                          failover moves it (detection, and the manual failover when the
                          automatic one does not work), then loads the other sites
``supplier-outage``       the supplier's organisations are cut off (``supplier``); they flush
                          part of what they held when they reconnect
``errors``                that share of the service's requests fails (``software``)
``latency``               the service's requests whose latency objective the added latency
                          exceeds are bad (``software``); all of them at the client timeout
``stall-storage``         every site's database stops answering (``database``)
``maintenance``           the service is down on purpose (``maintenance``), like a
                          ``service-downtime`` window
``kill-worker``           one server of every pool of the first site is out until the
                          supervisor's replacement has started (``hardware``)
``pause-worker``          the same, for the pause
========================  ================================================================

A reference-server worker serves every service, so losing one is modelled as losing one
server of each pool.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from harness.config.calibration import DEFAULT_RESTART_S
from harness.config.placement import Placed, simulate_placement
from harness.config.scenario import (
    InjectErrors,
    InjectLatency,
    KillWorker,
    LoseDataCentre,
    Maintenance,
    PauseWorker,
    StallStorage,
    SupplierOutage,
)
from harness.simulation.components import Process, Router
from harness.simulation.layout import SERVICES, Layout
from harness.simulation.timeline import Group, Timeline

WORKER_RESTART_S = DEFAULT_RESTART_S  # a killed worker's replacement starts in this long


def latency_share(layout: Layout, service: int, latency_s: float) -> float:
    """Share of a service's requests made bad by ``latency_s`` more on each response."""
    if latency_s >= layout.scenario.simulation.timeout:
        return 1.0
    budgets = layout.traffic.slow_budget_s[service]
    weights = layout.traffic.slow_weight[service]
    total = float(weights.sum())
    return float(weights[budgets <= latency_s].sum()) / total if total > 0 else 0.0


def _hold(
    env: simpy.Environment,
    at_s: float,
    duration_s: float,
    begin: Callable[[], None],
    end: Callable[[], None],
) -> Process:
    yield env.timeout(max(at_s - env.now, 0.0))
    begin()
    yield env.timeout(duration_s)
    end()


def start_scripted(
    env: simpy.Environment,
    layout: Layout,
    timeline: Timeline,
    router: Router,
    channels: dict[str, Group],
    offset_s: float,
) -> int:
    """Start a process for every fault ``simulate`` applies; how many were started.

    Args:
        env: the replication's environment.
        layout: the scenario's layout.
        timeline: where the effects are recorded.
        router: the sites' routing (for ``lose-data-centre``).
        channels: the channel groups by name (``software``, ``database``, ``downtime``,
            ``supplier``, ``hardware_out``).
        offset_s: simulation time at which the window opens (after the warm-up).
    """
    placement = simulate_placement(layout.scenario)
    for placed in placement.placed:
        at_s = offset_s + placed.offset_s
        begin, end, duration_s = _effect(layout, timeline, router, channels, placed, env)
        env.process(_hold(env, at_s, duration_s, begin, end))
    return len(placement.placed)


def _bump(
    env: simpy.Environment, timeline: Timeline, cells: list[int], value: float
) -> tuple[Callable[[], None], Callable[[], None]]:
    def begin() -> None:
        for channel in cells:
            timeline.add(env.now, channel, value)

    def end() -> None:
        for channel in cells:
            timeline.add(env.now, channel, -value)

    return begin, end


def _service(name: str) -> int:
    return [str(s) for s in SERVICES].index(str(name))


def _effect(
    layout: Layout,
    timeline: Timeline,
    router: Router,
    ch: dict[str, Group],
    placed: Placed,
    env: simpy.Environment,
) -> tuple[Callable[[], None], Callable[[], None], float]:
    """What a fault does when it starts and ends, and how long it lasts."""
    fault, duration_s = placed.fault, placed.duration_s
    if isinstance(fault, LoseDataCentre):
        site = layout.sites.index(fault.data_centre)
        return (lambda: router.path_down(site)), (lambda: router.path_up(site)), duration_s
    if isinstance(fault, SupplierOutage):
        who = list(layout.cohorts.suppliers).index(fault.supplier)
        return (*_bump(env, timeline, [ch["supplier"].index(who)], 1.0), duration_s)
    if isinstance(fault, InjectErrors):
        cell = [ch["software"].index(_service(fault.service))]
        return (*_bump(env, timeline, cell, fault.fraction), duration_s)
    if isinstance(fault, InjectLatency):
        v = _service(fault.service)
        share = latency_share(layout, v, fault.latency_ms / 1000.0)
        return (*_bump(env, timeline, [ch["software"].index(v)], share), duration_s)
    if isinstance(fault, StallStorage):
        cells = [ch["database"].index(s) for s in range(layout.n_sites)]
        return (*_bump(env, timeline, cells, 1.0), duration_s)
    if isinstance(fault, Maintenance):
        cell = [ch["downtime"].index(_service(fault.service))]
        return (*_bump(env, timeline, cell, 1.0), duration_s)
    if isinstance(fault, KillWorker | PauseWorker):
        out = ch["hardware_out"]
        cells = [out.index(0, v) for v in range(len(SERVICES)) if layout.servers[v] > 0]
        lasts = WORKER_RESTART_S if isinstance(fault, KillWorker) else duration_s
        return (*_bump(env, timeline, cells, 1.0), lasts)
    raise TypeError(f"no simulation of fault {fault.kind_name()!r}")  # pragma: no cover


def unknown_suppliers(layout: Layout) -> list[str]:
    """Suppliers named by applied ``supplier-outage`` faults that no organisation uses."""
    known = set(layout.cohorts.suppliers)
    return [
        p.fault.supplier
        for p in simulate_placement(layout.scenario).placed
        if isinstance(p.fault, SupplierOutage) and p.fault.supplier not in known
    ]
