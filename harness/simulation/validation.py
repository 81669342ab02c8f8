"""Checking the hybrid model against the exact kernel on sampled windows (``--validate``).

The hybrid model's queueing (Erlang C per minute, a fluid backlog, and near full load the
diffusion walk of :mod:`~harness.simulation.diffusion`) is an approximation; the exact kernel
(:mod:`~harness.simulation.kernel`) is not. For the canonical stress cases both are run on the
*same* per-minute Poisson arrival counts (common random numbers), over a three-hour window
around the pool's busiest minute, and their failed (timed-out) and slow counts are compared:

* ``node-loss-at-peak``: a third of the pool lost for 30 minutes;
* ``data-centre-loss-at-peak``: the twin site's traffic moved onto the pool for 30 minutes;
* ``cohort-reconnect-flush``: a cut-off cohort flushing 40 % of an hour's traffic in 10 min;
* ``database-failover-at-peak``: the whole pool stalls for the 90 s of a database failover;
  arrivals queue if the stall ends within their timeout and give up otherwise, and the backlog
  drains at full pool capacity afterwards;
* ``migration-wave-at-peak``: a wave of organisations (here every one: a big bang, the worst
  case) cut over for the 5 minutes of ``migration.cutover_downtime``: its traffic is held (the
  requests fail, blamed on the migration — not a queueing outcome, so not counted here) and
  half of it is flushed over ten minutes on reconnection, exactly as
  :func:`~harness.simulation.cutoffs.reconnect_flush` does in a month. With dual running (the
  phased default) a cut-over has no downtime and so no flush; the model does not double any
  load for dual running, and neither does this case.

They agree when each count is within ±3 % — or, for counts too small to matter, within 0.01 %
of the messages. ``--validate`` runs :data:`REPEATS` windows per case and sums them; near full
load one window's exact count varies by 10-20 % from draw to draw, so a difference within two
standard errors of the summed exact count is reported as noise rather than disagreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.simulation.flows import Prepared
from harness.simulation.kernel import fifo_kernel, server_outages
from harness.simulation.layout import SERVICES
from harness.simulation.queueing import (
    MINUTE_S,
    minute_shares,
    split_shares,
    split_walk,
)
from harness.simulation.stressed import stressed_minutes, stressed_shares

FloatArray = npt.NDArray[np.float64]
WINDOW_MIN = 180  # minutes per sampled window
OUTAGE_START_MIN = 30.5  # the outage starts half-way through a minute, on purpose
OUTAGE_MIN = 30.0  # and lasts this long
TOLERANCE = 0.03  # ±3 % on failed and slow counts
NEGLIGIBLE = 1e-4  # differences below this share of the messages do not count
DB_FAILOVER_MIN = 1.5  # the database's automatic failover (topology default, 90 s)
CUTOVER_MIN = 5.0  # a migration wave's cut-over downtime (migration default, 5 min)
FLUSH_FRACTION = 0.5  # share of held messages sent on reconnection (simulation default)
FLUSH_SPAN_MIN = 10  # over this many minutes (simulation default, 600 s)
REPEATS = 4  # windows per case in ``--validate``, each with its own draws
NOISE_Z = 2.0  # differences within this many standard errors of the exact count are noise


@dataclass(frozen=True)
class Case:
    """One stress case: extra arrivals and servers out during the outage."""

    name: str
    servers_out: int
    extra_share: float  # extra arrivals as a share of the pool's own (1.0 = twin's traffic)
    flush_share: float  # share of an hour's traffic flushed over ten minutes after the outage
    outage_min: float = OUTAGE_MIN
    held_flush: float = 0.0  # share of the arrivals cut off (extra_share < 0) sent afterwards


def cases(servers: int) -> tuple[Case, ...]:
    """The canonical cases for a pool of ``servers``."""
    return (
        Case("node-loss-at-peak", max(servers // 3, 1), 0.0, 0.0),
        Case("data-centre-loss-at-peak", 0, 1.0, 0.0),
        Case("cohort-reconnect-flush", 0, 0.0, 0.4),
        # The whole pool stalls while the database fails over (topology default 90 s).
        Case("database-failover-at-peak", servers, 0.0, 0.0, DB_FAILOVER_MIN),
        # A big-bang wave (every organisation) cut over for the migration default of 5 min
        # without dual running: cut off, then half of what was held flushed over 10 minutes,
        # as ``cutoffs.reconnect_flush`` does it.
        Case("migration-wave-at-peak", 0, -1.0, 0.0, CUTOVER_MIN, FLUSH_FRACTION),
    )


@dataclass(frozen=True)
class Window:
    """The stress of one case, minute by minute, with the instant of change in each minute.

    Attributes:
        first: share of each minute before the change (1 when nothing changes in it).
        rate_before: expected arrivals a minute before the change.
        rate_after: expected arrivals a minute after it.
        servers_before: servers before the change.
        servers_after: servers after it.
    """

    first: FloatArray
    rate_before: FloatArray
    rate_after: FloatArray
    servers_before: FloatArray
    servers_after: FloatArray


def _window(case: Case, base: FloatArray, servers: int) -> Window:
    """Arrival rates and servers of the window, changing exactly at the outage's edges."""
    n = len(base)
    start, stop = OUTAGE_START_MIN, OUTAGE_START_MIN + case.outage_min
    minute = np.arange(n, dtype=np.float64)

    def inside_at(t: FloatArray) -> FloatArray:
        return ((t >= start) & (t < stop)).astype(np.float64)

    def rate(inside: FloatArray) -> FloatArray:
        return np.asarray(base * (1.0 + case.extra_share * inside))

    first = np.ones(n)
    for edge in (start, stop):
        m = int(edge)
        if edge != m and m < n:
            first[m] = edge - m
    before, after = inside_at(minute), inside_at(minute + first)
    r0, r1 = rate(before), rate(after)
    if case.flush_share:
        end = int(np.ceil(stop))
        extra = case.flush_share * base[end - 60 : end].sum() / 10
        r0[end : end + 10] += extra
        r1[end : end + 10] += extra
    if case.held_flush:
        # Held over whole minutes from the cut to the reconnection, as the month model does.
        a, b = int(start), int(np.ceil(stop))
        extra = case.held_flush * -case.extra_share * base[a:b].sum() / FLUSH_SPAN_MIN
        r0[b : b + FLUSH_SPAN_MIN] += extra
        r1[b : b + FLUSH_SPAN_MIN] += extra
    c0 = servers - case.servers_out * before
    c1 = servers - case.servers_out * after
    return Window(first, r0, r1, c0, c1)


