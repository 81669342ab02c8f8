"""Verdict bounds against exact binomial arithmetic (Clopper–Pearson, one-sided)."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binom

from harness.slo.confidence import judge, lower_bound, requests_to_pass, upper_bound
from harness.verdict import Verdict, worst

TARGET = 0.9997
LIMIT = 1 - TARGET
CONFIDENCE = 0.95


def _smallest_clean_run(failures: int) -> int:
    """Smallest n whose exact binomial test rejects p = LIMIT with ``failures`` failures."""
    n = failures + 1
    while binom.cdf(failures, n, LIMIT) > 1 - CONFIDENCE:
        n += 1
    return n


def test_zero_failures_closed_form_and_the_9986_anchor() -> None:
    # (1 - p)^n <= 0.05  <=>  n >= ln 0.05 / ln(1 - p)
    closed_form = math.ceil(math.log(1 - CONFIDENCE) / math.log(TARGET))
    assert closed_form == _smallest_clean_run(0)
    assert judge(0, closed_form, limit=LIMIT, confidence=CONFIDENCE).verdict is Verdict.PASS
    below = judge(0, closed_form - 1, limit=LIMIT, confidence=CONFIDENCE)
    assert below.verdict is Verdict.INCONCLUSIVE
    assert below.more_requests == 1
    # load-testing.md §6 quotes ≈ 9,986 clean requests: it passes.
    assert judge(0, 9_986, limit=LIMIT, confidence=CONFIDENCE).verdict is Verdict.PASS


@pytest.mark.parametrize("failures", [0, 1, 2, 5])
def test_minimum_requests_to_pass_match_exact_binomial(failures: int) -> None:
    n = _smallest_clean_run(failures)
    assert judge(failures, n, limit=LIMIT, confidence=CONFIDENCE).verdict is Verdict.PASS
    assert judge(failures, n - 1, limit=LIMIT, confidence=CONFIDENCE).verdict is not Verdict.PASS
    assert requests_to_pass(failures, n - 500, LIMIT, CONFIDENCE) == 500


def test_9900_clean_requests_are_inconclusive_with_the_right_count() -> None:
    result = judge(0, 9_900, limit=LIMIT, confidence=CONFIDENCE)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.more_requests == _smallest_clean_run(0) - 9_900
    assert f"{result.more_requests:,} more failure-free requests" in result.explain()


def test_a_high_failure_rate_fails() -> None:
    result = judge(30, 10_000, limit=LIMIT, confidence=CONFIDENCE)
    assert result.verdict is Verdict.FAIL
    # The lower bound is the p at which seeing >= 30 failures has probability 5 %.
    assert binom.sf(29, 10_000, result.lower) == pytest.approx(0.05, rel=1e-6)
    assert result.lower > LIMIT


def test_few_failures_near_the_limit_stay_inconclusive() -> None:
    result = judge(4, 10_000, limit=LIMIT, confidence=CONFIDENCE)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.lower < LIMIT < result.upper
    assert result.more_requests == requests_to_pass(4, 10_000, LIMIT, CONFIDENCE)
    after = judge(4, 10_000 + result.more_requests, limit=LIMIT, confidence=CONFIDENCE)
    assert after.verdict is Verdict.PASS


@pytest.mark.parametrize(("bad", "valid"), [(0, 100), (3, 1_000), (17, 40_000), (99, 100)])
def test_bounds_are_the_exact_binomial_tail_quantiles(bad: int, valid: int) -> None:
    upper = upper_bound(bad, valid, CONFIDENCE)
    assert binom.cdf(bad, valid, upper) == pytest.approx(1 - CONFIDENCE, rel=1e-6)
    lower = lower_bound(bad, valid, CONFIDENCE)
    if bad == 0:
        assert lower == 0.0
    else:
        assert binom.sf(bad - 1, valid, lower) == pytest.approx(1 - CONFIDENCE, rel=1e-6)


def test_edge_cases_and_bad_arguments() -> None:
    empty = judge(0, 0, limit=LIMIT, confidence=CONFIDENCE)
    assert empty.verdict is Verdict.INCONCLUSIVE
    assert empty.more_requests == _smallest_clean_run(0)
    assert upper_bound(5, 5, CONFIDENCE) == 1.0
    with pytest.raises(ValueError, match="bad"):
        judge(3, 2, limit=LIMIT, confidence=CONFIDENCE)
    with pytest.raises(ValueError, match="limit"):
        judge(0, 10, limit=0.0, confidence=CONFIDENCE)


def test_worst_verdict_order() -> None:
    assert worst([Verdict.PASS, Verdict.INCONCLUSIVE]) is Verdict.INCONCLUSIVE
    assert worst([Verdict.INCONCLUSIVE, Verdict.FAIL]) is Verdict.FAIL
    assert worst([Verdict.FAIL, Verdict.INVALID]) is Verdict.INVALID
    assert worst([]) is Verdict.PASS
