"""Where each minute's traffic goes and what becomes of it: the vectorised traffic layer.

For every minute, every home site and every service, this module computes the share of the
requests that *fail* and the share that are *slow*, each split by the cause to blame. Traffic
leaves its home site, is routed (its own site, or another after a failover or a drain), meets
the pool there (servers up, arrivals including other sites' moved traffic and reconnection
flushes, a fluid backlog carried from minute to minute), the site's database, and the
national error shares of software faults, configuration changes and planned downtime.

Most minutes of a month are *nominal*: nothing has failed and no backlog is left. Their shares
are computed once per scenario (:class:`Prepared`) and reused by every replication, which only
recomputes the minutes its outages touched. That is what makes a month cost milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harness.simulation.composition import CAUSES, capacity_cause, compose
from harness.simulation.layout import ORG_TYPES, Layout
from harness.simulation.model import Channels
from harness.simulation.prepared import Prepared
from harness.simulation.queueing import (
    MINUTE_S,
    fluid_backlog,
    minute_shares,
)
from harness.simulation.stressed import month_pool
from harness.simulation.timeline import MinuteStates
from harness.simulation.transitions import Transitions, phased_backlog, phased_shares

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
__all__ = ["CAUSES", "Prepared", "Shares", "deviations", "prepare", "replication_shares"]


def prepare(layout: Layout) -> Prepared:
    """Work out the nominal minutes of ``layout``: routing to home sites, all servers up."""
    cohorts = layout.cohorts
    per_type = layout.traffic.per_type
    type_site = np.zeros((len(ORG_TYPES), layout.n_sites))
    np.add.at(type_site, (cohorts.org_type, cohorts.site), cohorts.share)
    origin = np.einsum("mtv,ts->msv", per_type, type_site)
    servers = np.broadcast_to(layout.servers.astype(np.float64), origin.shape[1:]).copy()
    slow, timed_out, _ = _pools(layout, origin, np.broadcast_to(servers, origin.shape))
    weighted = _weighted(layout, slow)
    shares = np.stack([timed_out, weighted], axis=-1)  # (m, s, v, outcome)
    totals = np.einsum("mtv,msvo->tsvo", per_type, shares)
    nominal_bad = np.einsum("msv,msvo->mvo", origin, shares)
    cum = np.concatenate([np.zeros((1, *per_type.shape[1:])), np.cumsum(per_type, axis=0)])
    return Prepared(layout, type_site, origin, cum, servers, shares, totals, nominal_bad)


def _pools(
    layout: Layout, arrivals: FloatArray, servers: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Queue every (site, service) pool over whole minutes; backlog carried throughout."""
    backlog = _backlog(layout, arrivals, servers)
    slow, timed_out = _shares(layout, arrivals, servers, backlog[:-1])
    for site in range(arrivals.shape[1]):
        for v in range(arrivals.shape[2]):
            mask, slow_v, timed_v = month_pool(
                arrivals[:, site, v],
                servers[:, site, v],
                backlog[:, site, v],
                float(layout.service_time_s[v]),
                layout.traffic.slow_budget_s[v],
                layout.scenario.simulation.timeout,
            )
            slow[mask, site, v], timed_out[mask, site, v] = slow_v[mask], timed_v[mask]
    return slow, timed_out, backlog


def _backlog(layout: Layout, arrivals: FloatArray, servers: FloatArray) -> FloatArray:
    """Fluid backlog of every pool at every minute edge, ``(minutes + 1, sites, services)``."""
    minutes, sites, services = arrivals.shape
    mu = 1.0 / np.tile(layout.service_time_s, sites)
    flat_c = np.asarray(servers).reshape(minutes, sites * services) * mu
    backlog = fluid_backlog(
        arrivals.reshape(minutes, sites * services),
        flat_c * MINUTE_S,
        flat_c * layout.scenario.simulation.timeout,
    )
    return backlog.reshape(minutes + 1, sites, services)


