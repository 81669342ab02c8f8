"""Rendering of a profile summary: a Rich table for people and a PNG of one week."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from harness.reports.figures import plot_profile_week
from harness.spine import OrgType, Service, TrafficProfile, type_counts
from harness.spine.calendar import TIMEZONE
from harness.spine.summary import ProfileSummary
from harness.spine.traffic import minute_midpoints

SECONDS_PER_DAY = 86_400.0
COARSE_MIN = 15  # minutes per band sample in the week plot


def _millions(value: float) -> str:
    return f"{value / 1e6:,.2f} M"


def render_summary(summary: ProfileSummary, console: Console, *, organisations: int) -> None:
    """Print the headline figures and the split by organisation type and by service."""
    window_s = summary.days * SECONDS_PER_DAY
    head = Table(
        title=f"Traffic profile, scale {summary.scale}, {summary.days:g} days from "
        f"{summary.start[:10]}",
        show_header=False,
    )
    head.add_column("figure")
    head.add_column("value", justify="right")
    head.add_row("messages in window", _millions(summary.messages))
    head.add_row("per 30 days", _millions(summary.messages / summary.days * 30))
    head.add_row("mean rate", f"{summary.mean_per_s:,.1f} msg/s")
    head.add_row(
        "peak minute", f"{summary.peak_minute_per_s:,.0f} msg/s at {summary.peak_minute_at[:16]}"
    )
    head.add_row(
        "peak hour", f"{summary.peak_hour_per_s:,.0f} msg/s at {summary.peak_hour_at[:16]}"
    )
    head.add_row("peak minute / mean", f"{summary.peak_minute_per_s / summary.mean_per_s:.1f}x")
    console.print(head)

    counts = type_counts(organisations)
    by_type = Table(title=f"By organisation type ({organisations:,} organisations)")
    for name in ("type", "orgs", "messages", "share", "mean msg/s", "per org per day"):
        by_type.add_column(name, justify="left" if name == "type" else "right")
    for org_type in OrgType:
        messages = summary.by_org_type[str(org_type)]
        n = counts[org_type]
        per_org = messages / n / summary.days if n else 0.0
        by_type.add_row(
            str(org_type),
            f"{n:,}",
            _millions(messages),
            f"{messages / summary.messages:.1%}",
            f"{messages / window_s:,.1f}",
            f"{per_org:,.0f}",
        )
    console.print(by_type)

    by_service = Table(title="By national service")
    for name in ("service", "messages", "share", "mean msg/s"):
        by_service.add_column(name, justify="left" if name == "service" else "right")
    for service in Service:
        messages = summary.by_service[str(service)]
        by_service.add_row(
            str(service),
            _millions(messages),
            f"{messages / summary.messages:.1%}",
            f"{messages / window_s:,.1f}",
        )
    console.print(by_service)


def week_figure(profile: TrafficProfile, start_s: float, days: float, path: Path) -> Path:
    """Plot ``days`` (at most a week): 15-minute means stacked by service, per-minute total."""
    t = minute_midpoints(start_s, start_s + days * SECONDS_PER_DAY)
    rates = profile.rates(t)
    whole = len(t) // COARSE_MIN * COARSE_MIN
    series = {
        str(s): rates[:whole, profile.select(service=s)]
        .sum(axis=1)
        .reshape(-1, COARSE_MIN)
        .mean(axis=1)
        for s in Service
    }
    fine = pd.DatetimeIndex(pd.to_datetime(t, unit="s", utc=True).tz_convert(TIMEZONE))
    coarse = fine[:whole:COARSE_MIN]
    title = f"Spine traffic profile, scale {profile.scale.name} (London time)"
    return plot_profile_week(
        coarse, series, path, title=title, fine_times=fine, fine_total=rates.sum(axis=1)
    )
