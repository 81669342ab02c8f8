"""Scripted faults in ``simulate``: placed by ``at_time``, applied on top of the random failures.

The checks hold the model to figures that do not come from it: a lost data centre's traffic
fails until the failover's detection (the closed form of ``closed_forms`` with a repair longer
than the detection, ``g(d) = d``), and the queueing it causes on the surviving site matches the
exact message-level kernel on the same per-minute rates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from harness.config.availability import Cause
from harness.config.placement import run_placement, simulate_placement, wall_faults
from harness.simulation import prepared_for, simulate_month
from harness.simulation.flows import CAUSES
from harness.simulation.kernel import fifo_kernel
from tests.unit.simulation.conftest import scenario_with

MONDAY = {"simulation__start": "2014-09-08T00:00", "simulation__duration": "1d"}
LOSE_B = {
    "kind": "lose-data-centre",
    "data_centre": "dc-b",
    "at_time": "2014-09-08T08:00",
    "duration": "2h",
}
EIGHT_AM_MIN = 8 * 60  # the fault's minute in the window
MINUTE_S = 60.0


def _bad(scenario_changes: dict[str, Any], seed: int = 1) -> Any:
    return simulate_month(
        prepared_for(scenario_with(**scenario_changes)), np.random.default_rng(seed)
    )


def test_a_lost_data_centre_fails_its_traffic_until_the_failover_detects_it() -> None:
    """Closed form: with a working failover (p = 1) and a loss longer than detection ``d``, the
    lost site's traffic fails for ``p·g(d) = E[min(T, d)] = d`` seconds, nothing else fails
    (pools generous enough to take the twin's traffic)."""
    detection_min = 5
    common = {
        **MONDAY,
        "topology__failover__success_probability": 1.0,
        "topology__failover__detection": f"{detection_min}m",
        "topology__pools__pds": {"servers": 40, "service_time_ms": 12},
        "topology__pools__eps": {"servers": 40, "service_time_ms": 18},
    }
    month = _bad({**common, "faults": [LOSE_B]})
    origin = prepared_for(scenario_with(**common)).origin  # (minutes, sites, services)
    expected = float(origin[EIGHT_AM_MIN : EIGHT_AM_MIN + detection_min, 1, :].sum())
    site = int(month.failed_by_cause[CAUSES.index(Cause.SITE)])
    assert abs(site - expected) <= 4 * np.sqrt(expected), (site, expected)
    assert int(month.bad.sum()) == pytest.approx(site, rel=0.01)
    assert int(_bad(common).bad.sum()) < 0.001 * expected  # without it, almost nothing


def _kernel_bad(prepared: Any, moved: bool, rng: np.random.Generator, detection_min: int) -> int:
    """Failed and slow requests of the first site's pds pool, message by message."""
    layout, origin = prepared.layout, prepared.origin
    first, last = EIGHT_AM_MIN - 10, EIGHT_AM_MIN + 180
    rate = origin[first:last, 0, 0].copy()
    if moved:
        a, b = EIGHT_AM_MIN + detection_min, EIGHT_AM_MIN + 120
        rate[a - first : b - first] += origin[a:b, 1, 0]
    counts = rng.poisson(rate)
    minute = np.repeat(np.arange(first, last) * MINUTE_S, counts)
    arrival = np.sort(minute + rng.random(len(minute)) * MINUTE_S)
    service = rng.exponential(layout.service_time_s[0], len(arrival))
    timeout = layout.scenario.simulation.timeout
    result = fifo_kernel(arrival, service, int(layout.servers[0]), timeout)
    budgets, weights = layout.traffic.slow_budget_s[0], layout.traffic.slow_weight[0]
    budget = budgets[rng.choice(len(budgets), size=len(arrival), p=weights / weights.sum())]
    failed = result.timed_out
    return int((failed | (~failed & (result.wait_s > budget))).sum())


def test_a_two_hour_data_centre_loss_changes_the_month_by_what_the_exact_kernel_gives() -> None:
    """Losing dc-b for 2 h from Monday 08:00 moves its traffic onto dc-a's pds pool (up to
    1.9 times its capacity): the month's extra bad requests are the minute of detection's lost
    traffic plus the queueing the exact kernel gives on the same rates, within ±3 %."""
    common = {
        **MONDAY,
        "traffic__scale": "0.1",
        "topology__failover__success_probability": 1.0,
        "topology__pools__pds": {"servers": 2, "service_time_ms": 45},
    }
    without = int(_bad(common).bad.sum())
    with_fault = int(_bad({**common, "faults": [LOSE_B]}).bad.sum())
    prepared = prepared_for(scenario_with(**common))
    lost = float(prepared.origin[EIGHT_AM_MIN, 1, :].sum())  # 60 s of detection, every service
    rng = np.random.default_rng(2024)
    queued = np.mean([_kernel_bad(prepared, True, rng, 1) for _ in range(3)])
    queued -= _kernel_bad(prepared, False, rng, 1)
    exact = lost + queued
    assert exact > 10 * lost  # the queueing dominates: this is a test of it
    assert with_fault - without == pytest.approx(exact, rel=0.03), (with_fault - without, exact)


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        ({"kind": "supplier-outage", "supplier": "emis", "duration": "1h"}, Cause.SUPPLIER),
        ({"kind": "errors", "service": "pds", "fraction": 0.5, "duration": "1h"}, Cause.SOFTWARE),
        (
            {"kind": "latency", "service": "eps", "latency_ms": 600, "duration": "1h"},
            Cause.SOFTWARE,
        ),
        ({"kind": "stall-storage", "duration": "10m"}, Cause.DATABASE),
        ({"kind": "maintenance", "service": "pds", "duration": "1h"}, Cause.MAINTENANCE),
        ({"kind": "pause-worker", "worker": 0, "duration": "1h"}, Cause.HARDWARE),
        ({"kind": "kill-worker", "worker": 0}, Cause.HARDWARE),
    ],
    ids=lambda v: v.get("kind") if isinstance(v, dict) else str(v),
)
def test_every_fault_kind_is_applied_under_its_cause(fault: dict[str, Any], cause: Cause) -> None:
    """Each kind costs requests under the cause an operator would give it; none without it.

    The pds pool runs near capacity at 08:00 so that a worker's loss shows as queueing."""
    common = {
        **MONDAY,
        "traffic__scale": "0.1",
        "topology__data_centres": ["dc-a"],
        "topology__pools__pds": {"servers": 2, "service_time_ms": 40},
    }
    scripted = {**fault, "at_time": "2014-09-08T08:00"}
    month = _bad({**common, "faults": [scripted]})
    base = _bad(common)
    k = CAUSES.index(cause)
    hit = month.failed_by_cause[k] + month.slow_by_cause[k]
    assert base.failed_by_cause[k] + base.slow_by_cause[k] == 0
    assert hit > 0


