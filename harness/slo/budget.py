"""Error budget and burn rates: how fast a run spends what 99.97 % allows.

The **error budget** is what the target allows to go wrong: ``(1 - target)`` of the valid
requests (messages) and of the measured time (minutes). At 99.97 % a 30-day month allows
12.96 minutes or, at 400 M messages, 120,000 failed messages. The *remaining* budget may go
negative — a burn-down chart then shows the size of the breach below the axis.

The **burn rate** over a trailing window is the window's error ratio divided by
``1 - target``: 1 spends the budget exactly over the SLO period, 14.4 spends 2 % of a 30-day
budget in one hour. Burn rates are computed for 1 h, 6 h, 1 d and 3 d windows at every second,
from cumulative sums of the per-second counts; early in a run (or in a run shorter than the
window) a trailing window holds only the seconds measured so far, as a Prometheus ``rate``
over a young counter would. The multi-window, multi-burn-rate alerts of the SRE workbook
(``domain/simulation.md`` §3.3) fire when both the long and the short window of a pair are at
or above the pair's burn rate; an alert is only evaluated once the run is at least as long as
its short window, so a young run's first error cannot page on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

BURN_WINDOWS_S = {"1h": 3_600, "6h": 21_600, "1d": 86_400, "3d": 259_200}
SLO_PERIOD_S = 30 * 86_400  # the 30-day rolling period the burn rates refer to


@dataclass(frozen=True)
class AlertRule:
    """A multi-window burn-rate alert: fires when both windows burn at ``burn_rate`` or more."""

    name: str
    severity: str
    long_s: int
    short_s: int
    burn_rate: float


ALERT_RULES = (
    AlertRule("1h/5m", "page", 3_600, 300, 14.4),
    AlertRule("6h/30m", "page", 21_600, 1_800, 6.0),
    AlertRule("1d/2h", "ticket", 86_400, 7_200, 3.0),
    AlertRule("3d/6h", "ticket", 259_200, 21_600, 1.0),
)


@dataclass(frozen=True)
class Series:
    """Per-second valid and bad counts of a run, second 0 being ``start_s``."""

    start_s: int
    valid: FloatArray
    bad: FloatArray

    @property
    def seconds(self) -> int:
        """Length of the series."""
        return len(self.valid)


def per_second(frame: pd.DataFrame, start_s: int, end_s: int) -> Series:
    """Valid and bad requests per second from window rows (``t``, ``good``, ``bad``)."""
    length = max(end_s - start_s, 0)
    offset = frame["t"].to_numpy().astype(np.int64) - start_s
    keep = (offset >= 0) & (offset < length)
    weights = frame[["good", "bad"]].to_numpy(dtype=np.float64)[keep]
    good = np.bincount(offset[keep], weights=weights[:, 0], minlength=length).astype(np.float64)
    bad = np.bincount(offset[keep], weights=weights[:, 1], minlength=length).astype(np.float64)
    return Series(start_s, good + bad, bad)


def trailing_sum(values: FloatArray, window_s: int) -> FloatArray:
    """Sum of the last ``window_s`` values at each position (fewer at the start)."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window_s, 0)
    return np.asarray(cumulative[ends] - cumulative[starts])


def burn_rate(series: Series, window_s: int, allowed_bad: float) -> FloatArray:
    """Burn rate over the trailing window at each second (0 where nothing valid was seen)."""
    valid = trailing_sum(series.valid, window_s)
    bad = trailing_sum(series.bad, window_s)
    ratio = np.zeros(len(valid))
    np.divide(bad, valid, out=ratio, where=valid > 0)
    return ratio / allowed_bad


