"""Who is to blame, and what fails: composing the shares of touched minutes.

A request from a home site is routed (its own site, or another after a failover or drain),
passes that site's database, queues in that site's pool, and meets the national error shares
(software faults, configuration changes, planned downtime). This module turns those per-site
and per-service shares into failing and slow shares at the home site, each split by the cause
to blame: the routing cause, the database, the error share's cause, or — for queueing — the
cause that cost the pool its capacity or sent it the extra traffic.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from harness.config.availability import Cause
from harness.simulation.prepared import Prepared
from harness.simulation.queueing import MINUTE_S

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CAUSES: tuple[Cause, ...] = tuple(Cause)
CAUSE_INDEX = {c: i for i, c in enumerate(CAUSES)}
LOAD = CAUSE_INDEX[Cause.LOAD]


def capacity_cause(
    prepared: Prepared,
    dev: dict[str, FloatArray | None],
    rows: IntArray,
    flush: FloatArray | None,
    backlog: FloatArray,
) -> IntArray:
    """The cause to blame for queueing at each pool in each touched minute.

    The largest of: capacity lost to hardware or maintenance, traffic moved in by failover
    or drain, reconnection flushes. Minutes with none of those but a backlog left over keep
    the cause of the minute that built it; otherwise the platform was just busy (``load``).
    """
    layout = prepared.layout
    shape = (len(rows), layout.n_sites, len(layout.service_time_s))
    weight = np.zeros((*shape, len(CAUSES)))
    per_server = MINUTE_S / layout.service_time_s  # messages a server finishes a minute
    for name, cause in (("hardware_out", Cause.HARDWARE), ("maintenance_out", Cause.MAINTENANCE)):
        lost = dev[name]
        if lost is not None:
            weight[..., CAUSE_INDEX[cause]] += lost[rows] * per_server
    for name, cause in (("shift", Cause.SITE), ("drain", Cause.MAINTENANCE)):
        moved = dev[name]
        if moved is not None:
            inflow = np.einsum("mst,msv->mtv", moved[rows], prepared.origin[rows])
            weight[..., CAUSE_INDEX[cause]] += inflow
    if flush is not None:
        weight[..., CAUSE_INDEX[Cause.SUPPLIER]] += flush[rows, ..., 0]
        weight[..., CAUSE_INDEX[Cause.MIGRATION]] += flush[rows, ..., 1]
    code = np.where(weight.max(axis=-1) > 0, weight.argmax(axis=-1), -1)
    carried = (backlog[rows] > 0) & (code < 0)
    index = np.where(code >= 0, np.arange(len(rows))[:, None, None], 0)
    index = np.maximum.accumulate(index, axis=0)
    filled = np.take_along_axis(code, index, axis=0)
    code = np.where(carried & (filled >= 0), filled, code)
    return np.asarray(np.where(code < 0, LOAD, code), dtype=np.int64)


def _clipped(
    dev: dict[str, FloatArray | None], name: str, rows: IntArray, shape: int
) -> FloatArray:
    part = dev[name]
    if part is None:
        return np.zeros((len(rows), shape))
    return np.asarray(np.clip(part[rows], 0.0, 1.0))


def compose(
    prepared: Prepared,
    dev: dict[str, FloatArray | None],
    rows: IntArray,
    route: FloatArray | None,
    timed: FloatArray,
    slow: FloatArray,
    cause: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """Fail and slow shares per cause at each home site, from the sites that serve it.

    Most touched minutes only have a pool short of a server: traffic stays home, nothing
    else fails, and the shares are the pool's own. Those take a direct path; the minutes
    with routing, database or error-share changes take the general one.
    """
    layout = prepared.layout
    sites, services = layout.n_sites, len(layout.service_time_s)
    shape = (len(rows), sites, services, len(CAUSES))
    fail, slow_c = np.zeros(shape), np.zeros(shape)
    other = np.zeros(len(rows), dtype=bool)
    for name in ("database", "route_fail", "software", "config", "downtime"):
        part = dev[name]
        if part is not None:
            other |= np.any(part[rows].reshape(len(rows), -1) != 0.0, axis=1)
    if route is not None:
        other |= np.any(route[rows] != np.eye(sites), axis=(1, 2))
    plain = np.flatnonzero(~other)
    if len(plain):
        m_i, s_i, v_i = np.indices((len(plain), sites, services), sparse=True)
        code = cause[plain]
        fail[plain[m_i], s_i, v_i, code] = timed[plain]
        slow_c[plain[m_i], s_i, v_i, code] = slow[plain]
    mixed = np.flatnonzero(other)
    if len(mixed):
        sub = rows[mixed]
        fail[mixed], slow_c[mixed] = _compose_general(
            prepared, dev, sub, route, timed[mixed], slow[mixed], cause[mixed]
        )
    return fail, slow_c


def _compose_general(
    prepared: Prepared,
    dev: dict[str, FloatArray | None],
    rows: IntArray,
    route: FloatArray | None,
    timed: FloatArray,
    slow: FloatArray,
    cause: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """The general composition: routing, databases and national error shares."""
    layout = prepared.layout
    sites, services = layout.n_sites, len(layout.service_time_s)
    r = np.broadcast_to(np.eye(sites), (len(rows), sites, sites)) if route is None else route[rows]
    db = _clipped(dev, "database", rows, sites)
    lost = _clipped(dev, "route_fail", rows, sites)
    errors = {
        Cause.SOFTWARE: _clipped(dev, "software", rows, services),
        Cause.CONFIG: _clipped(dev, "config", rows, services),
        Cause.MAINTENANCE: _clipped(dev, "downtime", rows, services),
    }
    through = r * (1.0 - db)[:, None, :]  # (m, from, to): served past the database
    parts = np.zeros((len(rows), sites, services, len(CAUSES)))
    slow_c = np.zeros_like(parts)
    m_i, s_i, v_i = np.indices((len(rows), sites, services), sparse=True)
    for t in range(sites):
        # Requests served at site t queue there; blame goes to that pool's cause.
        code = cause[:, t, :][:, None, :]
        parts[m_i, s_i, v_i, code] += through[:, :, t, None] * timed[:, t, None, :]
        slow_c[m_i, s_i, v_i, code] += through[:, :, t, None] * slow[:, t, None, :]
    parts[..., CAUSE_INDEX[Cause.SITE]] += lost[:, :, None]
    parts[..., CAUSE_INDEX[Cause.DATABASE]] += np.einsum("mst,mt->ms", r, db)[:, :, None]
    ok = np.einsum("mst,mtv->msv", through, 1.0 - timed)
    keep = np.ones_like(ok)
    for c, share in errors.items():
        parts[..., CAUSE_INDEX[c]] += share[:, None, :]
        keep *= 1.0 - share[:, None, :]
    fail_total = 1.0 - ok * keep
    weights = parts.sum(axis=-1, keepdims=True)
    fail = fail_total[..., None] * np.divide(
        parts, weights, out=np.zeros_like(parts), where=weights > 0
    )
    return fail, slow_c * keep[..., None]
