"""Queueing per minute: Erlang C for the steady part, a fluid backlog for what carries over.

A pool of ``c`` servers, each finishing a request in ``1/μ`` seconds on average, receiving
``λ`` requests a second, is an M/M/c queue while ``λ < cμ``: a request waits with the Erlang C
probability ``C(c, λ/μ)`` and, if it waits, for an exponential time of rate ``cμ - λ``. That
*pointwise-stationary* view is exact enough minute by minute — until the pool is overloaded
(a node lost at peak, a data centre's traffic moved onto its twin). Then a backlog builds up and
outlives the minute; the measured error of Erlang C alone reached 3× (``domain/simulation.md``
§1.6). So the backlog is carried from minute to minute as a fluid (a Lindley recursion, done
with ``cumsum`` and ``minimum.accumulate`` over the whole month at once), and a request that
arrives while the fluid backlog is ``B`` waits ``B / (cμ)`` seconds. Requests that would wait
longer than the client timeout give up: they fail and leave the queue, which caps the backlog
at ``cμ × timeout`` — the only part done minute by minute, and only inside overloads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
MINUTE_S = 60.0  # seconds per slice


def erlang_c(servers: npt.ArrayLike, offered: npt.ArrayLike) -> FloatArray:
    """Probability that a request waits in an M/M/c queue (Erlang C), elementwise.

    Args:
        servers: whole numbers of servers ``c`` (0 or more).
        offered: offered load ``a = λ/μ`` in Erlangs.

    Returns:
        ``C(c, a)``; 1 where the queue is unstable (``a ≥ c``) or there is no server.
    """
    c = np.asarray(servers, dtype=np.int64)
    a = np.asarray(offered, dtype=np.float64)
    c, a = np.broadcast_arrays(c, a)
    blocking = np.ones(a.shape)  # Erlang B by the stable recursion B(k) = aB / (k + aB)
    top = int(c.max(initial=0))
    for k in range(1, top + 1):
        active = c >= k
        step = a * blocking / (k + a * blocking)
        blocking = np.where(active, step, blocking)
    rho = np.divide(a, c, out=np.full(a.shape, np.inf), where=c > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        wait = blocking / (1.0 - rho * (1.0 - blocking))
    return np.asarray(np.where((rho < 1.0) & (c > 0), np.clip(wait, 0.0, 1.0), 1.0))


def wait_exceeds(
    servers: npt.ArrayLike, rate_per_s: npt.ArrayLike, mu_per_s: float, threshold_s: float
) -> FloatArray:
    """``P(W > t)`` in M/M/c for fractional server counts (interpolated between neighbours).

    A minute in which a server was down for half the time has 7.5 servers on average; the
    probability is interpolated linearly between 7 and 8 servers.
    """
    c = np.asarray(servers, dtype=np.float64)
    lam = np.asarray(rate_per_s, dtype=np.float64)
    low = np.floor(c)
    weight = c - low

    def at(k: FloatArray) -> FloatArray:
        p_wait = erlang_c(k.astype(np.int64), lam / mu_per_s)
        decay = np.exp(-np.maximum(k * mu_per_s - lam, 0.0) * threshold_s)
        return np.asarray(np.where(k * mu_per_s > lam, p_wait * decay, 1.0))

    return np.asarray((1.0 - weight) * at(low) + weight * at(low + 1.0))


def fluid_backlog(
    arrivals: FloatArray, capacity: FloatArray, limit: FloatArray | None = None
) -> FloatArray:
    """Backlog at every minute edge from per-minute arrivals and capacity (both in messages).

    ``B[n+1] = min(limit, max(0, B[n] + arrivals[n] - capacity[n]))`` with ``B[0] = 0``, along
    axis 0. Without a limit the whole recursion is two cumulative passes; with one, only the
    excursions that reach it are replayed minute by minute.

    Returns:
        Array of shape ``(len(arrivals) + 1, …)``.
    """
    net = arrivals - capacity
    walk = np.concatenate([np.zeros((1, *net.shape[1:])), np.cumsum(net, axis=0)])
    backlog = walk - np.minimum(np.minimum.accumulate(walk, axis=0), 0.0)
    if limit is None or not np.any(backlog[1:] > limit):
        return np.asarray(backlog)
    flat_b = backlog.reshape(len(backlog), -1)
    flat_net = net.reshape(len(net), -1)
    flat_limit = np.broadcast_to(limit, net.shape).reshape(len(net), -1)
    for col in np.flatnonzero(np.any(flat_b[1:] > flat_limit, axis=0)):
        _replay_capped(flat_b[:, col], flat_net[:, col], flat_limit[:, col])
    return np.asarray(flat_b.reshape(backlog.shape))


def _replay_capped(backlog: FloatArray, net: FloatArray, limit: FloatArray) -> None:
    """Redo the recursion with the cap, in place, from the first minute that exceeds it."""
    n = int(np.argmax(backlog[1:] > limit))  # first minute whose end is over the cap
    b = float(backlog[n])
    for k in range(n, len(net)):
        b = min(float(limit[k]), max(0.0, b + float(net[k])))
        backlog[k + 1] = b
        if b == 0.0 and k + 2 < len(backlog) and backlog[k + 2] == 0.0:
            # Back at zero: the uncapped solution from here on is the capped one as well,
            # unless a later excursion reaches the cap again.
            rest = backlog[k + 1 :]
            walk = np.concatenate([[0.0], np.cumsum(net[k + 1 :])])
            rest[:] = walk - np.minimum(np.minimum.accumulate(walk), 0.0)
            if np.any(rest[1:] > limit[k + 1 :]):
                _replay_capped(rest, net[k + 1 :], limit[k + 1 :])
            return


def share_above(start: FloatArray, end: FloatArray, level: FloatArray) -> FloatArray:
    """Share of a minute in which a linear ramp from ``start`` to ``end`` is above ``level``."""
    hi = np.maximum(start, end)
    lo = np.minimum(start, end)
    span = np.where(hi > lo, hi - lo, 1.0)
    partial = np.clip((hi - level) / span, 0.0, 1.0)
    return np.asarray(np.where(hi > lo, partial, (lo > level).astype(np.float64)))


@dataclass(frozen=True, slots=True)
class MinuteQueue:
    """Per-minute outcome shares of one or more pools.

    Attributes:
        slow: share of the minute's requests that wait longer than their budget but not
            longer than the timeout, shape ``(minutes, …, thresholds)``.
        timed_out: share that would wait longer than the timeout (they fail).
        backlog: fluid backlog at each minute edge, messages.
    """

    slow: FloatArray
    timed_out: FloatArray
    backlog: FloatArray


def minute_queue(
    arrivals: FloatArray,
    servers: FloatArray,
    service_time_s: FloatArray,
    slow_wait_s: FloatArray,
    timeout_s: float,
) -> MinuteQueue:
    """Slow and timed-out shares per minute for pools given arrivals and servers per minute.

    Args:
        arrivals: messages per minute, shape ``(minutes, pools)``.
        servers: mean servers up in each minute, same shape.
        service_time_s: mean service time of each pool, shape ``(pools,)``.
        slow_wait_s: waiting budgets (latency objective minus service time) per pool and
            threshold, shape ``(pools, thresholds)``.
        timeout_s: client timeout; longer waits fail.
    """
    mu = 1.0 / service_time_s
    capacity = servers * mu * MINUTE_S  # messages a minute the pool can finish
    limit = servers * mu * timeout_s  # beyond this backlog, newcomers give up
    backlog = fluid_backlog(arrivals, capacity, limit)
    slow, timed_out = minute_shares(
        arrivals, servers, backlog[:-1], service_time_s, slow_wait_s, timeout_s
    )
    return MinuteQueue(slow=slow, timed_out=timed_out, backlog=backlog)


def minute_shares(
    arrivals: FloatArray,
    servers: FloatArray,
    backlog_start: FloatArray,
    service_time_s: FloatArray,
    slow_wait_s: FloatArray,
    timeout_s: float,
    duration_s: float | FloatArray = MINUTE_S,
) -> tuple[FloatArray, FloatArray]:
    """Slow and timed-out shares of minutes whose starting fluid backlog is known.

    Within a minute the fluid backlog is the ramp ``B(t) = B0 + (arrivals - capacity)·t``: it
    may empty part-way through (the rest of the minute is then stationary) or pass the timeout
    level (newcomers beyond it give up). Each minute stands alone here, so any subset of
    minutes can be evaluated.

    ``duration_s`` shortens the slice: the part of a minute before or after a server was lost
    is a slice of its own, with its own servers and arrivals.

    Returns:
        ``(slow, timed_out)``: slow has a trailing axis over the thresholds.
    """
    mu = 1.0 / service_time_s
    rate = servers * mu  # messages per second served while busy
    safe_rate = np.where(rate > 0, rate, 1.0)
    backlog_end = backlog_start + arrivals - rate * duration_s  # the ramp, not clipped at 0
    start, end = backlog_start / safe_rate, backlog_end / safe_rate  # fluid wait, seconds
    empty = servers <= 0
    busy = share_above(backlog_start, backlog_end, np.zeros_like(start))
    lam = arrivals / duration_s
    pools = servers.shape[-1]
    # Once the ramp reaches the timeout level the queue stays there: the pool admits what it
    # can finish and the rest of the arrivals give up.
    excess = np.clip(
        1.0
        - np.divide(rate * duration_s, arrivals, out=np.ones_like(arrivals), where=arrivals > 0),
        0.0,
        1.0,
    )
    timed_out = share_above(start, end, np.full_like(start, timeout_s)) * excess
    timed_out += (1.0 - busy) * _stationary(servers, lam, mu, np.full(pools, timeout_s))
    timed_out = np.where(empty, 1.0, np.clip(timed_out, 0.0, 1.0))
    slow = np.empty((*arrivals.shape, slow_wait_s.shape[-1]))
    for j in range(slow_wait_s.shape[-1]):
        budget = slow_wait_s[:, j]
        over = share_above(start, end, np.broadcast_to(budget, start.shape))
        over += (1.0 - busy) * _stationary(servers, lam, mu, budget)
        slow[..., j] = np.where(empty, 0.0, np.clip(over - timed_out, 0.0, 1.0))
    return slow, timed_out


def _stationary(
    servers: FloatArray, lam: FloatArray, mu: FloatArray, threshold_s: FloatArray
) -> FloatArray:
    """``P(W > t)`` per pool column; pools differ in service rate and threshold."""
    out = np.empty(servers.shape)
    for col in range(servers.shape[-1]):
        out[..., col] = wait_exceeds(
            servers[..., col], lam[..., col], float(mu[col]), float(threshold_s[col])
        )
    return out


def split_walk(
    arrivals: FloatArray,
    servers: FloatArray,
    service_time_s: float,
    timeout_s: float,
    split: npt.NDArray[np.int64],
    first: FloatArray,
    servers_start: FloatArray,
    servers_end: FloatArray,
    early: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Fluid backlog of one pool whose servers or arrival rate change inside some minutes.

    Args:
        arrivals: messages per minute.
        servers: mean servers per minute (used for the minutes that are not split).
        service_time_s: mean service time.
        timeout_s: client timeout (caps the backlog).
        split: the minutes to split, ascending and distinct; ``first`` of each is at
            ``servers_start``, the rest at ``servers_end``.
        first: share of each split minute before the change.
        servers_start: servers before the change.
        servers_end: servers after it.
        early: share of each split minute's arrivals before the change (default: its share
            of time, i.e. the rate does not change).

    Returns:
        ``(edges, middle)``: backlog at every minute edge, and at each split instant.
    """
    mu = 1.0 / service_time_s
    e = first if early is None else early
    a = arrivals[split]
    c0, c1 = servers_start * mu, servers_end * mu
    steps_a = arrivals.astype(np.float64)
    steps_c = servers * mu * MINUTE_S
    steps_l = servers * mu * timeout_s
    steps_a[split], steps_c[split], steps_l[split] = a * e, c0 * MINUTE_S * first, c0 * timeout_s
    # Each split minute gets a second step, inserted right after it.
    steps_a = np.insert(steps_a, split + 1, a * (1.0 - e))
    steps_c = np.insert(steps_c, split + 1, c1 * MINUTE_S * (1.0 - first))
    steps_l = np.insert(steps_l, split + 1, c1 * timeout_s)
    walk = fluid_backlog(steps_a[:, None], steps_c[:, None], steps_l[:, None])[:, 0]
    minutes = len(arrivals)
    # Step index of each minute edge: every split minute before it adds one step.
    extra = np.searchsorted(split, np.arange(minutes + 1), side="left")
    return walk[np.arange(minutes + 1) + extra], walk[split + np.arange(len(split)) + 1]