def _arrivals(window: Window, rng: np.random.Generator) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Poisson arrivals placed uniformly within each part of each minute; counts per minute."""
    n0 = rng.poisson(window.rate_before * window.first)
    n1 = rng.poisson(window.rate_after * (1.0 - window.first))
    minutes = np.arange(len(n0))
    lo = np.repeat(minutes * MINUTE_S, n0)
    width0 = np.repeat(window.first * MINUTE_S, n0)
    hi = np.repeat((minutes + window.first) * MINUTE_S, n1)
    width1 = np.repeat((1.0 - window.first) * MINUTE_S, n1)
    times = np.concatenate([lo + rng.random(len(lo)) * width0, hi + rng.random(len(hi)) * width1])
    return np.sort(times), n0 + n1


def _exact(
    case: Case,
    arrival: FloatArray,
    minutes: int,
    servers: int,
    service_time_s: float,
    budgets: FloatArray,
    weights: FloatArray,
    timeout_s: float,
    rng: np.random.Generator,
) -> tuple[float, float, FloatArray]:
    """Failed and slow counts, and per-minute bad counts, of the exact kernel."""
    service = rng.exponential(service_time_s, len(arrival))
    change = np.array([0.0, OUTAGE_START_MIN, OUTAGE_START_MIN + case.outage_min]) * MINUTE_S
    up = np.array([servers, servers - case.servers_out, servers], dtype=np.int64)
    result = fifo_kernel(arrival, service, servers, timeout_s, server_outages(change, up, servers))
    budget = budgets[rng.choice(len(budgets), size=len(arrival), p=weights / weights.sum())]
    failed = result.timed_out
    slow = ~failed & (result.wait_s > budget)
    minute = (arrival // MINUTE_S).astype(np.int64)
    bad = np.bincount(minute, weights=(failed | slow).astype(np.float64), minlength=minutes)
    return float(failed.sum()), float(slow.sum()), np.asarray(bad, dtype=np.float64)


def _hybrid(
    window: Window,
    counts: FloatArray,
    service_time_s: float,
    budgets: FloatArray,
    weights: FloatArray,
    timeout_s: float,
) -> tuple[FloatArray, FloatArray]:
    """Failed and slow counts per minute of the hybrid model, as a month's pool computes them."""
    f = window.first
    mean_servers = window.servers_before * f + window.servers_after * (1.0 - f)
    split = np.flatnonzero(
        (window.servers_before != window.servers_after) | (window.rate_before != window.rate_after)
    )
    before = window.rate_before * f
    early = before / np.maximum(before + window.rate_after * (1.0 - f), 1e-12)
    edges, middle = split_walk(
        counts,
        mean_servers,
        service_time_s,
        timeout_s,
        split,
        f[split],
        window.servers_before[split],
        window.servers_after[split],
        early[split],
    )
    slow_j, timed = minute_shares(
        counts[:, None],
        mean_servers[:, None],
        edges[:-1, None],
        np.array([service_time_s]),
        budgets[None, :],
        timeout_s,
    )
    timed, slow = timed[:, 0], slow_j[:, 0, :] @ weights
    timed[split], slow[split] = split_shares(
        counts[split],
        f[split],
        early[split],
        window.servers_before[split],
        window.servers_after[split],
        edges[split],
        middle,
        service_time_s,
        budgets,
        weights,
        timeout_s,
    )
    # Near full load the diffusion walk replaces both (see ``diffusion``).
    args = (counts, window.servers_before, window.servers_after, f, early)
    mask = stressed_minutes(*args, edges, service_time_s)
    slow_s, timed_s = stressed_shares(mask, *args, service_time_s, budgets, timeout_s, drawn=True)
    timed[mask], slow[mask] = timed_s[mask], slow_s[mask] @ weights
    return timed * counts, slow * counts


