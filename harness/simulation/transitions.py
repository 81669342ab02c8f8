"""Minutes in which a pool changes part-way through: split them, queue each part.

The traffic layer works minute by minute on time-weighted means, which is exact for whole
minutes but not for a minute in which something changes: a server lost at 08:00:30, a site's
traffic moved onto its twin after a failover detected at 08:01:12. At a peak, the part of the
minute after the change can be overloaded while the minute's mean looks fine, and averaging
would miss every slow request of it. This module finds those minutes from the outage timeline
(the instant of the first change inside each), and queues them as two slices with their own
servers and arrivals, carrying the fluid backlog through the split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harness.simulation.layout import SERVICES, Layout
from harness.simulation.model import Channels, Infrastructure
from harness.simulation.prepared import Prepared
from harness.simulation.queueing import MINUTE_S, split_shares, split_walk
from harness.simulation.timeline import Group, Timeline

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Transitions:
    """Pools whose server count changed inside a minute, split into two slices.

    A minute in which a server is lost 30 s in has 7.5 servers *on average*, but at a peak
    the second half may be overloaded with 7 while the first half was fine with 8; averaging
    would hide it (and the same for traffic moved in by a failover). Such minutes are queued
    as two slices: ``first`` of the minute at ``servers_start`` receiving ``early`` of the
    minute's arrivals, the rest at ``servers_end``.
    """

    minute: IntArray
    site: IntArray
    service: IntArray
    servers_start: FloatArray
    servers_end: FloatArray
    first: FloatArray
    early: FloatArray  # share of the minute's arrivals before the change


def phased_backlog(
    layout: Layout,
    served: FloatArray,
    servers: FloatArray,
    backlog: FloatArray,
    transitions: Transitions | None,
) -> FloatArray | None:
    """Redo the backlog of pools with transitions, slicing those minutes in two (in place).

    Returns:
        The backlog at the split instant of each transition, or None without transitions.
    """
    if transitions is None or len(transitions.minute) == 0:
        return None
    middle = np.zeros(len(transitions.minute))
    pools = transitions.site * len(SERVICES) + transitions.service
    for pool in np.unique(pools):
        s, v = divmod(int(pool), len(SERVICES))
        mine = np.flatnonzero(pools == pool)
        order = mine[np.argsort(transitions.minute[mine])]
        backlog[:, s, v], middle[order] = split_walk(
            served[:, s, v],
            servers[:, s, v],
            float(layout.service_time_s[v]),
            layout.scenario.simulation.timeout,
            transitions.minute[order],
            transitions.first[order],
            transitions.servers_start[order],
            transitions.servers_end[order],
            transitions.early[order],
        )
    return middle


def phased_shares(
    layout: Layout,
    rows: IntArray,
    served: FloatArray,
    backlog: FloatArray,
    transitions: Transitions,
    middle: FloatArray,
    timed: FloatArray,
    slow: FloatArray,
) -> None:
    """Shares of split minutes (in place in ``timed`` and ``slow``), a service at a time."""
    position = np.searchsorted(rows, transitions.minute)
    clipped = np.minimum(position, len(rows) - 1)
    found = (position < len(rows)) & (rows[clipped] == transitions.minute)
    for v in np.unique(transitions.service[found]):
        k = np.flatnonzero(found & (transitions.service == v))
        m, s = transitions.minute[k], transitions.site[k]
        t, w = split_shares(
            served[m, s, v],
            transitions.first[k],
            transitions.early[k],
            transitions.servers_start[k],
            transitions.servers_end[k],
            backlog[m, s, v],
            middle[k],
            float(layout.service_time_s[v]),
            layout.traffic.slow_budget_s[v],
            layout.traffic.slow_weight[v],
            layout.scenario.simulation.timeout,
        )
        timed[position[k], s, v] = t
        slow[position[k], s, v] = w


def _events_inside_minutes(
    infra: Infrastructure, groups: tuple[Group, ...], minutes: int
) -> tuple[FloatArray, IntArray]:
    """Instants (inside a minute, within the window) at which channels of ``groups`` change."""
    channel, start, end, _ = infra.timeline.intervals()
    times, owners = [], []
    for group in groups:
        size = int(np.prod(group.shape))
        pick = (channel >= group.base) & (channel < group.base + size)
        for t in (start[pick], end[pick]):
            inner = (t % MINUTE_S != 0.0) & (t < minutes * MINUTE_S)
            times.append(t[inner])
            owners.append(channel[pick][inner] - group.base)
    return np.concatenate(times), np.concatenate(owners).astype(np.int64)


def minute_transitions(prepared: Prepared, infra: Infrastructure) -> Transitions | None:
    """Pools whose servers or arrival rate changed inside a minute, and how.

    A server lost, a site failed over or drained at 08:00:30 changes a pool's capacity or
    arrivals half-way through a minute; at a peak, the second half may overload while the
    minute's average looks fine. Each such minute is split at the first change inside it.
    """
    layout = prepared.layout
    ch = infra.channels
    sites, services = layout.n_sites, len(SERVICES)
    first_change: dict[tuple[int, int, int], float] = {}
    t_cap, pool = _events_inside_minutes(
        infra, (ch.hardware_out, ch.maintenance_out), prepared.minutes
    )
    for t, p in zip(t_cap.tolist(), pool.tolist(), strict=True):
        s, v = divmod(p, services)
        key = (int(t // MINUTE_S), s, v)
        first_change[key] = min(first_change.get(key, t), t)
    t_route, _ = _events_inside_minutes(
        infra, (ch.route_fail, ch.shift, ch.drain), prepared.minutes
    )
    for t in t_route.tolist():
        for s in range(sites):
            for v in range(services):
                key = (int(t // MINUTE_S), s, v)
                first_change[key] = min(first_change.get(key, t), t)
    if not first_change:
        return None
    keys = sorted(first_change)
    minute, site, service = (np.array(x, dtype=np.int64) for x in zip(*keys, strict=True))
    when = np.array([first_change[k] for k in keys])
    n = len(keys)
    timeline = infra.timeline
    edges = np.r_[minute * MINUTE_S, (minute + 1) * MINUTE_S - 1e-6]
    out = timeline.values_at(ch.hardware_out, edges) + timeline.values_at(ch.maintenance_out, edges)
    servers = layout.servers[service].astype(np.float64)
    rows = np.arange(n)
    begin = np.maximum(servers - out[:n][rows, site, service], 0.0)
    finish = np.maximum(servers - out[n:][rows, site, service], 0.0)
    route = _routing_at(timeline, ch, edges, sites)
    origin = prepared.origin[minute]  # (n, sites, services): rate steady within a minute
    rate0 = np.einsum("nst,nsv->ntv", route[:n], origin)[rows, site, service]
    rate1 = np.einsum("nst,nsv->ntv", route[n:], origin)[rows, site, service]
    first = when / MINUTE_S - minute
    before = rate0 * first
    early = np.divide(
        before,
        before + rate1 * (1.0 - first),
        out=first.copy(),
        where=before + rate1 * (1.0 - first) > 0,
    )
    keep = np.flatnonzero((begin != finish) | (rate0 != rate1))
    return Transitions(
        minute[keep],
        site[keep],
        service[keep],
        begin[keep],
        finish[keep],
        first[keep],
        early[keep],
    )


def _routing_at(timeline: Timeline, ch: Channels, times: FloatArray, sites: int) -> FloatArray:
    """Share of each home site's traffic served by each site at given instants."""
    moved = timeline.values_at(ch.shift, times) + timeline.values_at(ch.drain, times)
    fail = timeline.values_at(ch.route_fail, times)
    stay = np.clip(1.0 - moved.sum(axis=2) - fail, 0.0, 1.0)
    moved[:, np.arange(sites), np.arange(sites)] += stay
    return np.asarray(moved)
