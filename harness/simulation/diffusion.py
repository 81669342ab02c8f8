"""Queueing near full load: the queue as a reflected diffusion, carried from slice to slice.

Why the fluid backlog and Erlang C were not enough near full load — measured against the exact
kernel, one pool of 4 servers (0.04 s each) fed one Poisson rate for three minutes from an empty
queue, share of requests waiting over 0.5 s in minutes 1/2/3 (300 or 150 runs, ±0.01-0.025):

    rho    exact             Erlang C + fluid (before)    diffusion walk (this module)
    0.97   0.13 0.20 0.21    0.21 0.21 0.21               0.16 0.21 0.22
    1.00   0.40 0.70 0.77    1.00 1.00 1.00 (timed out)   0.45 0.71 0.77
    1.03   0.72 0.99 1.00    0.72 1.00 1.00               0.74 0.98 1.00

* **A minute is too short for Erlang C's steady state.** Near rho = 1 an M/M/c queue relaxes
  in ``1/(cμ(1-√rho)²)`` — 80 s at rho = 0.99 — so a minute that starts empty is far from
  the stationary tail: Erlang C put 0.21 of the first minute over budget where there were 0.13.
* **At rho = 1 the old formula broke down.** With arrivals exactly at capacity the fluid
  backlog stays at zero and the steady state does not exist, so every request counted as
  timed out; with a fractional mean server count (a server lost for part of a minute) the
  lower integer's unstable half did the same. Just above full load (rho ≥ 1.03) the fluid
  ramp is good, and it still is in the walk (its mean follows the ramp).
* **A stall was all failures.** With no server the fluid's cap (``cμ·T``) is zero, so every
  request of a 90 s database failover failed; in the exact kernel those arriving in the last
  ``T`` seconds wait and are served (on the validation's failover case: +42 % failed, -83 %
  slow before; within 1 % after).
* **The drain after an overload is short and random.** A queue left by a burst drains in a
  second or two; its slow requests are in those seconds, and depend on the *distribution* of
  the queue at the minute edge, not on the fluid's mean. Averaging the walk over uniform
  instants missed them (the walk averages over instants that are also geometric towards the
  start of each slice).
* The counts of the validation windows near full load (surviving capacity 95-100 % of the
  peak rate) are too noisy to show more: one window's exact slow count varies by 20-200 %
  from draw to draw there (the queue's random walk decides it), and the earlier engineer's
  -9 %/-21 % were single windows. Summed over 12 windows at 60-140 % the hybrid is within
  ±3 % of the exact kernel in every case, failed and slow apart
  (``tests/unit/simulation/test_sim_validation.py``).

So in *stressed* stretches (rho above :data:`RHO_STRESSED`, or a fluid backlog) the number of
requests waiting is treated as a Brownian motion with drift ``m = λ - cμ`` and variance rate
``v = cμ + λ``, reflected at zero (idle servers). Its transition law has a closed form:

    P(Q_t > y | Q_0 = x) = Φ((x + mt - y)/√(vt)) + e^{2my/v} Φ(-(y + x + mt)/√(vt))

The queue's distribution at each slice edge is carried as :data:`PARTICLES` weighted
quantiles; an arrival at ``t`` that finds ``q`` waiting waits about ``q/(cμ)``, so the slow
share is the time average of ``P(Q_t > b·cμ)`` over the slice.

The reflecting boundary stands for "every server busy, nobody waiting", yet below full load an
M/M/c queue spends a share ``1 - C(c, a)`` of the time with idle servers, and its arrivals
then do not wait at all. The walk alone therefore tends to ``exp(-θ·b·cμ)`` where Erlang C
says ``C(c, a)·exp(-(cμ - λ)b)`` — over-predicting slow requests by ``1/C`` (1.2-1.4 on an
8-server pool at rho 0.90-0.94), a jump at :data:`RHO_STRESSED`. So the part of each
particle's mass that has touched the boundary since the slice began is the queue back in its
Erlang regime and counts ``C(c, a)`` (1 at or above full load); the part that has not is a
backlog still draining and counts whole:

    P(W > b) ≈ C·P(Q_t > y') + (1 - C)·P(Q_t > y, no visit to 0 | Q_0 = x),  y = b·cμ
    P(Q_t > y, no visit to 0) = Φ((x + mt - y)/√(vt)) - e^{-2mx/v} Φ((mt - x - y)/√(vt))

(the second by the method of images). In the Erlang regime a wait is the sum of the services
ahead, not ``q/(cμ)``: the walk's stationary tail ``exp(-2(cμ - λ)y/(cμ + λ))`` equals Erlang
C's ``exp(-(cμ - λ)b)`` at ``y' = b(cμ + λ)/2``, which is ``y`` at full load and above. A walk
that starts empty has touched zero at once and tends to Erlang C exactly; after an overload the
particles are high and nothing changes.

The client timeout caps the queue at ``K = cμ·T``: what the diffusion would put above ``K`` by
the end of the slice is lost (the timed-out requests), and the particles are capped there.
When the per-minute counts are the drawn ones (the validation's common random numbers), the
arrivals inside a minute are a Poisson *bridge*: their variance at ``t`` is ``λt(1 - t/D)``,
not ``λt``, which is used instead.

A slice with no server at all (a database failover: the service stalls) is different: nothing
departs, and whether an arrival waits or gives up depends on when the stall *ends*. A newcomer
at ``t`` waits the rest of the stall plus ``q/(c₁μ)`` behind the requests already queued,
``c₁`` being the servers after it; it joins when that is within the timeout. That is walked
deterministically per particle on a fine grid of instants.

Outside stressed stretches nothing changes: Erlang C per minute, as before. The cost is a few
hundred microseconds per stressed slice, vectorised over pools and particles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr, ndtr

from harness.simulation.queueing import erlang_c

FloatArray = npt.NDArray[np.float64]
PARTICLES = 32  # quantiles that carry the queue's distribution from slice to slice
TAIL_PARTICLES = 12  # of them, for the top 4 % of the mass, each half the one below
INSTANTS = 16  # instants per slice (uniform, and as many geometric) for time averages
STALL_INSTANTS = 60  # finer, for slices without servers (the wait depends on the instant)
GRID = 96  # points on which the end-of-slice distribution is inverted
SPREAD = 7.0  # standard deviations covered by that grid
MINUTE_S = 60.0  # the slices are minutes or parts of one
RHO_STRESSED = 0.85  # above this utilisation (or with a backlog) a minute is walked


def _masses() -> FloatArray:
    """Probability carried by each particle: equal in the body, halving into the upper tail.

    Equally likely quantiles put the top particle at the 98th percentile, so every minute edge
    folds the tail above it onto it and a queue near full load rebuilds that tail for tens of
    seconds of each minute: slow shares of 1e-3 came out 15-20 % under Erlang C. Halving the
    masses towards the top carries it down to about 1e-5 (0.04 · 2^-12).
    """
    tail = 0.04 * 0.5 ** np.arange(1, TAIL_PARTICLES + 1)
    tail[-1] *= 2.0  # the last one takes the remainder, so the tail sums to 0.04
    body = np.full(PARTICLES - TAIL_PARTICLES, 0.96 / (PARTICLES - TAIL_PARTICLES))
    return np.asarray(np.r_[body, tail], dtype=np.float64)


MASS = _masses()


@dataclass(frozen=True, slots=True)
class SliceQueue:
    """Outcome shares of queued slices.

    Attributes:
        slow: share over each budget but not timed out, ``(slices, pools, thresholds)``.
        timed_out: share that gave up, ``(slices, pools)``.
        mean: mean queue (requests waiting) at each slice edge, ``(slices + 1, pools)``.
    """

    slow: FloatArray
    timed_out: FloatArray
    mean: FloatArray


def rbm_survival(y: FloatArray, x: FloatArray, drift: FloatArray, var_t: FloatArray) -> FloatArray:
    """``P(Q_t > y | Q_0 = x)`` of a Brownian motion reflected at 0 (broadcasting).

    Args:
        y: level (≥ 0).
        x: start (≥ 0).
        drift: ``m·t``, the mean change over the interval.
        var_t: ``v·t``, the variance of the free motion over the interval (> 0).
    """
    s = np.sqrt(var_t)
    direct = ndtr((x + drift - y) / s)
    # e^{2my/v} Φ(…) in logs: the exponent alone overflows far above the mean.
    log_mirror = 2.0 * drift * y / var_t + log_ndtr(-(y + x + drift) / s)
    mirror = np.exp(np.minimum(log_mirror, 0.0))
    return np.asarray(np.clip(direct + mirror, 0.0, 1.0))


def rbm_survival_unreflected(
    y: FloatArray, x: FloatArray, drift: FloatArray, var_t: FloatArray
) -> FloatArray:
    """``P(Q_t > y, Q never at 0 on [0, t] | Q_0 = x)`` of the same motion (``y, x ≥ 0``)."""
    s = np.sqrt(var_t)
    direct = ndtr((x + drift - y) / s)
    log_image = -2.0 * drift * x / var_t + log_ndtr((drift - x - y) / s)
    image = np.exp(np.minimum(log_image, 0.0))
    return np.asarray(np.clip(direct - image, 0.0, 1.0))


def waiting_probability(servers: FloatArray, lam: FloatArray, mu: FloatArray) -> FloatArray:
    """Erlang C ``C(c, λ/μ)`` at fractional ``c`` (linear between neighbours); 1 at full load."""
    low = np.floor(servers)
    weight = servers - low
    offered = lam / mu
    at_low = erlang_c(low.astype(np.int64), offered)
    at_high = erlang_c((low + 1.0).astype(np.int64), offered)
    return np.asarray((1.0 - weight) * at_low + weight * at_high)


def _stall_ahead(rate: FloatArray, duration_s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """For each slice without servers: time until servers return, and their service rate.

    Stalls that last to the end of the stretch never end (an infinite wait: all give up).
    """
    n, pools = rate.shape
    remaining = np.zeros((n, pools))
    after = np.zeros((n, pools))
    left, cap = np.full(pools, np.inf), np.zeros(pools)
    for k in range(n - 1, -1, -1):  # backwards: the end of each stall is ahead of it
        stalled = rate[k] <= 0.0
        left = np.where(stalled, left + duration_s[k], 0.0)
        cap = np.where(stalled, cap, rate[k])
        remaining[k], after[k] = left, cap
    return remaining, after


def _instants(duration_s: float) -> tuple[FloatArray, FloatArray]:
    """Instants of a slice and trapezoid weights (summing to 1) for time averages.

    Uniform instants miss a queue that drains in the first second or two of a minute (the
    requests of those seconds are the slow ones after an overload), so the grid is also
    geometric towards the slice's start.
    """
    t = np.unique(
        np.r_[
            np.linspace(0.0, duration_s, INSTANTS + 1),
            duration_s * np.geomspace(1e-3, 1.0, INSTANTS + 1),
        ]
    )
    gaps = np.diff(t)
    weight = (np.r_[gaps, 0.0] + np.r_[0.0, gaps]) / (2.0 * duration_s)
    return t, weight


def _served_slice(
    q: FloatArray,
    lam: FloatArray,
    rate: FloatArray,
    duration_s: float,
    budgets_q: FloatArray,
    limit: FloatArray,
    bridge: bool,
    p_wait: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One slice with servers: slow shares, timed-out share, and the particles at its end.

    Args:
        q: particles at the start, ``(pools, particles)``.
        lam: arrival rate, ``(pools,)``; rate: service rate ``cμ``.
        budgets_q: queue levels over which a wait exceeds each budget, ``(pools, thresholds)``.
        limit: the cap ``cμ·T``.
        bridge: the slice's arrival count is known (variance of a Poisson bridge).
        p_wait: Erlang C of each pool in this slice (module docstring), ``(pools,)``.
    """
    m = (lam - rate)[:, None]
    t, weight = _instants(duration_s)
    # A drawn count is a Poisson bridge over its minute: variance λt(1 - t/minute), not λt.
    known = (1.0 - t / MINUTE_S) if bridge else 1.0
    var_t = np.maximum((rate[:, None] + lam[:, None] * known) * t, 1e-9)  # (pools, instants)
    args = (q[:, :, None, None], (m * t)[:, None, :, None], var_t[:, None, :, None])
    level = budgets_q[:, None, None, :]
    # The Erlang regime's level: its stationary tail is then Erlang C's exactly (docstring).
    settled = np.minimum(1.0, (1.0 + lam / rate) / 2.0)[:, None, None, None] * level
    c = p_wait[:, None, None, None]
    over = c * rbm_survival(settled, *args)  # (pools, particles, instants, thresholds)
    if np.any(p_wait < 1.0):
        over += (1.0 - c) * rbm_survival_unreflected(level, *args)
    over = np.einsum("pkit,i,k->pt", over, weight, MASS)
    known_end = (1.0 - duration_s / MINUTE_S) if bridge else 1.0
    var_end = np.maximum(rate + lam * known_end, 1e-9) * duration_s
    end, lost = _end_particles(q, (m[:, 0] * duration_s), var_end, limit)
    arrived = lam * duration_s
    timed = np.divide(lost, arrived, out=np.zeros_like(lost), where=arrived > 0)
    timed = np.clip(timed, 0.0, 1.0)
    slow = np.clip(over - timed[:, None], 0.0, 1.0)
    return slow, timed, end


