"""The hybrid model against the exact message-level kernel, on the same arrival counts.

Each canonical case is run at two pool sizes — one left *near full load* by the failure (the
surviving capacity at 91-100 % of the busiest minute's arrival rate), one clearly overloaded
or clearly not — over several seeds, and the failed and the slow counts are compared
*separately*, each within ±3 % (or, when tiny, within 0.01 % of the messages). Near full load
one window's exact count varies by 5-15 % between seeds, so the counts are summed over
:data:`SEEDS` windows of 90 minutes (30 before the event, the event, the drain); the
standard error of the summed exact count is printed with ``-s``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from harness.simulation import Prepared
from harness.simulation.queueing import MINUTE_S
from harness.simulation.validation import (
    NEGLIGIBLE,
    OUTAGE_START_MIN,
    TOLERANCE,
    cases,
    combine,
    compare_case,
)

SEEDS = range(1, 13)
WINDOW_MIN = 90  # 30 minutes before the event, the event, and the drain after it


def _peak_window(prepared: Prepared) -> np.ndarray:
    origin = prepared.origin[:, 0, 0]  # PDS at the first site
    first = int(np.argmax(origin)) - int(OUTAGE_START_MIN)
    return np.asarray(origin[first : first + WINDOW_MIN])


def _service_time_s(case_name: str, servers: int, capacity: float, peak_per_min: float) -> float:
    """Service time that leaves the pool ``capacity`` × the event's peak arrival rate."""
    case = next(c for c in cases(servers) if c.name == case_name)
    left = servers - case.servers_out if case.servers_out < servers else servers
    arriving = peak_per_min * (1.0 + max(case.extra_share, 0.0))
    return left * MINUTE_S / (capacity * arriving)


# (case, servers, surviving capacity over the event's peak arrival rate, requests time out)
CONFIGS = [
    ("node-loss-at-peak", 6, 0.91, False),
    ("node-loss-at-peak", 12, 0.6, True),
    ("data-centre-loss-at-peak", 6, 0.91, False),
    ("data-centre-loss-at-peak", 12, 0.6, True),
    ("database-failover-at-peak", 6, 1.0, True),
    ("database-failover-at-peak", 12, 1.4, True),
    ("migration-wave-at-peak", 6, 0.91, False),
    ("migration-wave-at-peak", 12, 0.7, True),
]


@pytest.mark.parametrize(("case_name", "servers", "capacity", "times_out"), CONFIGS)
def test_hybrid_agrees_with_the_exact_kernel(
    make_prepared: Callable[..., Prepared],
    case_name: str,
    servers: int,
    capacity: float,
    times_out: bool,
) -> None:
    prepared = make_prepared(topology__pools__pds={"servers": servers})
    layout = prepared.layout
    base = _peak_window(prepared)
    case = next(c for c in cases(servers) if c.name == case_name)
    service_s = _service_time_s(case_name, servers, capacity, float(base.max()))
    rows = [
        compare_case(
            case,
            base,
            servers,
            service_s,
            layout.traffic.slow_budget_s[0],
            layout.traffic.slow_weight[0],
            layout.scenario.simulation.timeout,
            layout.scenario.simulation.bad_minute_threshold,
            np.random.default_rng(seed),
        )
        for seed in SEEDS
    ]
    row = combine(rows)
    exact, hybrid, noise = row["exact"], row["hybrid"], row["noise"]
    print(f"\n{case_name} c={servers} capacity={capacity}: {row}")
    assert exact["slow"] > 100 * NEGLIGIBLE * row["messages"], "the case must stress the pool"
    if times_out:  # then the failed counts are compared on thousands, not on zeros
        assert exact["failed"] > 10 * NEGLIGIBLE * row["messages"]
    for count in ("failed", "slow"):
        allowed = max(TOLERANCE * exact[count], NEGLIGIBLE * row["messages"])
        assert abs(hybrid[count] - exact[count]) <= allowed, (
            f"{count}: hybrid {hybrid[count]:.0f} vs exact {exact[count]:.0f} "
            f"(±{noise[count]:.0f} sampling noise)"
        )
