"""The arrival schedule: when each request is *meant* to leave, drawn before it leaves.

An open model sends requests at their intended times whatever the server does; a closed loop
(Locust's users, with wait times) sends less when the server slows down and so hides the very
stalls a load test exists to find. The schedule here is a seeded, non-homogeneous Poisson
process per stream (organisation type × interaction), following ``harness.spine``'s traffic
profile second by second: for each profile second the count of arrivals is Poisson with the
profile's rate × ``rate_scale`` (split across ``workers`` generators), and the arrivals fall
uniformly within the second. Time compression divides profile time by ``time_scale``.

The schedule is streamed in chunks of profile time, each drawn from its own generator seeded
with ``(seed, worker, chunk)``, so it is identical however it is consumed, and the union of the
workers' schedules is one Poisson process at the full rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CHUNK_S = 60.0  # profile seconds drawn at a time

RatesFn = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
"""Rates (msg/s) of every stream at the given UTC instants: shape (len(t), n_streams)."""


@dataclass(frozen=True)
class Chunk:
    """Arrivals of one chunk, sorted by time.

    Attributes:
        offset_s: intended send times, wall-clock seconds from the start of the run.
        stream: index of each arrival's stream.
        org: index of each arrival's organisation within its type (see ``Schedule.orgs``).
    """

    offset_s: npt.NDArray[np.float64]
    stream: npt.NDArray[np.int64]
    org: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.offset_s)


@dataclass(frozen=True)
class Schedule:
    """Seeded arrivals for generator ``worker`` of ``workers``.

    Args:
        rates: stream rates at UTC instants (the profile, or a constant-rate mix).
        stream_types: organisation type index of each stream.
        type_sizes: how many organisations of each type there are (arrivals pick one).
        start_s: UTC epoch seconds where the window starts in profile time.
        duration_s: length of the window in profile time.
        time_scale: profile seconds per wall second.
        rate_scale: fraction of the profile's rate to send.
        mask: streams to draw (others carry no arrivals).
        seed: root seed.
        worker: this generator's index.
        workers: how many generators share the rate.
    """

    rates: RatesFn
    stream_types: npt.NDArray[np.int64]
    type_sizes: Sequence[int]
    start_s: float
    duration_s: float
    time_scale: float = 1.0
    rate_scale: float = 1.0
    mask: npt.NDArray[np.bool_] | None = None
    seed: int = 0
    worker: int = 0
    workers: int = 1

    @property
    def wall_duration_s(self) -> float:
        """How long the run lasts on the wall clock."""
        return self.duration_s / self.time_scale

    def _rates_at(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        rates = np.asarray(self.rates(t), dtype=np.float64) * (self.rate_scale / self.workers)
        if self.mask is not None:
            rates = rates * self.mask[None, :]
        # Compressing time multiplies the rate per wall second, not per profile second: the
        # counts per profile second stay as drawn, they just arrive faster.
        return rates

    def expected(self) -> float:
        """Expected number of arrivals for this worker (sum of the drawn means)."""
        total = 0.0
        for lo in np.arange(0.0, self.duration_s, CHUNK_S):
            seconds = np.arange(lo, min(lo + CHUNK_S, self.duration_s)) + 0.5
            total += float(self._rates_at(self.start_s + seconds).sum())
        return total

    def chunks(self) -> Iterator[Chunk]:
        """The schedule, a chunk of profile time at a time, in time order."""
        for index, lo in enumerate(np.arange(0.0, self.duration_s, CHUNK_S)):
            hi = min(lo + CHUNK_S, self.duration_s)
            rng = np.random.default_rng([self.seed, self.worker, index])
            seconds = np.arange(lo, hi)
            width = np.minimum(seconds + 1.0, hi) - seconds  # the last second may be partial
            rates = self._rates_at(self.start_s + seconds + width / 2.0)
            counts = rng.poisson(rates * width[:, None])
            sec_idx, stream_idx = np.nonzero(counts)
            repeats = counts[sec_idx, stream_idx]
            sec = np.repeat(sec_idx, repeats)
            stream = np.repeat(stream_idx, repeats).astype(np.int64)
            profile_t = seconds[sec] + rng.random(len(sec)) * width[sec]
            sizes = np.asarray(self.type_sizes, dtype=np.int64)[self.stream_types[stream]]
            org = np.floor(rng.random(len(stream)) * sizes).astype(np.int64)
            order = np.argsort(profile_t, kind="stable")
            yield Chunk(
                offset_s=profile_t[order] / self.time_scale,
                stream=stream[order],
                org=org[order],
            )


def constant_rates(total_per_s: float, weights: npt.NDArray[np.float64]) -> RatesFn:
    """A flat rate split across streams in proportion to ``weights``."""
    share = np.asarray(weights, dtype=np.float64)
    share = share / share.sum()

    def rates(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(np.broadcast_to(share * total_per_s, (len(t), len(share))))

    return rates
