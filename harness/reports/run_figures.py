"""Figures of an SLA compliance report, one function per chart, each writing a PNG.

They plot prepared data only (:class:`~harness.reports.data.ReportData` parts): traffic and
errors over time; latency percentiles over time in both views (from the intended send time and
service time); availability per time slice with the error-budget burn-down and the 1-hour burn
rate; the simulated distribution of monthly availability with its breach probability; and the
simulation's prediction against the measurement per service. Matplotlib's Agg backend, no
display needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI; must precede pyplot

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from harness.slo.budget import Series as BudgetSeries
from harness.slo.budget import burn_down, burn_rate
from harness.slo.outcomes import Outcome
from harness.slo.table import OUTCOME_COLUMN

DPI = 100
BAD_COLOURS = {
    Outcome.SERVER_ERROR: "tab:red",
    Outcome.UNAVAILABLE: "tab:purple",
    Outcome.CAPACITY: "tab:orange",
    Outcome.TIMEOUT: "tab:brown",
    Outcome.CONNECTION: "black",
    Outcome.SLOW: "tab:olive",
}


def _shade(axes: Sequence[Axes], spans: Sequence[tuple[float, float]]) -> None:
    for ax in axes:
        for begin, end in spans:
            ax.axvspan(begin, end, color="tab:blue", alpha=0.12, linewidth=0)


def _save(fig: Figure, path: Path) -> Path:
    try:
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def plot_traffic(
    traffic: pd.DataFrame, path: Path, *, bin_s: int, maintenance: Sequence[tuple[float, float]]
) -> Path:
    """Requests per second by class (good, excluded, bad), and bad requests by outcome."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), dpi=DPI, sharex=True)
    t = traffic["t"].to_numpy()
    top.stackplot(
        t,
        traffic["good"],
        traffic["excluded"],
        traffic["bad"],
        labels=["good", "excluded", "bad"],
        colors=["tab:green", "tab:gray", "tab:red"],
        linewidth=0,
    )
    top.plot(t, traffic["drawn"], color="black", linewidth=0.8, label="scheduled")
    if traffic["dropped"].sum() > 0:
        top.plot(t, traffic["dropped"], color="tab:orange", linewidth=0.8, label="dropped")
    top.set_ylabel("requests per second")
    top.set_title(f"Traffic (mean per second over {bin_s}-s bins)")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    for outcome, colour in BAD_COLOURS.items():
        values = traffic[OUTCOME_COLUMN[outcome]].to_numpy()
        if values.sum() > 0:
            bottom.plot(t, values, color=colour, linewidth=1.0, label=str(outcome))
    if not bottom.lines:
        bottom.text(
            0.5, 0.5, "no bad requests", ha="center", va="center", transform=bottom.transAxes
        )
    else:
        bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    bottom.set_ylabel("bad per second")
    bottom.set_xlabel("seconds from start")
    _shade((top, bottom), maintenance)
    for ax in (top, bottom):
        ax.grid(axis="y", alpha=0.3)
        ax.margins(x=0)
    return _save(fig, path)