def _agree(hybrid: float, exact: float, messages: float, noise: float = 0.0) -> bool:
    """Within ±3 %, or a negligible share of the messages, or the exact count's own noise."""
    return abs(hybrid - exact) <= max(TOLERANCE * exact, NEGLIGIBLE * messages, NOISE_Z * noise)


def compare_case(
    case: Case,
    base: FloatArray,
    servers: int,
    service_time_s: float,
    budgets: FloatArray,
    weights: FloatArray,
    timeout_s: float,
    threshold: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Run one case through both models on the same arrivals (common random numbers)."""
    window = _window(case, base, servers)
    arrival, counts = _arrivals(window, rng)
    weights = weights / weights.sum()
    h_failed_m, h_slow_m = _hybrid(
        window, counts.astype(np.float64), service_time_s, budgets, weights, timeout_s
    )
    e_failed, e_slow, e_bad_m = _exact(
        case, arrival, len(counts), servers, service_time_s, budgets, weights, timeout_s, rng
    )
    e_bad = e_bad_m / np.maximum(counts, 1)
    messages = float(counts.sum())
    h_bad = (h_failed_m + h_slow_m) / np.maximum(counts, 1)
    row: dict[str, Any] = {
        "case": case.name,
        "messages": int(messages),
        "exact": {
            "failed": e_failed,
            "slow": e_slow,
            "bad_minutes": int((e_bad > threshold).sum()),
        },
        "hybrid": {
            "failed": float(h_failed_m.sum()),
            "slow": float(h_slow_m.sum()),
            "bad_minutes": int((h_bad > threshold).sum()),
        },
    }
    row["agrees"] = _agree(row["hybrid"]["failed"], e_failed, messages) and _agree(
        row["hybrid"]["slow"], e_slow, messages
    )
    return row


def combine(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the rows of repeated windows of one case, with the exact counts' standard errors.

    One window's exact count is a sample: near full load its slow count varies by 10-20 %
    from draw to draw (the queue's random walk decides it), more than the ±3 % tolerance. The
    standard error of the summed exact count (from the spread between the repeats) is kept
    as ``noise``; a difference within :data:`NOISE_Z` of it cannot be told from chance.
    """
    out: dict[str, Any] = {"case": rows[0]["case"], "messages": sum(r["messages"] for r in rows)}
    for side in ("exact", "hybrid"):
        out[side] = {k: sum(r[side][k] for r in rows) for k in ("failed", "slow", "bad_minutes")}
    spread = len(rows) > 1
    out["noise"] = {
        k: float(np.std([r["exact"][k] for r in rows], ddof=1) * np.sqrt(len(rows)))
        if spread
        else 0.0
        for k in ("failed", "slow")
    }
    out["agrees"] = all(
        _agree(out["hybrid"][k], out["exact"][k], out["messages"], out["noise"][k])
        for k in ("failed", "slow")
    )
    out["within_tolerance"] = all(
        _agree(out["hybrid"][k], out["exact"][k], out["messages"]) for k in ("failed", "slow")
    )
    return out


def validate_windows(prepared: Prepared, seed: int, service: str | None = None) -> dict[str, Any]:
    """Compare the hybrid with the exact kernel on the canonical cases at the month's peak.

    Args:
        prepared: the scenario's layout and nominal minutes.
        seed: root seed (the validation uses its own child stream).
        service: the service whose pool is checked (default: the busiest pool at peak).
    """
    layout = prepared.layout
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31,)))
    origin = prepared.origin[:, 0, :]  # the first site's own traffic
    utilisation = origin.max(axis=0) * layout.service_time_s / (layout.servers * MINUTE_S)
    v = (
        int(np.argmax(utilisation))
        if service is None
        else [str(s) for s in SERVICES].index(service)
    )
    peak = int(np.argmax(origin[:, v]))
    first = max(min(peak - int(OUTAGE_START_MIN), prepared.minutes - WINDOW_MIN), 0)
    base = origin[first : first + WINDOW_MIN, v]
    servers = int(layout.servers[v])
    budgets = layout.traffic.slow_budget_s[v]
    weights = layout.traffic.slow_weight[v]
    keep = weights > 0
    rows = [
        combine(
            [
                compare_case(
                    case,
                    base,
                    servers,
                    float(layout.service_time_s[v]),
                    budgets[keep],
                    weights[keep],
                    layout.scenario.simulation.timeout,
                    layout.scenario.simulation.bad_minute_threshold,
                    rng,
                )
                for _ in range(REPEATS)
            ]
        )
        for case in cases(servers)
    ]
    return {
        "service": str(SERVICES[v]),
        "site": layout.sites[0],
        "window_start_minute": first,
        "tolerance": TOLERANCE,
        "repeats": REPEATS,
        "cases": rows,
        "agrees": all(r["agrees"] for r in rows),
    }
