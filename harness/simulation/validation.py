"""Checking the hybrid model against the exact kernel on sampled windows (``--validate``).

The hybrid model's queueing (Erlang C per minute plus a fluid backlog) is an approximation; the
exact kernel (:mod:`~harness.simulation.kernel`) is not. For the canonical stress cases — a
third of a pool lost at the busiest minute of the month, a data centre's traffic moved onto its
twin at peak, a cut-off cohort flushing its held messages on reconnection — both are run on the
*same* per-minute Poisson arrival counts (common random numbers), over a three-hour window
around the peak, and their failed (timed-out) and slow counts are compared. They agree when each
count is within ±3 % — or, for counts too small to matter, within 0.01 % of the messages.
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

FloatArray = npt.NDArray[np.float64]
WINDOW_MIN = 180  # minutes per sampled window
OUTAGE_START_MIN = 30.5  # the outage starts half-way through a minute, on purpose
OUTAGE_MIN = 30.0  # and lasts this long
TOLERANCE = 0.03  # ±3 % on failed and slow counts
NEGLIGIBLE = 1e-4  # differences below this share of the messages do not count


@dataclass(frozen=True)
class Case:
    """One stress case: extra arrivals and servers out during the outage."""

    name: str
    servers_out: int
    extra_share: float  # extra arrivals as a share of the pool's own (1.0 = twin's traffic)
    flush_share: float  # share of an hour's traffic flushed over ten minutes after the outage


def cases(servers: int) -> tuple[Case, ...]:
    """The canonical cases for a pool of ``servers``."""
    return (
        Case("node-loss-at-peak", max(servers // 3, 1), 0.0, 0.0),
        Case("data-centre-loss-at-peak", 0, 1.0, 0.0),
        Case("cohort-reconnect-flush", 0, 0.0, 0.4),
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
    start, stop = OUTAGE_START_MIN, OUTAGE_START_MIN + OUTAGE_MIN
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
    change = np.array([0.0, OUTAGE_START_MIN, OUTAGE_START_MIN + OUTAGE_MIN]) * MINUTE_S
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
    return timed * counts, slow * counts


def _agree(hybrid: float, exact: float, messages: float) -> bool:
    return abs(hybrid - exact) <= max(TOLERANCE * exact, NEGLIGIBLE * messages)


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
        for case in cases(servers)
    ]
    return {
        "service": str(SERVICES[v]),
        "site": layout.sites[0],
        "window_start_minute": first,
        "tolerance": TOLERANCE,
        "cases": rows,
        "agrees": all(r["agrees"] for r in rows),
    }
