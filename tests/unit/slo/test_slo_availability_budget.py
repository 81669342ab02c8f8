"""Request-based versus time-sliced availability, error budgets and burn rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.slo.availability import (
    organisations_summary,
    read_organisations,
    request_counts,
    request_counts_by,
    time_sliced,
)
from harness.slo.budget import (
    Series,
    alerts,
    burn_down,
    burn_rate,
    burn_rates,
    error_budget,
    per_second,
)

TARGET = 0.9997
T0 = 1_700_000_000


def _frame(good: np.ndarray, bad: np.ndarray, service: str = "pds") -> pd.DataFrame:
    seconds = np.arange(len(good))
    return pd.DataFrame(
        {"t": T0 + seconds, "service": service, "good": good, "bad": bad, "excluded": 0}
    )


def test_quiet_minutes_with_one_failure_sink_time_slices_not_requests() -> None:
    # Seven busy minutes (1,000 req/s), then three quiet ones (10 req/s) with one failure each.
    good = np.full(600, 1_000)
    good[420:] = 10
    bad = np.zeros(600, dtype=int)
    for minute in (7, 8, 9):
        bad[minute * 60 + 5] = 1
        good[minute * 60 + 5] -= 1
    frame = _frame(good, bad)
    requests = request_counts(frame)
    assert requests.availability == pytest.approx(1 - 3 / (420_000 + 1_800))
    assert requests.availability > TARGET  # 99.9993 %: meets the target by requests
    sliced = time_sliced(frame, target=TARGET, start_s=T0, end_s=T0 + 600)
    assert (sliced.slices, sliced.measured, sliced.bad) == (10, 10, 3)
    assert sliced.availability == pytest.approx(0.7)  # 70 %: three bad minutes of ten


def test_a_peak_burst_sinks_requests_more_than_time_slices() -> None:
    # Sixty minutes; 59 quiet (10 req/s) and one busy minute (1,000 req/s) with 5 % failures.
    rate = np.full(3_600, 10)
    rate[1_800:1_860] = 1_000
    bad = np.zeros(3_600, dtype=int)
    bad[1_800:1_860] = 50
    frame = _frame(rate - bad, bad)
    requests = request_counts(frame)
    assert requests.availability == pytest.approx(1 - 3_000 / (59 * 600 + 60_000))
    sliced = time_sliced(frame, target=TARGET, start_s=T0, end_s=T0 + 3_600)
    assert sliced.availability == pytest.approx(59 / 60)
    assert requests.availability < sliced.availability


def test_unmeasured_and_maintenance_slices_are_not_uptime() -> None:
    good = np.full(300, 10)
    good[120:180] = 0  # no traffic in the third minute
    frame = _frame(good, np.zeros(300, dtype=int))
    sliced = time_sliced(
        frame, target=TARGET, start_s=T0, end_s=T0 + 300, maintenance=[(T0 + 200, T0 + 230)]
    )
    assert sliced.slices == 5
    assert sliced.excluded == 1
    assert sliced.measured == 3
    assert sliced.coverage == pytest.approx(0.6)
    assert np.isnan(sliced.slice_availability[2])


def test_counts_per_service_and_organisation(tmp_path: Path) -> None:
    frame = pd.concat(
        [
            _frame(np.full(10, 9), np.full(10, 1), "pds"),
            _frame(np.full(10, 10), np.zeros(10), "eps"),
        ]
    )
    per = request_counts_by(frame, "service")
    assert per["pds"].availability == pytest.approx(0.9)
    assert per["eps"].availability == 1.0
    csv = tmp_path / "organisations.csv"
    csv.write_text(
        "ods_code,org_type,good,bad,excluded\n"
        "A1,gp-practice,9999,1,0\nA2,gp-practice,100,0,3\nB1,trust,0,0,5\nB2,trust,50,2,0\n"
    )
    summary = organisations_summary(read_organisations(csv), TARGET)
    assert summary["organisations"] == 4
    assert summary["measured"] == 3
    assert summary["below_target"] == 1
    assert summary["worst"][0]["ods_code"] == "B2"
    assert summary["by_org_type"]["gp-practice"] == {"organisations": 2, "below_target": 0}


def _naive_burn(valid: np.ndarray, bad: np.ndarray, end: int, window_s: int) -> float:
    start = max(end - window_s + 1, 0)
    v, b = valid[start : end + 1].sum(), bad[start : end + 1].sum()
    return float(b / v / (1 - TARGET)) if v else 0.0


def test_burn_rates_and_alerts_on_a_constructed_outage() -> None:
    # Two hours at 100 req/s with a one-minute total outage starting at 3,600 s.
    seconds = 7_200
    valid = np.full(seconds, 100.0)
    bad = np.zeros(seconds)
    bad[3_600:3_660] = 100.0
    series = Series(T0, valid, bad)
    allowed = 1 - TARGET
    for window_s in (300, 3_600, 21_600):
        rates = burn_rate(series, window_s, allowed)
        for end in (10, 3_599, 3_615, 3_659, 5_000, 7_199):
            assert rates[end] == pytest.approx(_naive_burn(valid, bad, end, window_s))
    # 1-hour burn at the end of the outage: 6,000 bad of 360,000.
    assert burn_rate(series, 3_600, allowed)[3_659] == pytest.approx(6_000 / 360_000 / allowed)
    fired = {a["rule"]: a for a in alerts(series, allowed)}
    # The page needs 0.432 % of an hour's 360,000 requests: 1,555.2 -> the 16th bad second.
    assert fired["1h/5m"]["first_at_s"] == 3_600 + 15
    assert fired["1h/5m"]["budget_spent_at_fire"] == pytest.approx(
        1_600 / 360_000 / allowed * 3_600 / (30 * 86_400)
    )
    expected = next(
        t
        for t in range(3_600, 3_660)
        if _naive_burn(valid, bad, t, 21_600) >= 6 and _naive_burn(valid, bad, t, 1_800) >= 6
    )
    assert fired["6h/30m"]["first_at_s"] == expected
    assert not fired["3d/6h"]["evaluated"]  # a two-hour run cannot fill a six-hour window
    assert not fired["3d/6h"]["fired"]
    summary = burn_rates(series, allowed)
    assert summary["1h"]["complete"]
    assert not summary["1d"]["complete"]
    assert summary["1h"]["max_at_s"] == 3_659


def test_error_budget_and_burn_down_go_negative_after_a_breach() -> None:
    series = per_second(_frame(np.full(600, 99), np.full(600, 1)), start_s=T0, end_s=T0 + 600)
    budget = error_budget(
        valid=60_000, bad=600, measured_minutes=10, bad_minutes=10, allowed_bad=1 - TARGET
    )
    assert budget.messages_allowed == pytest.approx(18.0)
    assert budget.messages_remaining_fraction == pytest.approx(1 - 600 / 18)
    assert budget.minutes_allowed == pytest.approx(0.003)
    down = burn_down(series, 1 - TARGET)
    assert down[0] == pytest.approx(1 - 1 / 18)
    assert down[-1] == pytest.approx(budget.messages_remaining_fraction)
