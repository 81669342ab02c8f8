"""Summaries of the traffic profile over a window: totals, mean, peaks, and the split.

This is what ``harness profile`` prints and writes: the numbers a capacity planner checks a
profile against (400 M a month, 154 msg/s mean, ~1,500 msg/s peak minute).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.spine.calendar import TIMEZONE
from harness.spine.catalogue import Service
from harness.spine.organisations import OrgType
from harness.spine.traffic import MINUTE_S, TrafficProfile, minute_midpoints

MINUTES_PER_HOUR = 60


@dataclass(frozen=True)
class ProfileSummary:
    """Headline figures of a profile over ``[start, start + days)``.

    Attributes:
        scale: the scale's name.
        start: start of the window, London local time, ISO 8601.
        days: length of the window in days.
        messages: messages carried in the window.
        mean_per_s: mean rate.
        peak_minute_per_s: highest one-minute mean rate.
        peak_minute_at: when that minute starts (London local, ISO 8601).
        peak_hour_per_s: highest clock-hour mean rate.
        peak_hour_at: when that hour starts.
        by_org_type: messages by organisation type.
        by_service: messages by national service.
    """

    scale: str
    start: str
    days: float
    messages: float
    mean_per_s: float
    peak_minute_per_s: float
    peak_minute_at: str
    peak_hour_per_s: float
    peak_hour_at: str
    by_org_type: dict[str, float]
    by_service: dict[str, float]


def _local_iso(t_utc_s: float) -> str:
    stamp = pd.Timestamp(t_utc_s, unit="s", tz="UTC").tz_convert(TIMEZONE)
    return stamp.isoformat()


def summarise(profile: TrafficProfile, start_s: float, days: float = 30.0) -> ProfileSummary:
    """Summarise ``profile`` over ``days`` from ``start_s`` (UTC epoch seconds) per minute."""
    t = minute_midpoints(start_s, start_s + days * 86_400.0)
    rates = profile.rates(t)
    total = rates.sum(axis=1)
    peak = int(np.argmax(total))
    whole_hours = len(total) // MINUTES_PER_HOUR * MINUTES_PER_HOUR
    hourly = total[:whole_hours].reshape(-1, MINUTES_PER_HOUR).mean(axis=1)
    peak_hour = int(np.argmax(hourly))
    per_stream = rates.sum(axis=0) * MINUTE_S
    by_type = {str(o): float(per_stream[profile.select(org_type=o)].sum()) for o in OrgType}
    by_service = {str(s): float(per_stream[profile.select(service=s)].sum()) for s in Service}
    return ProfileSummary(
        scale=profile.scale.name,
        start=_local_iso(start_s),
        days=days,
        messages=float(total.sum() * MINUTE_S),
        mean_per_s=float(total.mean()),
        peak_minute_per_s=float(total[peak]),
        peak_minute_at=_local_iso(t[peak] - MINUTE_S / 2),
        peak_hour_per_s=float(hourly[peak_hour]),
        peak_hour_at=_local_iso(start_s + peak_hour * 3600.0),
        by_org_type=by_type,
        by_service=by_service,
    )