def burn_rates(series: Series, allowed_bad: float) -> dict[str, dict[str, Any]]:
    """Burn rate per standard window: at the end of the run, its maximum and when.

    ``complete`` says whether the run was at least as long as the window; when it was not, the
    figures are over the whole run so far.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, window_s in BURN_WINDOWS_S.items():
        rates = burn_rate(series, window_s, allowed_bad)
        peak = int(np.argmax(rates)) if len(rates) else 0
        out[name] = {
            "window_s": window_s,
            "complete": series.seconds >= window_s,
            "at_end": float(rates[-1]) if len(rates) else 0.0,
            "max": float(rates[peak]) if len(rates) else 0.0,
            "max_at_s": peak,
        }
    return out


def alerts(series: Series, allowed_bad: float) -> list[dict[str, Any]]:
    """Which workbook alerts would have fired, first when (seconds from start) and for how long.

    ``budget_spent_at_fire`` is the share of a 30-day budget the long window had burned when
    the alert first fired (burn rate × long window / 30 days).
    """
    out = []
    for rule in ALERT_RULES:
        long = burn_rate(series, rule.long_s, allowed_bad)
        short = burn_rate(series, rule.short_s, allowed_bad)
        firing = (long >= rule.burn_rate) & (short >= rule.burn_rate)
        firing[: rule.short_s - 1] = False  # the short window is not yet full
        first = int(np.argmax(firing)) if firing.any() else None
        out.append(
            {
                "rule": rule.name,
                "severity": rule.severity,
                "burn_rate": rule.burn_rate,
                "evaluated": series.seconds >= rule.short_s,
                "fired": first is not None,
                "first_at_s": first,
                "firing_s": int(firing.sum()),
                "budget_spent_at_fire": (
                    float(long[first] * rule.long_s / SLO_PERIOD_S) if first is not None else None
                ),
            }
        )
    return out


@dataclass(frozen=True)
class ErrorBudget:
    """The budget of one run, in messages and in minutes; ``remaining`` may be negative."""

    messages_allowed: float
    messages_spent: int
    minutes_allowed: float
    minutes_spent: float

    @property
    def messages_remaining(self) -> float:
        """Allowed minus spent messages."""
        return self.messages_allowed - self.messages_spent

    @property
    def minutes_remaining(self) -> float:
        """Allowed minus spent minutes."""
        return self.minutes_allowed - self.minutes_spent

    @property
    def messages_remaining_fraction(self) -> float | None:
        """Remaining over allowed messages (negative after a breach)."""
        return self.messages_remaining / self.messages_allowed if self.messages_allowed else None

    @property
    def minutes_remaining_fraction(self) -> float | None:
        """Remaining over allowed minutes (negative after a breach)."""
        return self.minutes_remaining / self.minutes_allowed if self.minutes_allowed else None

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``results.json``."""
        return {
            "messages_allowed": self.messages_allowed,
            "messages_spent": self.messages_spent,
            "messages_remaining": self.messages_remaining,
            "messages_remaining_fraction": self.messages_remaining_fraction,
            "minutes_allowed": self.minutes_allowed,
            "minutes_spent": self.minutes_spent,
            "minutes_remaining": self.minutes_remaining,
            "minutes_remaining_fraction": self.minutes_remaining_fraction,
        }


def error_budget(
    *, valid: int, bad: int, measured_minutes: float, bad_minutes: float, allowed_bad: float
) -> ErrorBudget:
    """The run's budget: ``allowed_bad`` of its valid messages and of its measured minutes."""
    return ErrorBudget(
        messages_allowed=allowed_bad * valid,
        messages_spent=bad,
        minutes_allowed=allowed_bad * measured_minutes,
        minutes_spent=bad_minutes,
    )


def burn_down(series: Series, allowed_bad: float) -> FloatArray:
    """Remaining share of the run's message budget after each second (negative after a breach).

    The budget is ``allowed_bad`` of the whole run's valid messages, so the line starts at 1
    and ends at the run's remaining fraction.
    """
    allowed = allowed_bad * float(series.valid.sum())
    spent = np.cumsum(series.bad)
    if allowed <= 0:
        return np.ones(series.seconds)
    return np.asarray(1.0 - spent / allowed)
