"""Sparse HDR histograms agree with hdrh; latency percentiles and objectives from windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.slo.histogram import (
    SparseCounts,
    count_above,
    merge,
    percentiles_us,
    sparse_from_values,
    to_histogram,
)
from harness.slo.latency import interaction_percentiles, latency_judgements
from harness.slo.objectives import objectives_from_scenario
from harness.slo.outcomes import Outcome
from harness.slo.table import load_table
from harness.slo.windows import Window, WindowKey, new_histogram, write_windows


def test_sparse_counts_match_hdrh_exactly(rng: np.random.Generator) -> None:
    values = np.concatenate(
        [rng.integers(1, 3_000, 5_000), rng.lognormal(9, 2.5, 5_000).astype(np.int64) + 1]
    )
    values = np.clip(values, 1, 600_000_000)
    histogram = new_histogram()
    for v in values:
        histogram.record_value(int(v))
    sparse = sparse_from_values(values)
    reference = SparseCounts.of(histogram)
    assert np.array_equal(sparse.index, reference.index)
    assert np.array_equal(sparse.count, reference.count)
    qs = [0, 1, 25, 50, 90, 99, 99.9, 100]
    assert percentiles_us(sparse, qs) == [histogram.get_value_at_percentile(q) for q in qs]
    again = to_histogram(sparse)
    assert again.get_total_count() == len(values)
    assert again.get_value_at_percentile(99) == histogram.get_value_at_percentile(99)


def test_merge_equals_one_histogram_of_everything(rng: np.random.Generator) -> None:
    a = rng.lognormal(6, 0.5, 1_000)
    b = rng.lognormal(7, 0.5, 1_500)
    merged = merge([sparse_from_values(a), sparse_from_values(b)])
    whole = sparse_from_values(np.concatenate([a, b]))
    assert np.array_equal(merged.index, whole.index)
    assert np.array_equal(merged.count, whole.count)
    assert count_above(whole, 1_000) == int((np.concatenate([a, b]).astype(int) > 1_000).sum())
    assert percentiles_us(SparseCounts.empty(), [50])[0] != percentiles_us(whole, [50])[0]


def _window(t: int, interaction: str, latencies_us: np.ndarray, org: str) -> Window:
    window = Window(WindowKey(t, interaction, org))
    for latency in latencies_us:
        slow = latency > 500_000
        window.record(
            Outcome.SLOW if slow else Outcome.GOOD,
            200,
            latency_us=int(latency),
            service_us=int(latency // 2),
        )
    window.drawn = window.sent = len(latencies_us)
    return window


def test_interaction_percentiles_and_latency_objective(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    windows = []
    every = []
    for t in range(20):
        # 3 % of pds.retrieve slower than its 0.5 s objective (allowed: 5 % at p95).
        fast = rng.uniform(10_000, 400_000, 97)
        slow = rng.uniform(600_000, 900_000, 3)
        sample = np.concatenate([fast, slow])
        every.append(sample.astype(np.int64))
        # Two workers wrote the same key: halves must merge.
        windows.append(_window(t, "pds.retrieve", sample[:50], "gp-practice"))
        windows.append(_window(t, "pds.retrieve", sample[50:], "gp-practice"))
    path = tmp_path / "windows.jsonl"
    write_windows(path, windows)
    table = load_table(path)
    assert len(table.frame) == 20
    percentiles = interaction_percentiles(table).set_index("interaction")
    reference = sparse_from_values(np.concatenate(every))
    assert percentiles.loc["pds.retrieve", "count"] == 2_000
    assert percentiles.loc["pds.retrieve", "latency_p50_ms"] == pytest.approx(
        percentiles_us(reference, [50])[0] / 1000
    )
    # The service-time view is half the latency in this data.
    assert percentiles.loc["all", "service_p99_ms"] < percentiles.loc["all", "latency_p99_ms"]
    judged = latency_judgements(table, objectives_from_scenario(None))["pds.retrieve"]
    assert judged["over_threshold"] == 60
    assert judged["judgement"].verdict == "pass"  # 3 % slow, upper bound < 5 %
    strict = objectives_from_scenario(
        {"slo": {"latency": {"pds.retrieve": {"threshold": 0.5, "percentile": 0.99}}}}
    )
    assert latency_judgements(table, strict)["pds.retrieve"]["judgement"].verdict == "fail"
