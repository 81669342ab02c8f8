"""Figures of a what-if sweep: breach probability per parameter value, and a tornado chart.

Both read plain rows (``key``, ``value``, ``breach_probability``, ``interval``) as the
simulation writes them into ``results.json``; nothing here knows how they were simulated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI; must precede pyplot

import matplotlib.pyplot as plt


def plot_sweep(rows: Sequence[dict[str, Any]], key: str, base: float, path: Path) -> Path:
    """Breach probability (with its 95 % interval) against the values of one parameter."""
    mine = [r for r in rows if r["key"] == key]
    labels = [str(r["value"]) for r in mine]
    p = [r["breach_probability"] for r in mine]
    low = [r["breach_probability"] - r["interval"][0] for r in mine]
    high = [r["interval"][1] - r["breach_probability"] for r in mine]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    try:
        ax.errorbar(range(len(mine)), p, yerr=[low, high], marker="o", capsize=4)
        ax.axhline(base, color="grey", linestyle="--", linewidth=0.8, label="base scenario")
        ax.set_xticks(range(len(mine)), labels)
        ax.set_xlabel(key)
        ax.set_ylabel("P(month breaches target)")
        ax.legend(frameon=False, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def plot_tornado(rows: Sequence[dict[str, Any]], base: float, path: Path) -> Path:
    """For each parameter, the span of breach probability over its values, widest on top."""
    keys = sorted({r["key"] for r in rows})
    spans = []
    for key in keys:
        values = [r["breach_probability"] for r in rows if r["key"] == key]
        spans.append((key, min(values), max(values)))
    spans.sort(key=lambda s: s[2] - s[1])
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(spans) + 1.5), dpi=110)
    try:
        for y, (_, lo, hi) in enumerate(spans):
            ax.barh(y, hi - lo, left=lo, color="tab:blue", alpha=0.7)
        ax.axvline(base, color="black", linewidth=0.8, label="base scenario")
        ax.set_yticks(range(len(spans)), [s[0] for s in spans])
        ax.set_xlabel("P(month breaches target)")
        ax.set_title("Which parameter moves the breach probability most")
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
