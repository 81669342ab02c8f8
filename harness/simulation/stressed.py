"""Which minutes of a pool are stressed, and their shares from the diffusion walk.

Most minutes of a month are far from full load: Erlang C per minute (and the fluid backlog
when a pool is overloaded) is cheap and, there, exact enough. Near full load it is not
(:mod:`~harness.simulation.diffusion` says why and by how much), so the minutes of a pool
whose utilisation exceeds :data:`~harness.simulation.diffusion.RHO_STRESSED`, that have no
server at all, or that carry a fluid backlog — plus :data:`PAD_MIN` minutes after each such
run, because the random queue outlives the fluid one — are walked as a diffusion from an empty
queue at the start of each run. A minute whose servers or arrival rate change part-way through
is two slices, each with its own servers and arrivals.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from harness.simulation.diffusion import RHO_STRESSED, walk_slices
from harness.simulation.queueing import MINUTE_S

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# A pool's split minutes: (minute, servers_start, servers_end, first, early).
Split = tuple[npt.NDArray[np.int64], FloatArray, FloatArray, FloatArray, FloatArray]
PAD_MIN = 3  # minutes walked after a stressed run, while the random queue drains
# A stressed run longer than this is a pool that cannot carry its load for hours (an undersized
# pool in a capacity sweep): there the queue is far past full load, where the fluid backlog is
# already right (see the diffusion module's table), and walking every minute of a month of it
# cost ~9 minutes of CPU in a four-month sweep. Failures, site loss and failovers at peak make
# runs of minutes to an hour or so.
MAX_RUN_MIN = 180


def stressed_minutes(
    arrivals: FloatArray,
    servers_before: FloatArray,
    servers_after: FloatArray,
    first: FloatArray,
    early: FloatArray,
    backlog: FloatArray,
    service_time_s: float,
) -> BoolArray:
    """Minutes of one pool to walk as a diffusion (see the module docstring and MAX_RUN_MIN)."""
    capacity = MINUTE_S / service_time_s
    parts = (
        (arrivals * early, servers_before * capacity * first),
        (arrivals * (1.0 - early), servers_after * capacity * (1.0 - first)),
    )
    hot = np.zeros(len(arrivals), dtype=bool)
    for a, c in parts:
        hot |= (a > 0) & (a > RHO_STRESSED * c)
    hot |= (backlog[:-1] > 0) | (backlog[1:] > 0)
    if not hot.any():
        return hot
    # Extend every run by PAD_MIN minutes: a running maximum of the last hot minute's index.
    last = np.maximum.accumulate(np.where(hot, np.arange(len(hot)), -PAD_MIN - 1))
    mask = np.asarray(np.arange(len(hot)) - last <= PAD_MIN)
    for start, stop in _runs(mask):
        if stop - start > MAX_RUN_MIN:
            mask[start:stop] = False
    return mask


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """``(start, stop)`` of every run of True."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def stressed_shares(
    mask: BoolArray,
    arrivals: FloatArray,
    servers_before: FloatArray,
    servers_after: FloatArray,
    first: FloatArray,
    early: FloatArray,
    service_time_s: float,
    slow_wait_s: FloatArray,
    timeout_s: float,
    *,
    drawn: bool,
) -> tuple[FloatArray, FloatArray]:
    """Slow (per threshold) and timed-out shares of the masked minutes of one pool.

    Args:
        mask: minutes to walk (:func:`stressed_minutes`); the others are left at zero.
        arrivals: messages per minute.
        servers_before: servers in the first part of each minute (``first`` of it).
        servers_after: servers in the rest (equal to ``servers_before`` if nothing changed).
        first: share of each minute before the change (1 when none).
        early: share of each minute's arrivals before the change.
        service_time_s: mean service time.
        slow_wait_s: waiting budgets, ``(thresholds,)``.
        timeout_s: client timeout.
        drawn: the counts are drawn ones (see :func:`~harness.simulation.diffusion.walk_slices`).

    Returns:
        ``(slow, timed_out)`` of shapes ``(minutes, thresholds)`` and ``(minutes,)``.
    """
    slow = np.zeros((len(arrivals), len(slow_wait_s)))
    timed = np.zeros(len(arrivals))
    for a, b in _runs(mask):
        f, e = first[a:b], early[a:b]
        # Two slices per minute, the second empty when nothing changes: zero-length slices
        # are dropped, and the shares are weighted back by each slice's arrivals.
        dur = np.stack([f, 1.0 - f], axis=1).ravel() * MINUTE_S
        arr = (arrivals[a:b, None] * np.stack([e, 1.0 - e], axis=1)).ravel()
        srv = np.stack([servers_before[a:b], servers_after[a:b]], axis=1).ravel()
        keep = dur > 0
        walk = walk_slices(
            arr[keep, None],
            srv[keep, None],
            dur[keep],
            np.array([service_time_s]),
            slow_wait_s[None, :],
            timeout_s,
            drawn=drawn,
        )
        owner = (np.arange(2 * (b - a)) // 2)[keep]
        weight = arr[keep]
        total = np.maximum(np.bincount(owner, weights=weight, minlength=b - a), 1e-12)
        timed[a:b] = np.bincount(owner, weights=weight * walk.timed_out[:, 0], minlength=b - a)
        timed[a:b] /= total
        for j in range(len(slow_wait_s)):
            part = weight * walk.slow[:, 0, j]
            slow[a:b, j] = np.bincount(owner, weights=part, minlength=b - a) / total
    return slow, timed


def touching(mask: BoolArray, deviates: BoolArray) -> BoolArray:
    """Only the runs of ``mask`` that contain a minute in which the pool deviates."""
    keep = np.zeros_like(mask)
    for a, b in _runs(mask):
        if deviates[a:b].any():
            keep[a:b] = True
    return keep


def pool_minutes(
    servers: FloatArray, transitions: Split | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per-minute ``(servers_before, servers_after, first, early)`` of one pool.

    Args:
        servers: mean servers per minute.
        transitions: ``(minute, servers_start, servers_end, first, early)`` of the minutes
            split part-way through, or None.
    """
    before, after = servers.astype(np.float64), servers.astype(np.float64)
    first, early = np.ones(len(servers)), np.ones(len(servers))
    if transitions is not None:
        m, s0, s1, f, e = transitions
        before[m], after[m], first[m], early[m] = s0, s1, f, e
    return before, after, first, early


def month_pool(
    arrivals: FloatArray,
    servers: FloatArray,
    backlog: FloatArray,
    service_time_s: float,
    slow_wait_s: FloatArray,
    timeout_s: float,
    deviates: BoolArray | None = None,
    transitions: Split | None = None,
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """The stressed minutes of one pool of a month, and their shares (expected counts).

    Args:
        arrivals: expected messages per minute.
        servers: mean servers per minute.
        backlog: fluid backlog at every minute edge.
        service_time_s: mean service time.
        slow_wait_s: waiting budgets, ``(thresholds,)``.
        timeout_s: client timeout.
        deviates: minutes in which the pool differs from nominal; only stressed runs that
            contain one are walked (None: every run, as for the nominal month).
        transitions: the pool's split minutes (:func:`pool_minutes`).

    Returns:
        ``(mask, slow, timed_out)``; the shares are zero outside the mask.
    """
    before, after, first, early = pool_minutes(servers, transitions)
    mask = stressed_minutes(arrivals, before, after, first, early, backlog, service_time_s)
    if deviates is not None:
        mask = touching(mask, deviates)
    if not mask.any():
        return mask, np.zeros((len(arrivals), len(slow_wait_s))), np.zeros(len(arrivals))
    slow, timed = stressed_shares(
        mask,
        arrivals,
        before,
        after,
        first,
        early,
        service_time_s,
        slow_wait_s,
        timeout_s,
        drawn=False,
    )
    return mask, slow, timed
