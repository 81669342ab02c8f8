"""Latency percentiles from merged HDR histograms, in both views, and latency objectives.

Every window holds two histograms: latency measured from the *intended* send time (what a
client whose request was due then experienced, free of coordinated omission) and the *service*
time from the actual send. A generator that fell behind makes the two differ; reporting both
shows it. Percentiles of a group of windows come from the sum of their histograms — never from
averaging per-window percentiles, which is meaningless.

A latency objective ("95 % of ``pds.retrieve`` within 0.5 s") is judged like availability: the
requests over the threshold are the failures and ``1 - percentile`` is the allowed rate, with the
same Clopper–Pearson bounds (:func:`~harness.slo.confidence.judge`). It uses the intended-time
view, the one a user feels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from harness.slo.confidence import Judgement, judge
from harness.slo.histogram import count_above, percentiles_us
from harness.slo.objectives import Objectives
from harness.slo.table import WindowTable

QUANTILES_PCT = (50.0, 90.0, 95.0, 99.0, 99.9)
VIEWS = ("latency", "service")


def _label(q: float) -> str:
    return f"p{q:g}".replace(".", "_")


def interaction_percentiles(
    table: WindowTable, quantiles_pct: Sequence[float] = QUANTILES_PCT
) -> pd.DataFrame:
    """Per interaction: requests recorded and percentiles (ms) in both views.

    Columns: ``interaction``, ``service``, ``count``, then ``latency_p50_ms``… and
    ``service_p50_ms``… for each quantile. A row ``all`` covers every interaction.
    """
    rows = []
    groups = table.groups("interaction")
    everything = np.arange(len(table.frame))
    for name, positions in [*groups.items(), ("all", everything)]:
        row: dict[str, Any] = {
            "interaction": str(name),
            "service": str(table.frame["service"].iloc[positions[0]]) if name != "all" else "",
        }
        for view in VIEWS:
            merged = table.histograms(positions, view=view)
            row["count"] = merged.total
            values = percentiles_us(merged, quantiles_pct)
            row.update(
                {
                    f"{view}_{_label(q)}_ms": v / 1000.0
                    for q, v in zip(quantiles_pct, values, strict=True)
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


def over_time(
    table: WindowTable,
    *,
    bin_s: int,
    start_s: int | None = None,
    quantiles_pct: Sequence[float] = (50.0, 95.0, 99.0),
) -> pd.DataFrame:
    """Percentiles (ms) of all interactions per time bin, both views.

    Columns: ``t`` (bin start, seconds from ``start_s``, default the first window),
    ``count``, ``latency_p50_ms``…, ``service_p50_ms``…
    """
    if table.empty:
        return pd.DataFrame()
    start = table.start_s if start_s is None else start_s
    bins = (table.frame["t"].to_numpy() - start) // bin_s
    rows = []
    for b in np.unique(bins):
        positions = np.flatnonzero(bins == b)
        row: dict[str, Any] = {"t": int(b * bin_s)}
        for view in VIEWS:
            merged = table.histograms(positions, view=view)
            row["count"] = merged.total
            values = percentiles_us(merged, quantiles_pct)
            row.update(
                {
                    f"{view}_{_label(q)}_ms": v / 1000.0
                    for q, v in zip(quantiles_pct, values, strict=True)
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


def latency_judgements(table: WindowTable, objectives: Objectives) -> dict[str, dict[str, Any]]:
    """Per interaction with traffic: its objective, the measured percentile and a judgement."""
    out: dict[str, dict[str, Any]] = {}
    for name, positions in table.groups("interaction").items():
        objective = objectives.latency_of(str(name))
        merged = table.histograms(positions, view="latency")
        if merged.total == 0:
            continue
        slow = count_above(merged, objective.threshold_s * 1e6)
        judgement: Judgement = judge(
            slow, merged.total, limit=objective.allowed_slow, confidence=objectives.confidence
        )
        (measured_us,) = percentiles_us(merged, [objective.percentile * 100.0])
        out[str(name)] = {
            "threshold_s": objective.threshold_s,
            "percentile": objective.percentile,
            "measured_s": measured_us / 1e6,
            "requests": merged.total,
            "over_threshold": slow,
            "judgement": judgement,
        }
    return out