def test_a_fault_needs_exactly_one_of_at_and_at_time() -> None:
    for extra in ({}, {"at": 10, "at_time": "2014-09-08T08:00"}):
        with pytest.raises(ValidationError, match="exactly one of at"):
            scenario_with(faults=[{"kind": "stall-storage", "duration": 5, **extra}])


def test_simulate_places_at_time_and_names_what_it_ignores() -> None:
    scenario = scenario_with(
        **MONDAY,
        faults=[
            {"kind": "kill-worker", "at": "30s"},
            LOSE_B,
            {**LOSE_B, "at_time": "2014-09-10T08:00"},  # after the one-day window
        ],
    )
    placement = simulate_placement(scenario)
    assert [p.offset_s for p in placement.placed] == [8 * 3600.0]
    assert len(placement.ignored) == 2
    assert "faults[0] (kill-worker at 30s)" in placement.ignored[0]
    assert "faults[2] (lose-data-centre at_time 2014-09-10T08:00)" in placement.ignored[1]
    assert "outside the simulated window" in placement.ignored[1]


def test_run_converts_at_time_inside_the_load_window_to_wall_time() -> None:
    scenario = scenario_with(
        traffic={"start": "2014-09-08T08:00", "duration": "1h", "time_scale": 60},
        faults=[
            {"kind": "stall-storage", "at": "5s", "duration": 2},
            {"kind": "stall-storage", "at_time": "2014-09-08T08:30", "duration": 2},
            {"kind": "stall-storage", "at_time": "2014-09-08T07:59", "duration": 2},
        ],
    )
    placement = run_placement(scenario)
    assert [p.offset_s for p in placement.placed] == [5.0, 30.0]  # 30 min of profile at 60x
    assert len(placement.ignored) == 1
    assert placement.ignored[0].startswith("run ignores faults[2] (stall-storage at_time")
    converted, ignored = wall_faults(scenario)
    assert [f.at for f in converted.faults] == [5.0, 30.0]
    assert all(f.at_time is None for f in converted.faults)
    assert ignored == placement.ignored
