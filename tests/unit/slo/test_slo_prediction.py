"""The design verdict of a prediction: P(month below target) against the allowed maximum."""

from __future__ import annotations

from typing import Any

import pytest
from scipy.stats import binomtest

from harness.slo.prediction import judge_prediction, months_to_decide, wilson_interval
from harness.verdict import Verdict


def _breach(interval: tuple[float, float], k: int = 1, n: int = 20) -> dict[str, Any]:
    return {"probability": k / n, "interval": list(interval), "months": n, "breaches": k}


def _section(request: tuple[float, float], time: tuple[float, float]) -> dict[str, Any]:
    return {"request_based": {"breach": _breach(request)}, "time_based": {"breach": _breach(time)}}


@pytest.mark.parametrize(
    ("per_request", "per_minute", "verdict"),
    [
        ((0.00, 0.04), (0.00, 0.05), "pass"),  # both whole intervals at or below 5 %
        ((0.00, 0.04), (0.06, 0.30), "fail"),  # the time-based measure alone breaches
        ((0.10, 0.20), (0.00, 0.01), "fail"),
        ((0.02, 0.09), (0.00, 0.01), "inconclusive"),
        ((0.02, 0.09), (0.06, 0.30), "fail"),  # a shown breach beats an open question
    ],
)
def test_both_measures_are_judged_by_their_intervals(
    per_request: tuple[float, float], per_minute: tuple[float, float], verdict: str
) -> None:
    judgement = judge_prediction(_section(per_request, per_minute), 0.05)
    assert judgement["verdict"] == verdict
    assert [m["measure"] for m in judgement["measures"]] == ["request-based", "time-based"]


@pytest.mark.parametrize(("k", "n"), [(0, 4), (1, 20), (3, 40), (30, 100)])
def test_wilson_interval_is_scipys(k: int, n: int) -> None:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k / n, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


@pytest.mark.parametrize(("rate", "months"), [(0.0, 4), (0.02, 50), (0.1, 20)])
def test_months_to_decide_is_the_first_month_count_that_decides(rate: float, months: int) -> None:
    needed = months_to_decide(rate, months, 0.05)
    assert needed is not None
    low, high = wilson_interval(rate, needed)
    assert low > 0.05 or high <= 0.05
    low, high = wilson_interval(rate, needed - 1)
    assert low <= 0.05 < high


def test_a_rate_on_the_maximum_is_never_decided() -> None:
    assert months_to_decide(0.05, 100, 0.05) is None


def test_an_importance_sampled_run_is_judged_on_its_weighted_estimate() -> None:
    section = _section((0.5, 0.9), (0.5, 0.9))  # the biased months breach often
    section["importance_sampling"] = {
        "request_based": {"probability": 0.001, "interval": [0.0, 0.004], "months": 200}
    }
    judgement = judge_prediction(section, 0.05)
    assert judgement["verdict"] == Verdict.PASS
    request, time = judgement["measures"]
    assert request["measure"] == "request-based (importance-weighted)"
    assert time["verdict"] is None
    assert "importance" in time["note"]
