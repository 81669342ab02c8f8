"""Gate calibration on seeded synthetic runs shaped like real ones (tests/synthetic.py).

Each run: 500 req/s for 20 s over seven interactions, lognormal latency (p50 0.36 ms, p99
~1 ms as measured on loopback), per-second AR(1) drift and a per-run factor.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from harness.gate import judge_runs
from harness.gate.compare import GateThresholds, compare
from harness.gate.statistics import holm, proportion_test, shift_test
from harness.gate.summary import RunSummary, merge_org_types
from harness.verdict import Verdict
from tests.synthetic import Shape, cells, table_of

BASE = Shape(org_types=("gp-practice",))
THRESHOLDS = GateThresholds()


def _summary(rng: np.random.Generator, shape: Shape) -> RunSummary:
    return RunSummary(Path("synthetic"), merge_org_types(table_of(cells(rng, shape))), {})


def _pairs(seed: int, count: int, candidate: Shape) -> list[list[object]]:
    out = []
    for child in np.random.SeedSequence(seed).spawn(count):
        rng = np.random.default_rng(child)
        comparisons = compare(_summary(rng, BASE), _summary(rng, candidate), THRESHOLDS)
        out.append(comparisons)
    return out  # type: ignore[return-value]


def test_a_a_false_alarms_at_most_one_percent_over_500_pairs() -> None:
    results = _pairs(20141, 500, BASE)
    alarms = sum(any(c.regression for c in pair) for pair in results)  # type: ignore[attr-defined]
    print(f"A/A false alarms: {alarms}/500")
    assert alarms <= 5


def test_a_12_percent_p50_shift_at_500_per_second_over_20_s_is_detected() -> None:
    # +0.05 ms of CPU per request: +12 % on the 0.36 ms median, the tail barely moves.
    shifted = dataclasses.replace(BASE, shift_us=0.12 * BASE.median_us)
    results = _pairs(20142, 20, shifted)
    for pair in results:
        flagged = {(c.scope, c.statistic) for c in pair if c.regression}  # type: ignore[attr-defined]
        assert ("all interactions", "p50") in flagged


def test_a_p99_only_regression_is_detected_and_is_not_a_p50_one() -> None:
    # 2 % of requests take 1 ms longer (a lock on a slow path): p99 doubles, p50 hardly moves.
    tail = dataclasses.replace(BASE, tail_fraction=0.02, tail_extra_us=1_000.0)
    results = _pairs(20143, 20, tail)
    for pair in results:
        by = {(c.scope, c.statistic): c for c in pair}  # type: ignore[attr-defined]
        assert by[("all interactions", "p99")].regression
        assert abs(by[("all interactions", "p50")].relative_shift) < 0.05


def test_large_samples_alone_never_alarm() -> None:
    # A real but negligible +2 % shift over 2 minutes at 2,000 req/s: significant, not an alarm.
    rng = np.random.default_rng(20144)
    big = dataclasses.replace(
        BASE, rate_per_s=2_000.0, duration_s=120, drift_sigma=0.0, run_sigma=0.0
    )
    a = _summary(rng, big)
    b = _summary(rng, dataclasses.replace(big, shift_us=0.02 * BASE.median_us))
    comparisons = {(c.scope, c.statistic): c for c in compare(a, b, THRESHOLDS)}
    p50 = comparisons[("all interactions", "p50")]
    assert p50.p_adjusted is not None
    assert p50.p_adjusted < 1e-6
    assert p50.relative_shift is not None
    assert 0.0 < p50.relative_shift < 0.05
    assert not any(c.regression for c in comparisons.values())


def test_an_availability_drop_is_a_regression() -> None:
    rng = np.random.default_rng(20145)
    a = _summary(rng, BASE)
    b = _summary(rng, dataclasses.replace(BASE, error_rate=0.005))
    result = judge_runs(a, b, THRESHOLDS)
    assert result.verdict is Verdict.FAIL  # a regression
    availability = next(c for c in result.comparisons if c.scope == "availability")
    assert availability.regression
    assert availability.candidate is not None
    assert availability.candidate > 0.004


def test_statistics_helpers_against_hand_arithmetic() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    test = shift_test([1.0, 2.0, 3.0, 4.0], [3.5, 4.5, 5.5, 6.5], serial_correction=False)
    # Pairs with b > a: 3.5 beats three, the others beat all four: 15 of 16.
    assert test.superiority == pytest.approx(15 / 16)
    assert test.shift == pytest.approx(2.5)
    fisher = proportion_test(0, 10_000, 3, 10_000)
    assert fisher.method == "fisher-exact"
    z = proportion_test(100, 100_000, 160, 100_000)
    assert z.method == "two-proportion-z"
    assert z.p_value < 0.001
    with pytest.raises(ValueError, match="two windows"):
        shift_test([1.0], [2.0, 3.0])