def _shares(
    layout: Layout, arrivals: FloatArray, servers: FloatArray, b0: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Slow (per threshold) and timed-out shares of some minutes, ``(m, sites, services…)``."""
    minutes, sites, services = arrivals.shape
    flat = (minutes, sites * services)
    slow, timed_out = minute_shares(
        arrivals.reshape(flat),
        np.asarray(servers).reshape(flat),
        b0.reshape(flat),
        np.tile(layout.service_time_s, sites),
        np.tile(layout.traffic.slow_budget_s, (sites, 1)),
        layout.scenario.simulation.timeout,
    )
    return slow.reshape(minutes, sites, services, -1), timed_out.reshape(minutes, sites, services)


def _weighted(layout: Layout, slow: FloatArray) -> FloatArray:
    """Slow share of a service: its thresholds weighted by their share of its messages."""
    return np.asarray(np.einsum("msvj,vj->msv", slow, layout.traffic.slow_weight))


@dataclass(frozen=True)
class Shares:
    """Fail and slow shares per cause at the home site, for the minutes a replication touched.

    Attributes:
        rows: the touched minutes, ascending.
        fail: ``(rows, sites, services, causes)``.
        slow: same shape.
        block: share of each cohort's traffic cut off (supplier, migration) in each touched
            minute, ``(rows, cohorts, 2)`` for the two causes; None when nothing was cut off.
    """

    rows: IntArray
    fail: FloatArray
    slow: FloatArray
    block: FloatArray | None


def deviations(states: MinuteStates, channels: Channels) -> dict[str, FloatArray | None]:
    """Per-minute deviation of every channel group, by group name (None when unchanged)."""
    names = channels.__dataclass_fields__
    return {name: states.deviation(getattr(channels, name)) for name in names}


def replication_shares(
    prepared: Prepared,
    dev: dict[str, FloatArray | None],
    touched: npt.NDArray[np.bool_],
    flush: FloatArray | None,
    transitions: Transitions | None = None,
) -> Shares:
    """Fail and slow shares of every minute that differs from nominal in this replication.

    Args:
        prepared: the nominal minutes.
        dev: per-minute deviations of the channel groups (:func:`deviations`).
        touched: minutes in which any channel deviates.
        flush: extra arrivals from reconnection flushes, ``(minutes, sites, services, 2)``
            (supplier, migration), or None.
        transitions: pools whose servers changed inside a minute (queued in two slices).
    """
    layout = prepared.layout
    touched = touched.copy()
    if flush is not None:
        touched |= np.any(flush > 0, axis=(1, 2, 3))
    rows_dev = np.flatnonzero(touched)
    if rows_dev.size == 0:
        empty = np.zeros((0, layout.n_sites, len(layout.service_time_s), len(CAUSES)))
        return Shares(rows_dev, empty, empty.copy(), None)
    servers = np.broadcast_to(prepared.servers, prepared.origin.shape)
    if dev["hardware_out"] is not None or dev["maintenance_out"] is not None:
        lost = sum(d for d in (dev["hardware_out"], dev["maintenance_out"]) if d is not None)
        servers = np.maximum(servers - lost, 0.0)
    route = _routing(dev, layout.n_sites, prepared.minutes)
    served = prepared.origin
    if route is not None or flush is not None:
        served = served.copy()
        if route is not None:
            served[rows_dev] = np.einsum("mst,msv->mtv", route[rows_dev], served[rows_dev])
        if flush is not None:
            served += flush.sum(axis=-1)
    # Only pools whose servers or arrivals changed need their own backlog.
    pool_dev = np.any(servers[rows_dev] != prepared.servers, axis=0) | np.any(
        served[rows_dev] != prepared.origin[rows_dev], axis=0
    )
    backlog = np.zeros((prepared.minutes + 1, *prepared.servers.shape))
    if pool_dev.any():
        sites, services = np.nonzero(pool_dev)
        backlog[:, sites, services] = _backlog_columns(
            layout, served[:, sites, services], servers[:, sites, services], services
        )
    middle = phased_backlog(layout, served, servers, backlog, transitions)
    edges = (backlog[:-1] > 0) | (backlog[1:] > 0)
    hot = _near_full(prepared, served, servers, backlog, pool_dev, transitions)
    if pool_dev.any():
        touched |= np.any(edges[:, pool_dev], axis=1)
    for mask, _, _ in hot.values():
        touched |= mask
    rows = np.flatnonzero(touched)
    entry = ((servers[rows] != prepared.servers) | (served[rows] != prepared.origin[rows])) | edges[
        rows
    ]
    timed, slow = _entry_shares(prepared, rows, entry, served, servers, backlog)
    if transitions is not None and middle is not None:
        phased_shares(layout, rows, served, backlog, transitions, middle, timed, slow)
    for (site, v), (mask, slow_v, timed_v) in hot.items():
        at = np.searchsorted(rows, np.flatnonzero(mask))
        timed[at, site, v] = timed_v[mask]
        slow[at, site, v] = slow_v[mask] @ layout.traffic.slow_weight[v]
    cause = capacity_cause(prepared, dev, rows, flush, backlog)
    fail, slow_c = compose(prepared, dev, rows, route, timed, slow, cause)
    return Shares(rows, fail, slow_c, _blocks(prepared, dev, rows))


def _near_full(
    prepared: Prepared,
    served: FloatArray,
    servers: FloatArray,
    backlog: FloatArray,
    pool_dev: npt.NDArray[np.bool_],
    transitions: Transitions | None,
) -> dict[tuple[int, int], tuple[npt.NDArray[np.bool_], FloatArray, FloatArray]]:
    """Stressed minutes of the deviating pools, walked as a diffusion (``stressed``)."""
    layout = prepared.layout
    out = {}
    for site, v in zip(*np.nonzero(pool_dev), strict=True):
        deviates = (servers[:, site, v] != prepared.servers[site, v]) | (
            served[:, site, v] != prepared.origin[:, site, v]
        )
        split = None
        if transitions is not None:
            k = np.flatnonzero((transitions.site == site) & (transitions.service == v))
            t = transitions
            split = (t.minute[k], t.servers_start[k], t.servers_end[k], t.first[k], t.early[k])
        found = month_pool(
            served[:, site, v],
            servers[:, site, v],
            backlog[:, site, v],
            float(layout.service_time_s[v]),
            layout.traffic.slow_budget_s[v],
            layout.scenario.simulation.timeout,
            deviates,
            split,
        )
        if found[0].any():
            out[int(site), int(v)] = found
    return out


def _backlog_columns(
    layout: Layout, arrivals: FloatArray, servers: FloatArray, services: IntArray
) -> FloatArray:
    """Fluid backlog of some pools, ``(minutes + 1, pools)``."""
    rate = servers / layout.service_time_s[services]
    timeout = layout.scenario.simulation.timeout
    return fluid_backlog(arrivals, rate * MINUTE_S, rate * timeout)


def _entry_shares(
    prepared: Prepared,
    rows: IntArray,
    entry: npt.NDArray[np.bool_],
    served: FloatArray,
    servers: FloatArray,
    backlog: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Timed-out and slow shares of touched minutes; nominal except where a pool deviates."""
    layout = prepared.layout
    nominal = prepared.nominal_shares[rows]
    timed, slow = nominal[..., 0].copy(), nominal[..., 1].copy()
    m_idx, s_idx, v_idx = np.nonzero(entry)
    for v in np.unique(v_idx):
        pick = v_idx == v
        m, si = rows[m_idx[pick]], s_idx[pick]
        slow_v, timed_v = minute_shares(
            served[m, si, v][:, None],
            servers[m, si, v][:, None],
            backlog[m, si, v][:, None],
            layout.service_time_s[v : v + 1],
            layout.traffic.slow_budget_s[v : v + 1],
            layout.scenario.simulation.timeout,
        )
        timed[m_idx[pick], si, v] = timed_v[:, 0]
        slow[m_idx[pick], si, v] = slow_v[:, 0, :] @ layout.traffic.slow_weight[v]
    return timed, slow


def _routing(dev: dict[str, FloatArray | None], sites: int, minutes: int) -> FloatArray | None:
    """Share of each home site's traffic served by each site, ``(minutes, from, to)``."""
    shift, drain, fail = dev["shift"], dev["drain"], dev["route_fail"]
    if shift is None and drain is None and fail is None:
        return None
    moved = np.zeros((minutes, sites, sites))
    for part in (shift, drain):
        if part is not None:
            moved += part
    stay = 1.0 - moved.sum(axis=2) - (fail if fail is not None else 0.0)
    moved[:, np.arange(sites), np.arange(sites)] += np.clip(stay, 0.0, 1.0)
    return moved


def _blocks(
    prepared: Prepared, dev: dict[str, FloatArray | None], rows: IntArray
) -> FloatArray | None:
    """Share of each cohort cut off per touched minute, by cause (supplier, migration)."""
    supplier, wave_block, wave_error = dev["supplier"], dev["wave_block"], dev["wave_error"]
    if supplier is None and wave_block is None and wave_error is None:
        return None
    cohorts = prepared.layout.cohorts
    out = np.zeros((len(rows), len(cohorts), 2))
    if supplier is not None:
        out[..., 0] = np.clip(supplier[rows][:, cohorts.supplier], 0.0, 1.0)
    moving = cohorts.wave >= 0
    wave = np.where(moving, cohorts.wave, 0)
    migration = np.zeros((len(rows), len(cohorts)))
    for part in (wave_block, wave_error):
        if part is not None:
            migration = 1.0 - (1.0 - migration) * (1.0 - np.clip(part[rows][:, wave], 0.0, 1.0))
    out[..., 1] = np.where(moving, migration, 0.0)
    return out
