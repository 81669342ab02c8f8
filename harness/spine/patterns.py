"""Working patterns: how each kind of organisation's traffic rises and falls over a week.

Nobody publishes an hourly Spine load curve (``domain/spine.md`` §7), so these are assumptions
anchored on what is published: GP core hours are about 08:00–18:30 on weekdays and Monday is the
busiest GP day (1.29 M appointments against 1.09 M on Fridays, NHS Digital July 2021);
pharmacies open longer and on Saturdays; ambulance, NHS 111 and out-of-hours run 24/7 with
evening and weekend peaks; bank holidays push work onto the day before and after.

A pattern is an hourly table per kind of day (weekday, Saturday, Sunday-or-bank-holiday),
interpolated linearly between hour marks, times a factor per weekday. The published peak is
~10× the monthly mean while a 10-hour, 5-day window alone gives ~3.3× (spine.md §3.3), so the
recorded peaks include short bursts: we model the GP one as the check-ins and record look-ups
that cluster at the start of each 10-minute appointment slot (:func:`slot_burst`).

Values are relative; :class:`~harness.spine.traffic.TrafficProfile` normalises each stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from harness.spine.calendar import LocalTime
from harness.spine.organisations import OrgType

WEEKDAY, SATURDAY, SUNDAY = 0, 1, 2  # rows of a pattern's table; bank holidays use SUNDAY
BANK_HOLIDAY_SPILL = 1.15  # working days next to a bank holiday carry 15 % more (assumption)
SLOT_MIN = 10.0  # GP appointment slot length, minutes (assumption)
SLOT_DECAY_MIN = 3.0  # how fast the check-in burst at a slot start fades, minutes (assumption)


@dataclass(frozen=True)
class WorkingPattern:
    """An organisation type's weekly shape.

    Attributes:
        hourly: three rows (weekday, Saturday, Sunday/bank holiday) of 24 values at hour marks.
        weekday_factor: Monday…Friday multipliers on the weekday row.
        slot_burst: whether the appointment-slot burst applies.
        holiday_spill: whether working days next to a bank holiday carry extra work.
        surge: ``(centre_min, width_min, height)`` of a start-of-day surge on working days,
            a Gaussian bump added to the weekday row (``height`` in the table's units).
    """

    hourly: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]
    weekday_factor: tuple[float, float, float, float, float]
    slot_burst: bool = False
    holiday_spill: bool = True
    surge: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if any(len(row) != 24 for row in self.hourly):
            raise ValueError("each hourly row needs 24 values")
        if min(min(row) for row in self.hourly) < 0:
            raise ValueError("hourly values must be non-negative")

    def evaluate(self, lt: LocalTime) -> npt.NDArray[np.float64]:
        """The pattern's relative rate at each instant of ``lt``."""
        table = np.asarray(self.hourly, dtype=np.float64)
        row = np.where(lt.weekday == 5, SATURDAY, WEEKDAY)
        row = np.where((lt.weekday == 6) | lt.bank_holiday, SUNDAY, row)
        hour = np.floor(lt.minute_of_day / 60.0).astype(np.int64) % 24
        frac = lt.minute_of_day / 60.0 - np.floor(lt.minute_of_day / 60.0)
        value = table[row, hour] * (1.0 - frac) + table[row, (hour + 1) % 24] * frac
        if self.surge is not None:
            centre, width, height = self.surge
            bump = height * np.exp(-0.5 * ((lt.minute_of_day - centre) / width) ** 2)
            value = value + np.where(row == WEEKDAY, bump, 0.0)
        factors = np.array([*self.weekday_factor, 1.0, 1.0])
        value = value * np.where(row == WEEKDAY, factors[lt.weekday], 1.0)
        if self.holiday_spill:
            value = value * np.where(lt.next_to_holiday, BANK_HOLIDAY_SPILL, 1.0)
        if self.slot_burst:
            value = value * slot_burst(lt.minute_of_day)
        return value


def slot_burst(minute_of_day: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Multiplier with mean 1 over each slot, highest in the slot's first minute.

    Piecewise constant per whole minute (so one-minute means are exact): minute ``k`` of a
    slot gets ``exp(-k / SLOT_DECAY_MIN)``, normalised to mean 1 over the slot.
    """
    k = np.floor(np.mod(minute_of_day, SLOT_MIN))
    weights = np.exp(-np.arange(int(SLOT_MIN)) / SLOT_DECAY_MIN)
    return np.asarray(np.exp(-k / SLOT_DECAY_MIN) / weights.mean(), dtype=np.float64)


def _flat(value: float) -> tuple[float, ...]:
    return (value,) * 24


# fmt: off
# Hour marks:     00    01    02    03    04    05    06    07    08    09    10    11
#                 12    13    14    15    16    17    18    19    20    21    22    23
_GP_WEEKDAY = (0.02, 0.02, 0.02, 0.02, 0.02, 0.03, 0.08, 0.35, 1.00, 0.95, 0.80, 0.70,
               0.50, 0.45, 0.60, 0.65, 0.60, 0.45, 0.25, 0.08, 0.04, 0.03, 0.02, 0.02)
_GP_SATURDAY = (0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.03, 0.06, 0.08, 0.08, 0.07,
                0.04, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02)
_PHARMACY_WEEKDAY = (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.10, 0.50, 0.90, 1.00, 0.95,
                     0.85, 0.80, 0.85, 0.90, 0.90, 0.85, 0.60, 0.25, 0.12, 0.08, 0.04, 0.02)
_PHARMACY_SATURDAY = (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.05, 0.25, 0.50, 0.55, 0.55,
                      0.50, 0.45, 0.45, 0.45, 0.40, 0.30, 0.15, 0.08, 0.05, 0.03, 0.02, 0.01)
_PHARMACY_SUNDAY = (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.12, 0.14,
                    0.14, 0.13, 0.12, 0.10, 0.06, 0.03, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01)
_TRUST_WEEKDAY = (0.15, 0.15, 0.15, 0.15, 0.15, 0.18, 0.25, 0.40, 0.80, 1.00, 1.00, 0.95,
                  0.85, 0.85, 0.95, 0.90, 0.80, 0.60, 0.45, 0.35, 0.30, 0.25, 0.20, 0.18)
_TRUST_WEEKEND = (0.15, 0.15, 0.15, 0.15, 0.15, 0.15, 0.18, 0.22, 0.30, 0.40, 0.45, 0.45,
                  0.45, 0.42, 0.40, 0.40, 0.38, 0.35, 0.33, 0.30, 0.27, 0.24, 0.20, 0.17)
_AMBULANCE_DAY = (0.50, 0.45, 0.40, 0.38, 0.36, 0.38, 0.45, 0.60, 0.75, 0.85, 0.90, 0.90,
                  0.90, 0.88, 0.86, 0.86, 0.88, 0.92, 1.00, 1.00, 0.98, 0.90, 0.75, 0.60)
# Out-of-hours cover is 18:30–08:00 on weekdays and all weekend; NHS 111 peaks at weekends.
_URGENT_WEEKDAY = (0.35, 0.30, 0.25, 0.25, 0.25, 0.28, 0.32, 0.38, 0.40, 0.40, 0.40, 0.40,
                   0.40, 0.40, 0.40, 0.40, 0.45, 0.60, 0.85, 1.00, 0.95, 0.85, 0.70, 0.50)
_URGENT_WEEKEND = (0.55, 0.45, 0.40, 0.38, 0.38, 0.40, 0.50, 0.70, 1.00, 1.15, 1.20, 1.20,
                   1.15, 1.10, 1.05, 1.05, 1.05, 1.10, 1.15, 1.20, 1.15, 1.00, 0.85, 0.70)
_OFFICE_WEEKDAY = (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.10, 0.60, 1.00, 1.00, 0.95,
                   0.70, 0.80, 0.95, 0.90, 0.80, 0.50, 0.15, 0.05, 0.02, 0.01, 0.01, 0.01)
_OFFICE_SATURDAY = (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.10, 0.25, 0.30, 0.30,
                    0.20, 0.10, 0.05, 0.03, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01)

# fmt: on

# Monday…Friday GP appointments, millions (NHS Digital, July 2021: Monday 1.29, Friday 1.09;
# Tuesday–Thursday are assumptions between them).
GP_WEEKDAY_FACTOR = (1.29, 1.19, 1.17, 1.15, 1.09)
_FLAT_WEEK = (1.0, 1.0, 1.0, 1.0, 1.0)
# The "8 am rush": phone lines open, every practice logs in and traces the day's callers at
# once (assumption: centre 08:10, sd 12 min). Pharmacies download nominated prescriptions as
# they open (assumption: centre 09:00, sd 15 min).
GP_MORNING_SURGE = (490.0, 12.0, 1.1)  # (centre, minutes after midnight; sd, minutes; height)
PHARMACY_OPENING_SURGE = (540.0, 15.0, 1.0)

PATTERNS: Mapping[OrgType, WorkingPattern] = MappingProxyType(
    {
        OrgType.GP_PRACTICE: WorkingPattern(
            hourly=(_GP_WEEKDAY, _GP_SATURDAY, _flat(0.02)),
            weekday_factor=GP_WEEKDAY_FACTOR,
            slot_burst=True,
            surge=GP_MORNING_SURGE,
        ),
        OrgType.COMMUNITY_PHARMACY: WorkingPattern(
            hourly=(_PHARMACY_WEEKDAY, _PHARMACY_SATURDAY, _PHARMACY_SUNDAY),
            weekday_factor=(1.12, 1.06, 1.03, 1.02, 1.00),  # dispensing follows GP prescribing
            surge=PHARMACY_OPENING_SURGE,
        ),
        OrgType.TRUST: WorkingPattern(
            hourly=(_TRUST_WEEKDAY, _TRUST_WEEKEND, _TRUST_WEEKEND),
            weekday_factor=(1.08, 1.01, 1.00, 1.00, 0.97),
        ),
        OrgType.AMBULANCE: WorkingPattern(
            hourly=(_AMBULANCE_DAY, tuple(1.1 * v for v in _AMBULANCE_DAY), _AMBULANCE_DAY),
            weekday_factor=_FLAT_WEEK,
            holiday_spill=False,
        ),
        OrgType.URGENT_CARE: WorkingPattern(
            hourly=(_URGENT_WEEKDAY, _URGENT_WEEKEND, _URGENT_WEEKEND),
            weekday_factor=_FLAT_WEEK,
            holiday_spill=False,
        ),
        OrgType.DENTAL: WorkingPattern(
            hourly=(_OFFICE_WEEKDAY, _OFFICE_SATURDAY, _flat(0.005)),
            weekday_factor=(1.05, 1.02, 1.0, 1.0, 0.95),
        ),
        OrgType.OPTICAL: WorkingPattern(
            hourly=(_OFFICE_WEEKDAY, _OFFICE_SATURDAY, _flat(0.005)),
            weekday_factor=(1.0, 1.0, 1.0, 1.0, 1.0),
        ),
        OrgType.COMMUNITY: WorkingPattern(
            hourly=(_OFFICE_WEEKDAY, _OFFICE_SATURDAY, _flat(0.02)),
            weekday_factor=(1.05, 1.02, 1.0, 1.0, 0.95),
        ),
    }
)

# fmt: off
# Overnight batch window (pathology, capitation files, nominated downloads), every day.
_BATCH_NIGHT = (0.60, 1.00, 1.00, 0.90, 0.70, 0.40, 0.20, 0.10, 0.05, 0.05, 0.05, 0.05,
                0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.10, 0.20, 0.35)
# fmt: on
OVERNIGHT_BATCH = WorkingPattern(
    hourly=(_BATCH_NIGHT, _BATCH_NIGHT, _BATCH_NIGHT),
    weekday_factor=_FLAT_WEEK,
    holiday_spill=False,
)


def winter_factor(day_of_year: npt.NDArray[np.int64], pressure: float) -> npt.NDArray[np.float64]:
    """Seasonal multiplier: 1 in mid-July rising to ``1 + pressure`` in mid-January."""
    phase = 2.0 * np.pi * (day_of_year.astype(np.float64) - 15.0) / 365.25
    return np.asarray(1.0 + pressure * (1.0 + np.cos(phase)) / 2.0, dtype=np.float64)
