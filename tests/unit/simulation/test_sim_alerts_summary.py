"""Burn-rate alert replay and the statistics across replications."""

from __future__ import annotations

import numpy as np
import pytest

from harness.simulation.alerts import replay_alerts
from harness.simulation.summary import breach, wilson

MONTH_MIN = 30 * 24 * 60
TARGET = 0.9997


def _series(outage: slice | None, share: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    total = np.full(MONTH_MIN, 9_000.0)
    bad = np.zeros(MONTH_MIN)
    if outage is not None:
        bad[outage] = total[outage] * share
    return bad, total


def test_total_outage_pages_in_its_first_minute() -> None:
    bad, total = _series(slice(10_000, 10_015))  # 15 min > 12.96 min budget
    replay = replay_alerts(bad, total, TARGET)
    assert replay.pages == 1
    assert replay.first_page_min == 10_000
    assert replay.time_to_page_min == 1
    assert replay.breached
    assert not replay.missed_page
    assert replay.budget_at_page == 0.0


def test_quiet_month_pages_nothing() -> None:
    replay = replay_alerts(*_series(None), TARGET)
    assert (replay.pages, replay.tickets, replay.breached) == (0, 0, False)


def test_slow_burn_breaches_without_a_page() -> None:
    # 0.05 % errors all month: 1.7x the budget rate, below every page threshold (6x, 14.4x),
    # above the 3-day ticket (1x): a ticket, no page, and the month breaches — a missed page.
    bad, total = _series(slice(0, MONTH_MIN), share=0.0005)
    replay = replay_alerts(bad, total, TARGET)
    assert replay.pages == 0
    assert replay.tickets == 1
    assert replay.missed_page


def test_brown_out_pages_later_than_an_outage() -> None:
    # 1 % errors is a 33x burn: the 1 h window crosses 14.4x after about 26 minutes.
    bad, total = _series(slice(5_000, 5_120), share=0.01)
    replay = replay_alerts(bad, total, TARGET)
    assert replay.time_to_page_min == pytest.approx(27, abs=1)


def test_wilson_interval_matches_the_formula() -> None:
    k, n, z = 44, 1000, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = wilson(k, n)
    assert low == pytest.approx(centre - half, rel=1e-9)
    assert high == pytest.approx(centre + half, rel=1e-9)


def test_breach_probability_and_the_year() -> None:
    months = np.r_[np.full(96, 0.9999), np.full(4, 0.999)]
    result = breach(months, TARGET)
    assert result["breaches"] == 4
    assert result["probability"] == 0.04
    assert result["year_probability"] == pytest.approx(1 - 0.96**12)
    low, high = result["year_interval"]
    assert low < result["year_probability"] < high