def plot_latency(latency: pd.DataFrame, path: Path) -> Path:
    """p50, p95 and p99 over time from the intended send time and as service time."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=DPI, sharey=True)
    t = latency["t"].to_numpy()
    views = (("latency", "from intended send time"), ("service", "service time"))
    for ax, (view, title) in zip(axes, views, strict=True):
        for q, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
            ax.plot(t, latency[f"{view}_{q}_ms"], style, linewidth=1.0, label=q)
        ax.set_title(f"Latency {title}")
        ax.set_xlabel("seconds from start")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3, which="both")
        ax.margins(x=0)
        ax.legend(fontsize=8, frameon=False)
    axes[0].set_ylabel("milliseconds (log)")
    return _save(fig, path)


def plot_budget(
    series: BudgetSeries,
    slice_availability: np.ndarray,
    path: Path,
    *,
    target: float,
    slice_s: int,
    maintenance: Sequence[tuple[float, float]],
) -> Path:
    """Availability per slice, remaining error budget and the 1-hour burn rate over time."""
    allowed_bad = 1.0 - target
    fig, (avail, budget, burn) = plt.subplots(3, 1, figsize=(10, 7), dpi=DPI, sharex=True)
    # One more edge than slices, so the last slice is drawn to its end.
    edges = np.arange(len(slice_availability) + 1) * slice_s
    values = np.append(slice_availability, slice_availability[-1:]) * 100.0
    avail.step(edges, values, where="post", color="tab:blue")
    avail.axhline(target * 100.0, color="tab:red", linestyle="--", linewidth=0.8, label="target")
    avail.set_ylabel("availability %")
    avail.set_title(f"Availability per {slice_s}-s slice (request-based within the slice)")
    avail.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    seconds = np.arange(series.seconds)
    remaining = burn_down(series, allowed_bad) * 100.0
    budget.plot(seconds, remaining, color="tab:green")
    budget.fill_between(seconds, remaining, 0, where=remaining < 0, color="tab:red", alpha=0.3)
    budget.axhline(0, color="black", linewidth=0.6)
    budget.set_ylabel("budget left %")
    budget.set_title("Error budget burn-down (messages; below zero is the size of the breach)")
    burn.plot(seconds, burn_rate(series, 3_600, allowed_bad), label="1 h", color="tab:purple")
    burn.plot(seconds, burn_rate(series, 300, allowed_bad), label="5 min", linewidth=0.7)
    burn.axhline(14.4, color="tab:red", linestyle="--", linewidth=0.8, label="page (14.4)")
    burn.set_ylabel("burn rate")
    burn.set_xlabel("seconds from start")
    burn.set_title("Burn rate over trailing windows")
    burn.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    _shade((avail, budget, burn), maintenance)
    for ax in (avail, budget, burn):
        ax.grid(alpha=0.3)
        ax.margins(x=0)
    return _save(fig, path)


def plot_breach(availability: np.ndarray, path: Path, *, target: float) -> Path:
    """Histogram of simulated monthly availability with the target and P(breach)."""
    fig, ax = plt.subplots(figsize=(10, 3.5), dpi=DPI)
    values = np.asarray(availability, dtype=np.float64) * 100.0
    ax.hist(values, bins=min(60, max(10, len(values) // 5)), color="tab:blue", alpha=0.8)
    ax.axvline(target * 100.0, color="tab:red", linestyle="--", label=f"target {target:.2%}")
    share = float(np.mean(values < target * 100.0)) if len(values) else 0.0
    ax.set_title(f"Simulated monthly availability: {len(values)} months, P(breach) {share:.1%}")
    ax.set_xlabel("request-based availability %")
    ax.set_ylabel("months")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_predicted(predicted: pd.DataFrame, path: Path) -> Path:
    """Per service: simulated mean (and P5) against the measured availability with its bounds."""
    fig, ax = plt.subplots(figsize=(10, 3.5), dpi=DPI)
    x = np.arange(len(predicted))
    measured = predicted["measured"].to_numpy(dtype=np.float64) * 100.0
    low = predicted["measured_low"].to_numpy(dtype=np.float64) * 100.0
    high = predicted["measured_high"].to_numpy(dtype=np.float64) * 100.0
    ax.errorbar(
        x + 0.1,
        measured,
        yerr=[measured - low, high - measured],
        fmt="o",
        capsize=4,
        label="measured (one-sided bounds)",
    )
    ax.plot(x - 0.1, predicted["predicted_mean"] * 100.0, "s", label="predicted mean")
    ax.plot(x - 0.1, predicted["predicted_p5"] * 100.0, "v", label="predicted P5")
    ax.set_xticks(x, predicted["service"])
    ax.set_ylabel("availability %")
    ax.set_title("Predicted (simulation) versus measured (load) availability per service")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)
