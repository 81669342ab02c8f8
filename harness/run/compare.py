"""Prediction beside measurement, and the operational laws that check both.

The ``comparison`` section of ``results.json`` has one row per service (and ``all``): attempts,
bad attempts, availability and p95 latency from the intended send time, predicted and measured.
The ``validation`` rows are the classic consistency checks of a performance measurement:

- **Little's law** ``L = λW``: requests in flight at the generator (sampled once a second)
  against throughput × mean latency — a large residual means the measurement lost requests or
  time;
- **the utilisation law** ``U = Σ X·D``: the server's measured CPU seconds per second against
  the throughputs times the calibrated demands — a large residual means the calibration no
  longer describes this server;
- **p95 per service**: predicted against measured, within ±15 % when the model is right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.config.calibration import Calibration
from harness.slo.histogram import SparseCounts, percentiles_us
from harness.slo.table import WindowTable, tabulate
from harness.slo.windows import read_windows

P95_TOLERANCE = 0.15
LAW_TOLERANCE = 0.10


def measured_table(directory: Path) -> WindowTable | None:
    """The run's windows, or ``None`` when the load wrote none."""
    path = directory / "load" / "windows.jsonl"
    if not path.exists():
        return None
    table = tabulate(read_windows(path))
    return None if table.empty else table


def _mean_us(counts: SparseCounts) -> float:
    total = counts.total
    return float((counts.values_us() * counts.count).sum() / total) if total else 0.0


def measured_by_service(table: WindowTable) -> dict[str, dict[str, float]]:
    """Attempts, bad, availability and p95 per service (and ``all``), as the report counts them."""
    frame = table.frame.reset_index(drop=True)
    groups = table.groups("service")
    groups["all"] = np.arange(len(frame))
    out: dict[str, dict[str, float]] = {}
    for service, rows in groups.items():
        part = frame.iloc[rows]
        good, bad, excluded = (int(part[c].sum()) for c in ("good", "bad", "excluded"))
        latency = table.histograms(rows, view="latency")
        out[str(service)] = {
            "attempts": float(good + bad + excluded),
            "good": float(good),
            "bad": float(bad),
            "excluded": float(excluded),
            "availability": good / (good + bad) if good + bad else 1.0,
            "p95_ms": percentiles_us(latency, [95.0])[0] / 1000.0 if latency.total else 0.0,
            "mean_ms": _mean_us(latency) / 1000.0,
        }
    return out


def compare(
    predicted: dict[str, Any], measured: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    """One row per service present on either side."""
    rows = []
    for service in sorted(set(predicted) | set(measured), key=lambda s: (s == "all", s)):
        p, m = predicted.get(service), measured.get(service)
        row: dict[str, Any] = {"service": service}
        for key in ("attempts", "bad", "availability", "p95_ms"):
            row[f"predicted_{key}"] = p[key] if p else None
            row[f"measured_{key}"] = m[key] if m else None
        if p and m and m["p95_ms"] > 0:
            row["p95_ratio"] = p["p95_ms"] / m["p95_ms"]
            row["p95_within_tolerance"] = abs(row["p95_ratio"] - 1.0) <= P95_TOLERANCE
        rows.append(row)
    return rows


def validation(
    *,
    measured: dict[str, dict[str, float]],
    generator: dict[str, Any],
    wall_s: float,
    server_cpu: list[dict[str, float]],
    calibration: Calibration,
    throughput_by_interaction: dict[str, float],
) -> list[dict[str, Any]]:
    """Little's law and the utilisation law, with residuals."""
    rows: list[dict[str, Any]] = []
    overall = measured.get("all")
    if overall and wall_s > 0:
        rate = overall["attempts"] / wall_s
        expected = rate * overall["mean_ms"] / 1000.0
        in_flight = float(generator.get("inflight_mean", 0.0))
        rows.append(_law("Little's law: in flight = rate × mean latency", in_flight, expected))
    clean = [s["cpu_s"] for s in server_cpu if s.get("clean", True)]
    if clean and calibration.interactions:
        cpu = float(np.mean(clean))
        demand = sum(
            x * calibration.interactions[name].demand_ms / 1000.0
            for name, x in throughput_by_interaction.items()
            if name in calibration.interactions
        )
        rows.append(
            _law(
                "utilisation law: server CPU s/s = Σ throughput × demand",
                cpu,
                demand + calibration.cpu_idle_s_per_s,
            )
        )
    return rows


def _law(name: str, measured: float, predicted: float) -> dict[str, Any]:
    residual = (predicted - measured) / measured if measured else None
    return {
        "check": name,
        "measured": measured,
        "predicted": predicted,
        "residual": residual,
        "within_tolerance": residual is not None and abs(residual) <= LAW_TOLERANCE,
    }
