"""Availability, counted two ways: by requests and by good minutes.

**Request-based** ("occurrences") availability is good requests over valid requests, where the
rules of :mod:`harness.slo.outcomes` say what is good, bad or excluded; every attempt counts,
retries included. It is computed overall and per service, interaction and organisation type
from the windows, and per organisation from ``load/organisations.csv``.

**Time-sliced** availability is good slices over measured slices (one-minute slices by
default). The rule, after Google Cloud's windows-based SLIs: *a slice is bad when its request
availability is below the target*. A slice with no valid request is *unmeasured* — unmeasured
time is not uptime, so it counts in neither numerator nor denominator and the coverage (measured
over all slices) is reported beside it. A slice that overlaps planned maintenance of the scope
is excluded. The two ways differ: one failure in a quiet minute of 100 requests makes that
minute bad (99 % < 99.97 %) while costing only 1 request, and a burst of failures at peak costs
many requests but only one minute.

The **journey-level** SLI (``load/journeys.csv``) asks a different question: did the
organisation's task finally succeed, retries included?
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.slo.confidence import Judgement, judge
from harness.slo.objectives import Objectives

ORGANISATION_COLUMNS = ("ods_code", "org_type", "good", "bad", "excluded")
JOURNEY_COLUMNS = ("journey", "org_type", "started", "succeeded", "failed")


@dataclass(frozen=True)
class Counts:
    """Good, bad and excluded requests of one scope."""

    good: int
    bad: int
    excluded: int

    @property
    def valid(self) -> int:
        """Requests that count: good plus bad."""
        return self.good + self.bad

    @property
    def availability(self) -> float | None:
        """Good over valid; ``None`` when nothing valid was seen."""
        return self.good / self.valid if self.valid else None

    def judged(self, objectives: Objectives) -> Judgement:
        """The verdict on this scope's failure rate."""
        return judge(
            self.bad,
            self.valid,
            limit=objectives.allowed_bad,
            confidence=objectives.confidence,
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``results.json``."""
        return {
            "good": self.good,
            "bad": self.bad,
            "excluded": self.excluded,
            "valid": self.valid,
            "availability": self.availability,
        }


def request_counts(frame: pd.DataFrame) -> Counts:
    """Counts of all rows of a window (or organisation) frame."""
    return Counts(int(frame["good"].sum()), int(frame["bad"].sum()), int(frame["excluded"].sum()))


def request_counts_by(frame: pd.DataFrame, by: str) -> dict[str, Counts]:
    """Counts per value of column ``by`` (``service``, ``interaction``, ``org_type``…)."""
    sums = frame.groupby(by, sort=True)[["good", "bad", "excluded"]].sum()
    return {
        str(name): Counts(int(row.good), int(row.bad), int(row.excluded))
        for name, row in sums.iterrows()
    }


def read_organisations(path: Path) -> pd.DataFrame:
    """``load/organisations.csv`` with an ``availability`` column (NaN without valid requests).

    Raises:
        ValueError: when a column is missing.
    """
    frame = pd.read_csv(path, dtype={"ods_code": str, "org_type": str})
    _require(frame, ORGANISATION_COLUMNS, path)
    valid = frame["good"] + frame["bad"]
    frame["valid"] = valid
    frame["availability"] = np.where(valid > 0, frame["good"] / valid.where(valid > 0, 1), np.nan)
    return frame


def organisations_summary(frame: pd.DataFrame, target: float, *, worst: int = 10) -> dict[str, Any]:
    """How many organisations were measured and below target, and the worst few (not judged)."""
    measured = frame[frame["valid"] > 0]
    below = measured[measured["availability"] < target].sort_values(
        ["availability", "valid"], ascending=[True, False]
    )
    by_type = {
        str(t): {
            "organisations": len(g),
            "below_target": int((g["availability"] < target).sum()),
        }
        for t, g in measured.groupby("org_type", sort=True)
    }
    return {
        "organisations": len(frame),
        "measured": len(measured),
        "below_target": len(below),
        "by_org_type": by_type,
        "worst": [
            {
                "ods_code": str(r["ods_code"]),
                "org_type": str(r["org_type"]),
                "valid": int(r["valid"]),
                "bad": int(r["bad"]),
                "availability": float(r["availability"]),
            }
            for r in below.head(worst).to_dict(orient="records")
        ],
    }


def read_journeys(path: Path) -> pd.DataFrame:
    """``load/journeys.csv``.

    Raises:
        ValueError: when a column is missing.
    """
    frame = pd.read_csv(path, dtype={"journey": str, "org_type": str})
    _require(frame, JOURNEY_COLUMNS, path)
    return frame


def journeys_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Journey success per journey and overall: tasks that finally succeeded over started."""

    def rate(started: int, succeeded: int) -> float | None:
        return succeeded / started if started else None

    per = frame.groupby("journey", sort=True)[["started", "succeeded", "failed"]].sum()
    started, succeeded = int(frame["started"].sum()), int(frame["succeeded"].sum())
    return {
        "started": started,
        "succeeded": succeeded,
        "failed": int(frame["failed"].sum()),
        "success_rate": rate(started, succeeded),
        "per_journey": {
            str(name): {
                "started": int(row.started),
                "succeeded": int(row.succeeded),
                "failed": int(row.failed),
                "success_rate": rate(int(row.started), int(row.succeeded)),
            }
            for name, row in per.iterrows()
        },
    }


def _require(frame: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")


@dataclass(frozen=True)
class TimeSliced:
    """Time-sliced availability of one scope.

    Attributes:
        slice_s: slice length, seconds.
        slices: slices in the run.
        measured: slices with at least one valid request and no planned maintenance.
        bad: measured slices whose request availability was below target.
        excluded: slices overlapping planned maintenance of the scope.
        slice_availability: per slice, its request availability (NaN when unmeasured).
    """

    slice_s: int
    slices: int
    measured: int
    bad: int
    excluded: int
    slice_availability: np.ndarray

    @property
    def good(self) -> int:
        """Measured slices that met the target."""
        return self.measured - self.bad

    @property
    def availability(self) -> float | None:
        """Good slices over measured slices; ``None`` when nothing was measured."""
        return self.good / self.measured if self.measured else None

    @property
    def coverage(self) -> float:
        """Measured slices over all slices."""
        return self.measured / self.slices if self.slices else 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``results.json`` (without the per-slice series)."""
        return {
            "slice_s": self.slice_s,
            "slices": self.slices,
            "measured": self.measured,
            "good": self.good,
            "bad": self.bad,
            "excluded_maintenance": self.excluded,
            "availability": self.availability,
            "coverage": self.coverage,
            "bad_minutes": self.bad * self.slice_s / 60.0,
        }


def time_sliced(
    frame: pd.DataFrame,
    *,
    target: float,
    start_s: int,
    end_s: int,
    slice_s: int = 60,
    maintenance: Sequence[tuple[float, float]] = (),
) -> TimeSliced:
    """Good slices over measured slices for the rows of ``frame`` (one scope).

    Args:
        frame: window rows with ``t``, ``good`` and ``bad``.
        target: a slice is bad when its request availability is below this.
        start_s: first second of the run (slices are aligned to it).
        end_s: one past the last second of the run.
        slice_s: slice length in seconds.
        maintenance: planned maintenance intervals ``(start, end)`` in epoch seconds that
            apply to this scope; overlapping slices are excluded.
    """
    slices = max(-(-(end_s - start_s) // slice_s), 0)
    index = ((frame["t"].to_numpy() - start_s) // slice_s).astype(np.int64)
    keep = (index >= 0) & (index < slices)
    good = np.bincount(index[keep], weights=frame["good"].to_numpy()[keep], minlength=slices)
    bad = np.bincount(index[keep], weights=frame["bad"].to_numpy()[keep], minlength=slices)
    valid = good + bad
    excluded = np.zeros(slices, dtype=bool)
    for begin, end in maintenance:
        first = max(int((begin - start_s) // slice_s), 0)
        last = min(int(np.ceil((end - start_s) / slice_s)), slices)
        excluded[first:last] = True
    measured = (valid > 0) & ~excluded
    ratio = np.full(slices, np.nan)
    np.divide(good, valid, out=ratio, where=measured)
    is_bad = measured & (ratio < target)
    return TimeSliced(
        slice_s=slice_s,
        slices=int(slices),
        measured=int(measured.sum()),
        bad=int(is_bad.sum()),
        excluded=int(excluded.sum()),
        slice_availability=ratio,
    )