def split_shares(
    arrivals: FloatArray,
    first: FloatArray,
    early: FloatArray,
    servers_start: FloatArray,
    servers_end: FloatArray,
    backlog_start: FloatArray,
    backlog_middle: FloatArray,
    service_time_s: float,
    slow_wait_s: FloatArray,
    slow_weight: FloatArray,
    timeout_s: float,
) -> tuple[FloatArray, FloatArray]:
    """Timed-out and slow shares of split minutes of one pool: each slice queued on its own.

    ``early`` is the share of each minute's arrivals before the change; the two slices'
    shares are weighted by their arrivals.

    Returns:
        ``(timed_out, slow)``, one value per split minute (slow weighted over thresholds).
    """
    timed = np.zeros(len(arrivals))
    slow = np.zeros(len(arrivals))
    for share, part, c, b0 in (
        (first, early, servers_start, backlog_start),
        (1.0 - first, 1.0 - early, servers_end, backlog_middle),
    ):
        live = (share > 0.0) & (part > 0.0)
        if not live.any():
            continue
        slow_j, timed_k = minute_shares(
            (arrivals * part)[live][:, None],
            c[live][:, None],
            b0[live][:, None],
            np.array([service_time_s]),
            slow_wait_s[None, :],
            timeout_s,
            (MINUTE_S * share)[live][:, None],
        )
        timed[live] += part[live] * timed_k[:, 0]
        slow[live] += part[live] * (slow_j[:, 0, :] @ slow_weight)
    return timed, slow
