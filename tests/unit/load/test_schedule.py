"""The arrival schedule: Poisson at the intended rate, reproducible, split across generators.

These tests import only the numpy parts of ``harness.load`` (Locust is never imported here:
it would monkey-patch the test process).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import stats

from harness.load.schedule import Schedule, constant_rates
from harness.spine import TrafficProfile
from harness.spine.calendar import to_epoch_s


def _constant(
    rate: float, duration_s: float, *, seed: int = 1, worker: int = 0, workers: int = 1
) -> Schedule:
    return Schedule(
        rates=constant_rates(rate, np.array([3.0, 1.0])),
        stream_types=np.array([0, 1]),
        type_sizes=[10, 5],
        start_s=0.0,
        duration_s=duration_s,
        seed=seed,
        worker=worker,
        workers=workers,
    )


def _times(schedule: Schedule) -> np.ndarray:
    return np.concatenate([c.offset_s for c in schedule.chunks()])


def test_locust_is_not_imported_by_the_schedule() -> None:
    assert "locust" not in sys.modules
    assert "gevent" not in sys.modules


def test_constant_rate_count_is_poisson_and_inter_arrivals_exponential() -> None:
    schedule = _constant(500.0, 30.0)
    times = _times(schedule)
    expected = 500 * 30
    assert abs(len(times) - expected) < 3 * np.sqrt(expected)
    assert np.all(np.diff(times) >= 0)
    gaps = np.diff(times)
    # Kolmogorov–Smirnov against the exponential with the intended mean.
    result = stats.kstest(gaps, "expon", args=(0, 1 / 500))
    assert result.pvalue > 0.01
    # Counts per second are Poisson: variance close to the mean (index of dispersion).
    counts = np.bincount(times.astype(int), minlength=30)
    dispersion = counts.var(ddof=1) / counts.mean()
    assert 0.5 < dispersion < 1.6


def test_a_chi_square_check_fails_for_a_non_poisson_schedule() -> None:
    # The same check must reject evenly spaced arrivals, or it proves nothing.
    even = np.arange(0, 30, 1 / 500)
    result = stats.kstest(np.diff(even), "expon", args=(0, 1 / 500))
    assert result.pvalue < 1e-6


def test_same_seed_same_schedule_and_streams_follow_weights() -> None:
    a = [(c.offset_s, c.stream, c.org) for c in _constant(200.0, 120.0).chunks()]
    b = [(c.offset_s, c.stream, c.org) for c in _constant(200.0, 120.0).chunks()]
    for (ta, sa, oa), (tb, sb, ob) in zip(a, b, strict=True):
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(sa, sb)
        np.testing.assert_array_equal(oa, ob)
    other = _times(_constant(200.0, 120.0, seed=2))
    assert len(other) != len(_times(_constant(200.0, 120.0))) or not np.array_equal(
        other, _times(_constant(200.0, 120.0))
    )
    streams = np.concatenate([c.stream for c in _constant(200.0, 120.0).chunks()])
    assert abs(np.mean(streams == 0) - 0.75) < 0.02
    orgs = np.concatenate([c.org for c in _constant(200.0, 120.0).chunks()])
    assert orgs[streams == 0].max() < 10
    assert orgs[streams == 1].max() < 5


def test_workers_share_the_rate() -> None:
    full = len(_times(_constant(400.0, 60.0)))
    halves = [len(_times(_constant(400.0, 60.0, worker=w, workers=2))) for w in (0, 1)]
    assert abs(sum(halves) - 24_000) < 3 * np.sqrt(24_000)
    assert abs(full - 24_000) < 3 * np.sqrt(24_000)
    assert all(abs(h - 12_000) < 3 * np.sqrt(12_000) for h in halves)


def test_profile_schedule_follows_the_profile_and_compresses_time() -> None:
    profile = TrafficProfile()
    start = to_epoch_s("2014-09-01T08:00")
    schedule = Schedule(
        rates=profile.rates,
        stream_types=np.zeros(len(profile.streams), dtype=np.int64),
        type_sizes=[1],
        start_s=start,
        duration_s=3600.0,
        time_scale=60.0,
        rate_scale=0.01,
    )
    assert schedule.wall_duration_s == 60.0
    times = _times(schedule)
    expected = profile.messages(start, start + 3600.0, resolution_s=1.0) * 0.01
    assert abs(len(times) - expected) < 4 * np.sqrt(expected)
    assert schedule.expected() == pytest.approx(expected, rel=1e-6)
    assert times.max() <= 60.0


def test_masked_streams_carry_no_arrivals() -> None:
    schedule = Schedule(
        rates=constant_rates(100.0, np.array([1.0, 1.0])),
        stream_types=np.array([0, 0]),
        type_sizes=[3],
        start_s=0.0,
        duration_s=20.0,
        mask=np.array([True, False]),
    )
    streams = np.concatenate([c.stream for c in schedule.chunks()])
    assert set(streams.tolist()) == {0}
