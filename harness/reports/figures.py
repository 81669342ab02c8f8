"""Figures, one function per chart, each writing a PNG with matplotlib's Agg backend."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI; must precede pyplot

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd


def plot_profile_week(
    times: pd.DatetimeIndex,
    rates_by_service: Mapping[str, npt.NDArray[np.float64]],
    path: Path,
    *,
    title: str,
    fine_times: pd.DatetimeIndex | None = None,
    fine_total: npt.NDArray[np.float64] | None = None,
) -> Path:
    """Stacked rate by service over a week, with an optional finer total as a thin line.

    The stack is best given coarse (e.g. 15-minute means) so bands stay readable; minute-level
    bursts then show as the thin ``fine_total`` line, whose maximum is annotated.
    """
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=110)
    try:
        names = list(rates_by_service)
        ax.stackplot(times, *[rates_by_service[n] for n in names], labels=names, linewidth=0)
        line_t = fine_times if fine_times is not None else times
        total = (
            fine_total
            if fine_total is not None
            else np.sum([rates_by_service[n] for n in names], axis=0)
        )
        if fine_total is not None:
            ax.plot(line_t, total, color="black", linewidth=0.3, alpha=0.6, label="per minute")
        peak = int(np.argmax(total))
        ax.annotate(
            f"peak {total[peak]:,.0f} msg/s",
            xy=(line_t[peak], total[peak]),
            xytext=(10, -12),
            textcoords="offset points",
            fontsize=8,
        )
        ax.axhline(float(total.mean()), color="black", linestyle="--", linewidth=0.8)
        ax.set_title(title)
        ax.set_ylabel("messages per second")
        formatter = mdates.DateFormatter("%a %d %b", tz=times.tz)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(formatter)
        ax.legend(loc="upper right", ncols=len(names) + 1, fontsize=8, frameon=False)
        ax.margins(x=0)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
