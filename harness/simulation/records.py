"""Plain records of simulated months, and their accumulation over many replications.

A replication's :class:`~harness.simulation.month.MonthResult` carries 20,000-long arrays.
Thousands of them would not fit comfortably in memory or travel cheaply between processes, so a
worker reduces each month at once to a small :class:`MonthRecord` (the month's headline
figures) and folds its per-organisation arrays into an :class:`OrgTotals`, whose merge is
exact and associative: any split of the replications over workers gives the same totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from harness.simulation.month import MonthResult

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MonthRecord:
    """The headline figures of one simulated month (picklable, small)."""

    replication: int
    messages: int
    bad: int
    availability: float
    time_availability: float
    bad_minutes: int
    service_messages: IntArray
    service_bad: IntArray
    type_messages: IntArray
    type_bad: IntArray
    failed_by_cause: IntArray
    slow_by_cause: IntArray
    pages: int
    tickets: int
    time_to_page_min: int | None
    budget_at_page: float | None
    missed_page: bool
    touched_minutes: int
    simpy_events: int
    cpu_s: float
    weight: float = 1.0

    @classmethod
    def of(cls, replication: int, month: MonthResult, cpu_s: float) -> MonthRecord:
        """Reduce a month's result to its record."""
        alerts = month.alerts
        return cls(
            replication=replication,
            messages=int(month.messages.sum()),
            bad=int(month.bad.sum()),
            availability=month.availability,
            time_availability=month.time_availability,
            bad_minutes=month.bad_minutes,
            service_messages=month.messages,
            service_bad=month.bad,
            type_messages=month.type_messages,
            type_bad=month.type_bad,
            failed_by_cause=month.failed_by_cause,
            slow_by_cause=month.slow_by_cause,
            pages=alerts.pages,
            tickets=alerts.tickets,
            time_to_page_min=alerts.time_to_page_min,
            budget_at_page=alerts.budget_at_page,
            missed_page=alerts.missed_page,
            touched_minutes=month.touched_minutes,
            simpy_events=month.simpy_events,
            cpu_s=cpu_s,
            weight=month.weight,
        )


@dataclass
class OrgTotals:
    """Per-organisation sums over replications.

    Attributes:
        messages: valid messages, summed over months.
        bad: counted bad messages, summed.
        excluded: bad messages of excluded causes, summed.
        months_below: months in which the organisation's own availability was below target.
        worst: the organisation's lowest monthly availability.
        months: replications folded in.
    """

    size: int
    target: float
    messages: IntArray = field(init=False)
    bad: IntArray = field(init=False)
    excluded: IntArray = field(init=False)
    months_below: IntArray = field(init=False)
    worst: FloatArray = field(init=False)
    months: int = 0

    def __post_init__(self) -> None:
        self.messages = np.zeros(self.size, dtype=np.int64)
        self.bad = np.zeros(self.size, dtype=np.int64)
        self.excluded = np.zeros(self.size, dtype=np.int64)
        self.months_below = np.zeros(self.size, dtype=np.int64)
        self.worst = np.ones(self.size)

    def add(self, month: MonthResult) -> None:
        """Fold one month in."""
        availability = 1.0 - np.divide(
            month.org_bad,
            month.org_messages,
            out=np.zeros(self.size),
            where=month.org_messages > 0,
        )
        self.messages += month.org_messages
        self.bad += month.org_bad
        self.excluded += month.org_excluded
        self.months_below += availability < self.target
        np.minimum(self.worst, availability, out=self.worst)
        self.months += 1

    def merge(self, other: OrgTotals) -> None:
        """Fold another worker's totals in."""
        self.messages += other.messages
        self.bad += other.bad
        self.excluded += other.excluded
        self.months_below += other.months_below
        np.minimum(self.worst, other.worst, out=self.worst)
        self.months += other.months
