"""Fixtures for the ``harness.spine`` unit tests.

The reference-month rate matrix (43,200 minutes x every stream) costs ~0.3 s to evaluate, so it
is built once per session and shared read-only; tests must not modify the arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from harness.spine.calendar import LocalTime, local_time
from harness.spine.organisations import Directory, build_directory
from harness.spine.traffic import TrafficProfile, minute_midpoints, reference_window

DIRECTORY_COUNT = 20_000
DIRECTORY_SEED = 2014


@dataclass(frozen=True)
class ReferenceMonth:
    """The reference month evaluated at one-minute midpoints."""

    profile: TrafficProfile
    t_s: npt.NDArray[np.float64]  # minute midpoints, UTC epoch seconds
    rates: npt.NDArray[np.float64]  # (minutes, streams), msg/s
    local: LocalTime
    day: npt.NDArray[np.int64]  # 0-based day of the month of each minute

    def total(self, mask: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.float64]:
        """Rate (msg/s) of the masked streams (all when ``None``) at each minute."""
        if mask is None:
            return self.rates.sum(axis=1)
        return self.rates[:, mask].sum(axis=1)

    def daily_messages(self, mask: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.float64]:
        """Messages per day of the month (30 values)."""
        return np.bincount(self.day, weights=self.total(mask) * 60.0, minlength=30)

    def day_weekdays(self) -> npt.NDArray[np.int64]:
        """Weekday (0 = Monday) of each of the 30 days."""
        return np.array([self.local.weekday[self.day == d][0] for d in range(30)])


@pytest.fixture(scope="session")
def directory() -> Directory:
    """The 2014-sized directory (20,000 organisations, seed 2014)."""
    return build_directory(DIRECTORY_COUNT, DIRECTORY_SEED)


@pytest.fixture(scope="session")
def profile() -> TrafficProfile:
    """The 2014 traffic profile without winter pressure."""
    return TrafficProfile()


@pytest.fixture(scope="session")
def reference_month(profile: TrafficProfile) -> ReferenceMonth:
    """The September 2014 reference month at one-minute resolution."""
    start_s, end_s = reference_window()
    t_s = minute_midpoints(start_s, end_s)
    day = ((t_s - start_s) // 86_400).astype(np.int64)
    return ReferenceMonth(
        profile=profile, t_s=t_s, rates=profile.rates(t_s), local=local_time(t_s), day=day
    )
