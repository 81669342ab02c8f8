"""Sparse HDR histograms: percentiles of many windows without thousands of histogram objects.

Every window carries two HDR histograms (1 µs to 10 minutes, 3 significant digits), each a
counts array of 21,504 buckets. A ten-minute run has tens of thousands of windows, so keeping
one ``HdrHistogram`` per window (172 KB each) would take gigabytes. A window's histogram has at
most as many non-zero buckets as it has requests, so it is kept as :class:`SparseCounts` —
the indices of the non-zero buckets and their counts — and any group of windows merges by
concatenation. Percentiles follow ``HdrHistogram.get_value_at_percentile`` exactly: the first
bucket whose cumulative count reaches ``round(q/100 · total)`` (at least 1), reported as the
highest value equivalent to that bucket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram

from harness.slo.windows import HDR_HIGHEST_US, HDR_LOWEST_US, new_histogram

IntArray = npt.NDArray[np.int64]
_SUB_BUCKET_HALF_MAGNITUDE = 10  # 2,048 sub-buckets for 3 significant digits
_SUB_BUCKET_MASK = (1 << (_SUB_BUCKET_HALF_MAGNITUDE + 1)) - 1


@cache
def bucket_values_us() -> IntArray:
    """The value (µs) reported for each bucket index of the windows' histogram layout."""
    reference = new_histogram()
    return np.array(
        [
            reference.get_highest_equivalent_value(reference.get_value_from_index(i))
            for i in range(reference.counts_len)
        ],
        dtype=np.int64,
    )


@dataclass(frozen=True)
class SparseCounts:
    """The non-zero buckets of one or more merged histograms, sorted by bucket index."""

    index: IntArray
    count: IntArray

    @property
    def total(self) -> int:
        """Recorded values."""
        return int(self.count.sum())

    @classmethod
    def empty(cls) -> SparseCounts:
        """No values."""
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @classmethod
    def of(cls, histogram: HdrHistogram) -> SparseCounts:
        """The non-zero buckets of an ``HdrHistogram`` of the windows' layout."""
        counts = np.ctypeslib.as_array(histogram.counts)
        index = np.flatnonzero(counts).astype(np.int64)
        return cls(index, counts[index].astype(np.int64))

    def values_us(self) -> IntArray:
        """The value of each non-zero bucket, µs."""
        return bucket_values_us()[self.index]


def sparse_from_values(values_us: npt.ArrayLike) -> SparseCounts:
    """The sparse histogram of raw values (µs), bucketed exactly as ``record_value`` would.

    Vectorised over the windows' layout (1 µs to 10 min, 3 significant digits: 2,048
    sub-buckets, unit magnitude 0), so synthetic runs and tests need no Python loop.
    """
    values = np.clip(np.asarray(values_us, dtype=np.int64), HDR_LOWEST_US, HDR_HIGHEST_US)
    if values.size == 0:
        return SparseCounts.empty()
    _, bit_length = np.frexp((values | _SUB_BUCKET_MASK).astype(np.float64))
    bucket = bit_length.astype(np.int64) - (_SUB_BUCKET_HALF_MAGNITUDE + 1)
    sub_bucket = values >> bucket
    index = (
        ((bucket + 1) << _SUB_BUCKET_HALF_MAGNITUDE)
        + sub_bucket
        - (1 << _SUB_BUCKET_HALF_MAGNITUDE)
    )
    unique, counts = np.unique(index, return_counts=True)
    return SparseCounts(unique.astype(np.int64), counts.astype(np.int64))


def merge(parts: Sequence[SparseCounts] | Iterable[SparseCounts]) -> SparseCounts:
    """Add histograms: one sparse histogram with the summed counts."""
    chunks = list(parts)
    if not chunks:
        return SparseCounts.empty()
    if len(chunks) == 1:
        return chunks[0]
    index = np.concatenate([c.index for c in chunks])
    count = np.concatenate([c.count for c in chunks])
    unique, inverse = np.unique(index, return_inverse=True)
    summed = np.zeros(len(unique), dtype=np.int64)
    np.add.at(summed, inverse, count)
    return SparseCounts(unique.astype(np.int64), summed)


def percentiles_us(counts: SparseCounts, quantiles_pct: Sequence[float]) -> list[float]:
    """Values (µs) at percentiles 0–100, as HdrHistogram reports them; NaN when empty."""
    total = counts.total
    if total == 0:
        return [float("nan")] * len(quantiles_pct)
    cumulative = np.cumsum(counts.count)
    values = counts.values_us()
    out = []
    for q in quantiles_pct:
        target = max(int(q / 100.0 * total + 0.5), 1)
        position = int(np.searchsorted(cumulative, target, side="left"))
        out.append(float(values[min(position, len(values) - 1)]))
    return out


def count_above(counts: SparseCounts, threshold_us: float) -> int:
    """Values recorded above ``threshold_us`` (to the histogram's resolution)."""
    return int(counts.count[counts.values_us() > threshold_us].sum())


def to_histogram(counts: SparseCounts) -> HdrHistogram:
    """A full ``HdrHistogram`` with these counts (for encoding into a baseline)."""
    histogram = new_histogram()
    values = counts.values_us()
    for value, n in zip(values, counts.count, strict=True):
        histogram.record_value(int(value), int(n))
    return histogram
