"""Replaying the multi-window, multi-burn-rate alerts over a simulated month.

The SRE workbook's alerts for a 30-day SLO fire when the error ratio over *both* a long and a
short window exceeds a multiple (the burn rate) of the error budget rate ``1 - target``:

========  ============  =============  =========
severity  long window   short window   burn rate
========  ============  =============  =========
page      1 h           5 min          14.4
page      6 h           30 min         6
ticket    1 day         2 h            3
ticket    3 days        6 h            1
========  ============  =============  =========

Replaying them over the simulated per-minute series answers "would we have paged in time?":
the time from the first burning minute to the first page, the share of the month's budget
already spent when the page came, and whether a month that breached its target never paged
(a missed page). The replay works at one-minute resolution, so a page can come no sooner than
the end of the first bad minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One multi-window burn-rate alert."""

    severity: str
    long_min: int
    short_min: int
    burn_rate: float


RULES: tuple[AlertRule, ...] = (
    AlertRule("page", 60, 5, 14.4),
    AlertRule("page", 360, 30, 6.0),
    AlertRule("ticket", 1440, 120, 3.0),
    AlertRule("ticket", 4320, 360, 1.0),
)


@dataclass(frozen=True, slots=True)
class AlertReplay:
    """What the alerts did in one month.

    Attributes:
        pages: separate page episodes (rising edges of any page rule).
        tickets: separate ticket episodes.
        first_burn_min: first minute whose own error ratio exceeded the fastest page's
            threshold (None when none did).
        first_page_min: minute of the first page (None when no page fired).
        budget_at_page: share of the month's error budget spent before the first page.
        breached: the month's counted error ratio exceeded its budget.
        missed_page: the month breached but no page fired.
    """

    pages: int
    tickets: int
    first_burn_min: int | None
    first_page_min: int | None
    budget_at_page: float | None
    breached: bool
    missed_page: bool

    @property
    def time_to_page_min(self) -> int | None:
        """Minutes from the first burning minute to the first page (inclusive of that minute)."""
        if self.first_page_min is None or self.first_burn_min is None:
            return None
        return self.first_page_min - self.first_burn_min + 1


def _window_ratio(cum_bad: FloatArray, cum_total: FloatArray, width: int) -> FloatArray:
    """Error ratio over the ``width`` minutes ending at each minute."""
    n = len(cum_bad) - 1
    end = np.arange(1, n + 1)
    start = np.maximum(end - width, 0)
    bad = cum_bad[end] - cum_bad[start]
    total = cum_total[end] - cum_total[start]
    return np.asarray(np.divide(bad, total, out=np.zeros_like(bad), where=total > 0))


def firing(
    bad: FloatArray, total: FloatArray, target: float, rule: AlertRule
) -> npt.NDArray[np.bool_]:
    """Minutes in which ``rule`` fires."""
    cum_bad = np.concatenate([[0.0], np.cumsum(bad)])
    cum_total = np.concatenate([[0.0], np.cumsum(total)])
    threshold = rule.burn_rate * (1.0 - target)
    long_ok = _window_ratio(cum_bad, cum_total, rule.long_min) > threshold
    short_ok = _window_ratio(cum_bad, cum_total, rule.short_min) > threshold
    return np.asarray(long_ok & short_ok)


def _episodes(active: npt.NDArray[np.bool_]) -> int:
    return int(np.count_nonzero(active[1:] & ~active[:-1]) + int(active[0])) if len(active) else 0


def replay_alerts(bad: FloatArray, total: FloatArray, target: float) -> AlertReplay:
    """Replay :data:`RULES` over per-minute bad and total messages."""
    page = np.zeros(len(bad), dtype=bool)
    ticket = np.zeros(len(bad), dtype=bool)
    for rule in RULES:
        (page if rule.severity == "page" else ticket)[:] |= firing(bad, total, target, rule)
    budget = (1.0 - target) * float(total.sum())
    ratio = np.divide(bad, total, out=np.zeros_like(bad), where=total > 0)
    burning = np.flatnonzero(ratio > RULES[0].burn_rate * (1.0 - target))
    paged = np.flatnonzero(page)
    first_page = int(paged[0]) if len(paged) else None
    spent = float(bad[:first_page].sum()) / budget if first_page is not None and budget else None
    breached = float(bad.sum()) > budget
    return AlertReplay(
        pages=_episodes(page),
        tickets=_episodes(ticket),
        first_burn_min=int(burning[0]) if len(burning) else None,
        first_page_min=first_page,
        budget_at_page=spent,
        breached=breached,
        missed_page=breached and first_page is None,
    )