def _end_particles(
    q: FloatArray, drift: FloatArray, var_end: FloatArray, limit: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Quantiles of the queue at the end of a slice, capped; and the mean lost above the cap."""
    pools = q.shape[0]
    s = np.sqrt(var_end)
    lo = np.maximum(q.min(axis=1) + drift - SPREAD * s, 0.0)
    hi = np.maximum(q.max(axis=1) + drift + SPREAD * s, lo + 1e-6)
    grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, GRID)[None, :]
    grid[:, 0] = np.where(lo <= 0.0, 0.0, grid[:, 0])
    surv = rbm_survival(
        grid[:, None, :], q[:, :, None], drift[:, None, None], var_end[:, None, None]
    )  # (pools, particles, grid)
    surv = np.einsum("pkg,k->pg", surv, MASS)
    levels = np.cumsum(MASS) - MASS / 2.0
    end = np.empty_like(q)
    lost = np.zeros(pools)
    for p in range(pools):
        cdf = np.maximum.accumulate(1.0 - surv[p])
        end[p] = np.interp(levels, cdf, grid[p])
        if hi[p] > limit[p]:
            # Mean excess over the cap: ∫_K^∞ P(Q > y) dy on the part of the grid above it.
            above = grid[p] >= limit[p]
            ys = np.r_[limit[p], grid[p][above]]
            ss = np.r_[np.interp(limit[p], grid[p], surv[p]), surv[p][above]]
            lost[p] = float(np.sum((ss[1:] + ss[:-1]) * np.diff(ys)) / 2.0)
    return np.minimum(end, limit[:, None]), lost


def _stalled_slice(
    q: FloatArray,
    lam: FloatArray,
    duration_s: float,
    remaining_s: FloatArray,
    after_rate: FloatArray,
    budgets_s: FloatArray,
    timeout_s: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One slice without servers: arrivals queue if the stall ends soon enough, else give up."""
    dt = duration_s / STALL_INSTANTS
    pools, thresholds = budgets_s.shape
    timed = np.zeros(pools)
    over = np.zeros((pools, thresholds))
    safe = np.where(after_rate > 0, after_rate, 1.0)[:, None]
    for k in range(STALL_INSTANTS):
        left = (remaining_s - (k + 0.5) * dt)[:, None]  # stall still to run
        wait = np.where(after_rate[:, None] > 0, left + q / safe, np.inf)  # (pools, particles)
        join = wait <= timeout_s
        timed += 1.0 - join @ MASS
        over += np.einsum(
            "pkt,k->pt", (wait[:, :, None] > budgets_s[:, None, :]) & join[:, :, None], MASS
        )
        q = q + np.where(join, (lam * dt)[:, None], 0.0)
    return over / STALL_INSTANTS, timed / STALL_INSTANTS, q


def walk_slices(
    arrivals: FloatArray,
    servers: FloatArray,
    duration_s: FloatArray,
    service_time_s: FloatArray,
    slow_wait_s: FloatArray,
    timeout_s: float,
    *,
    drawn: bool,
) -> SliceQueue:
    """Walk a stressed stretch of slices, starting from an empty queue.

    Args:
        arrivals: messages arriving in each slice, ``(slices, pools)``.
        servers: servers up in each slice (may be fractional or 0), same shape.
        duration_s: length of each slice, ``(slices,)``.
        service_time_s: mean service time per pool, ``(pools,)``.
        slow_wait_s: waiting budgets per pool and threshold, ``(pools, thresholds)``.
        timeout_s: client timeout.
        drawn: the counts are drawn ones (common random numbers), not expectations.
    """
    n, pools = arrivals.shape
    rate = servers / service_time_s[None, :]
    remaining, after = _stall_ahead(rate, duration_s)
    q = np.zeros((pools, PARTICLES))
    slow = np.zeros((n, pools, slow_wait_s.shape[-1]))
    timed = np.zeros((n, pools))
    mean = np.zeros((n + 1, pools))
    for k in range(n):
        d = float(duration_s[k])
        lam = arrivals[k] / d
        stalled = rate[k] <= 0.0
        start = q
        if not stalled.all():
            live = np.where(stalled, 1.0, rate[k])  # stalled pools are redone below
            p_wait = waiting_probability(servers[k], lam, 1.0 / service_time_s)
            slow[k], timed[k], q = _served_slice(
                start, lam, live, d, slow_wait_s * live[:, None], live * timeout_s, drawn, p_wait
            )
        if stalled.any():
            s_slow, s_timed, s_q = _stalled_slice(
                start, lam, d, remaining[k], after[k], slow_wait_s, timeout_s
            )
            slow[k, stalled], timed[k, stalled] = s_slow[stalled], s_timed[stalled]
            q = np.where(stalled[:, None], s_q, q)
        mean[k + 1] = q @ MASS
    return SliceQueue(slow, timed, mean)
