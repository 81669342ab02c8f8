"""Outcome rules and the mergeable window records of load runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.slo import Outcome, Window, WindowKey, classify, read_windows, write_windows
from harness.slo.windows import merge_windows


@pytest.mark.parametrize(
    ("status", "kwargs", "expected"),
    [
        (200, {}, Outcome.GOOD),
        (201, {"latency_s": 0.9}, Outcome.SLOW),
        (404, {}, Outcome.GOOD),  # an unknown patient is an answer, not a failure
        (409, {}, Outcome.GOOD),
        (412, {}, Outcome.GOOD),
        (400, {}, Outcome.CLIENT_ERROR),
        (401, {}, Outcome.CLIENT_ERROR),
        (429, {}, Outcome.QUOTA),
        (429, {"global_limit": True}, Outcome.CAPACITY),
        (503, {}, Outcome.UNAVAILABLE),
        (503, {"maintenance": True}, Outcome.MAINTENANCE),
        (500, {}, Outcome.SERVER_ERROR),
        (None, {}, Outcome.CONNECTION),
        (None, {"timed_out": True}, Outcome.TIMEOUT),
        (200, {"timed_out": True}, Outcome.TIMEOUT),
    ],
)
def test_classification_rules(
    status: int | None, kwargs: dict[str, object], expected: Outcome
) -> None:
    args: dict[str, object] = {"latency_s": 0.1, "latency_slo_s": 0.5, **kwargs}
    assert classify(status, **args) is expected  # type: ignore[arg-type]


def test_bad_and_excluded_are_disjoint() -> None:
    for outcome in Outcome:
        assert not (outcome.is_bad and outcome.is_excluded)
    assert not Outcome.GOOD.is_bad
    assert not Outcome.GOOD.is_excluded


def _window(rng: np.random.Generator, t: int) -> Window:
    window = Window(WindowKey(t, "pds.retrieve", "gp-practice"))
    window.drawn = window.sent = 50
    for latency in rng.lognormal(np.log(20_000), 0.5, 50):
        status = 200 if latency < 60_000 else 503
        outcome = classify(status, latency_s=latency / 1e6, latency_slo_s=0.5)
        window.record(outcome, status, latency_us=int(latency), service_us=int(latency * 0.8))
    return window


def test_windows_round_trip_and_merge_exactly(tmp_path: Path, rng: np.random.Generator) -> None:
    a = [_window(rng, t) for t in range(10)]
    b = [_window(rng, t) for t in range(5, 15)]
    path = tmp_path / "load" / "windows.jsonl"
    assert write_windows(path, a + b) == 20
    loaded = list(read_windows(path))
    merged = merge_windows(loaded)
    assert len(merged) == 15
    overlap = merged[WindowKey(7, "pds.retrieve", "gp-practice")]
    first, second = a[7], b[2]
    assert overlap.drawn == first.drawn + second.drawn
    assert overlap.latency.get_total_count() == 100
    # Merged histograms equal one histogram of both samples: same percentiles.
    reference = _window(np.random.default_rng(0), 0)
    reference.latency.reset()
    reference.latency.add(first.latency)
    reference.latency.add(second.latency)
    for q in (50, 90, 99, 99.9):
        assert overlap.latency.get_value_at_percentile(
            q
        ) == reference.latency.get_value_at_percentile(q)
    assert overlap.good + overlap.bad + overlap.excluded == 100


def test_a_broken_line_is_located(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_text('{"t": 1}\n')
    with pytest.raises(ValueError, match=r"windows.jsonl:1: not a window record"):
        list(read_windows(path))
