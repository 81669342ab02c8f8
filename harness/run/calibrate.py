"""``harness calibrate``: what each interaction costs the reference server, from a ``harness run``.

The run recorded, every second, the completed requests of every interaction
(``load/windows.jsonl``) and the CPU seconds the server processes used (``server/cpu.jsonl``).
The utilisation law says ``cpu(t) = c₀ + Σᵢ Xᵢ(t)·Dᵢ``: the demands ``Dᵢ`` are the coefficients
of a non-negative least-squares regression of CPU on throughputs (``scipy.optimize.nnls``).

When the interactions' throughputs rise and fall together — a traffic profile keeps its mix —
the per-interaction regression is ill-conditioned: many ``D`` fit equally well. Then the
calibration falls back to one scale factor: each interaction's demand is taken proportional to
its median service time, ``Dᵢ = k·mᵢ``, and only ``k`` (and ``c₀``) are regressed. The file
records which method was used. Service-time quantiles come straight from the HDR histograms of
the quietest seconds of the run, so that they hold no queueing: the prediction adds the
queueing of whatever rate it is asked about. Both views are kept: from the actual send
(``service_ms``, which the proportional fit uses) and from the intended send (``latency_ms``,
the prediction's base): the load test measures the latter, and the difference — the
generator's dispatch lag, ~1.5 ms at p50 and p95 here — made predictions 15 % low.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls

from harness.config.calibration import (
    DEFAULT_RESTART_S,
    QUANTILES,
    Calibration,
    InteractionCost,
)
from harness.errors import ConfigurationError
from harness.run.compare import measured_table
from harness.slo.histogram import percentiles_us

MAX_CONDITION = 30.0  # beyond this the per-interaction regression is not trusted
BIN_S = 5  # seconds summed per regression row
QUIET_QUANTILE = 0.3  # service times come from the quietest 30 % of seconds …
MIN_QUIET_SAMPLES = 50  # … where an interaction has enough requests in them
WARM_UP_S = 30  # first seconds: new connections and cold caches, not the steady service time
MIN_BINS = 6
MIN_R2_GAIN = 0.05  # what the per-interaction regression must add over the proportional fit


@dataclass(frozen=True)
class CalibrationFit:
    """A calibration and how well it fitted."""

    calibration: Calibration
    seconds: int  # clean seconds used in the regression (in bins of BIN_S)
    r_squared: float
    condition: float


def _read_cpu(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise ConfigurationError(
            f"{path} is missing: calibrate needs a results directory written by `harness run`"
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def calibrate(folder: Path) -> CalibrationFit:
    """Fit the calibration of the run in ``folder``."""
    results = folder / "results.json"
    try:
        document = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{results}: cannot read: {exc}") from None
    load = document.get("load")
    table = measured_table(folder)
    if load is None or table is None:
        raise ConfigurationError(f"{folder}: the run has no load windows to calibrate from")
    samples = [s for s in _read_cpu(folder / "server" / "cpu.jsonl") if s.get("clean")]
    frame = table.frame.reset_index(drop=True)
    frame = frame.assign(attempts=frame["good"] + frame["bad"] + frame["excluded"])
    totals = frame.groupby("interaction")[["drawn", "attempts"]].sum()
    # Interactions that never found work (every arrival was no-work) cost nothing measurable.
    names = sorted(str(n) for n in totals.index[totals["attempts"] > 0])
    idle_names = sorted(str(n) for n in totals.index[totals["attempts"] == 0])
    start = float(load["started_at"])
    # A CPU sample at offset t covers the second before it.
    seconds = [int(np.floor(start + float(s["t"]) - 1.0)) for s in samples]
    pivot = frame.pivot_table(
        index="t", columns="interaction", values="attempts", aggfunc="sum", fill_value=0
    ).reindex(index=seconds, columns=names, fill_value=0)
    x = pivot.to_numpy(dtype=np.float64)
    y = np.array([float(s["cpu_s"]) for s in samples])
    # CPU time is counted in 10-ms ticks per process: one second is noisy, five are not.
    bins = len(y) // BIN_S
    x = x[: bins * BIN_S].reshape(bins, BIN_S, -1).sum(axis=1)
    y = y[: bins * BIN_S].reshape(bins, BIN_S).sum(axis=1)
    if len(y) < MIN_BINS:
        raise ConfigurationError(
            f"{folder}: only {len(samples)} clean seconds of server CPU "
            f"(need {MIN_BINS * BIN_S}); "
            "calibrate from a longer run, or one with fewer faults"
        )
    # Service times at low load: the model adds the queueing of the rate it predicts for, so
    # the base must not already hold the queueing of the calibration's own busy seconds.
    per_second = frame.groupby("t")["attempts"].sum()
    per_second = per_second[per_second.index >= per_second.index.min() + WARM_UP_S]  # cold start
    quiet = set(per_second.index[per_second <= per_second.quantile(QUIET_QUANTILE)])
    frame_quiet = frame["t"].isin(quiet).to_numpy()
    service: dict[str, list[float]] = {}
    latency: dict[str, list[float]] = {}
    qs = list(np.linspace(0.0, 100.0, QUANTILES))
    for name, rows in table.groups("interaction").items():
        if str(name) not in names:
            continue
        chosen = rows[frame_quiet[rows]]
        if table.histograms(chosen, view="service").total < MIN_QUIET_SAMPLES:
            chosen = rows  # too few quiet requests: use every second
        for view, out in (("service", service), ("latency", latency)):
            merged = table.histograms(chosen, view=view)
            out[str(name)] = [round(v / 1000.0, 4) for v in percentiles_us(merged, qs)]
    medians = np.array([service[n][QUANTILES // 2] / 1000.0 for n in names])
    design = np.column_stack([np.ones(len(y)), x])
    condition = float(np.linalg.cond(design / np.maximum(np.linalg.norm(design, axis=0), 1e-12)))
    z = x @ medians
    coef, _ = nnls(np.column_stack([np.ones(len(y)), z]), y)
    idle, demands, method = float(coef[0]) / BIN_S, coef[1] * medians, "proportional"
    r_squared = _r_squared(y, float(coef[0]) + x @ demands)
    if condition <= MAX_CONDITION and len(y) >= 5 * design.shape[1]:
        full, _ = nnls(design, y)
        full_r2 = _r_squared(y, design @ full)
        # More parameters must earn their place: a clearly better fit, and no interaction
        # that carries traffic but is said to cost nothing.
        if full_r2 > r_squared + MIN_R2_GAIN and np.all(full[1:] > 0):
            idle, demands, method, r_squared = (
                float(full[0]) / BIN_S,
                full[1:],
                "regression",
                full_r2,
            )
    restarts = [
        float(f["restored_after_s"])
        for f in document.get("faults") or []
        if f.get("kind") == "kill-worker" and f.get("restored_after_s") is not None
    ]
    groups = (document.get("server") or {}).get("groups") or [{"workers": 2}]
    per_arrival = {
        str(name): round(float(row["attempts"]) / float(row["drawn"]), 4)
        for name, row in totals.iterrows()
        if row["drawn"] > 0
    }
    rate = x.sum(axis=1) / BIN_S
    machine = ((document.get("environment") or {}).get("machine") or {}).get("fingerprint")
    calibration = Calibration(
        source=str(folder),
        method=method,
        server_workers=int(groups[0]["workers"]),
        worker_restart_s=float(np.mean(restarts)) if restarts else DEFAULT_RESTART_S,
        cpu_idle_s_per_s=round(idle, 6),
        machine=str(machine or ""),
        rate_per_s=(round(float(rate.min()), 1), round(float(rate.max()), 1)),
        generator_cpu_ms=_generator_ms(load),
        interactions={
            name: InteractionCost(
                demand_ms=round(float(d) * 1000.0, 4),
                service_ms=service[name],
                latency_ms=latency[name],
                attempts_per_arrival=min(10.0, per_arrival.get(name, 1.0)),
            )
            for name, d in zip(names, demands, strict=True)
        }
        | {
            name: InteractionCost(demand_ms=0.0, service_ms=[0.0, 0.0], attempts_per_arrival=0.0)
            for name in idle_names
        },
    )
    return CalibrationFit(calibration, len(y) * BIN_S, r_squared, condition)


def _generator_ms(load: dict[str, Any]) -> float | None:
    """The generator's CPU per drawn arrival: its mean CPU share over the run's wall time."""
    generator = load.get("generator") or {}
    drawn = float(generator.get("drawn") or 0)
    cpu = float(generator.get("cpu_mean_percent") or 0.0) / 100.0
    wall = float(load.get("ended_at", 0.0)) - float(load.get("started_at", 0.0))
    if drawn <= 0 or cpu <= 0 or wall <= 0:
        return None
    processes = int(load.get("processes") or 1)
    return round(cpu * processes * wall / drawn * 1000.0, 4)


def _r_squared(y: np.ndarray, fitted: np.ndarray) -> float:
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - fitted) ** 2).sum()) / total if total > 0 else 0.0
