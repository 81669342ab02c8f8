"""Synthetic results directories and window tables shaped like real load runs (seeded).

Real runs of the reference server on loopback (``domain/load-testing.md`` §3.5) have sub-ms
latencies with a long right tail (p50 0.36 ms, p99 0.97 ms), per-second drift (scheduling, GC)
and run-to-run differences of about 0.5 % in p50. The generators here reproduce that shape:
per-request lognormal latencies, a per-second multiplicative drift following an AR(1) process,
and a per-run factor; failures, outages, maintenance and slow tails are added on request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.slo.histogram import SparseCounts, sparse_from_values, to_histogram
from harness.slo.outcomes import Outcome
from harness.slo.table import OUTCOME_COLUMN, WindowTable, service_of
from harness.slo.windows import Window, WindowKey

START_S = 1_700_000_000
# A compact interaction mix (shares of the traffic), shaped like the catalogue's biggest streams.
MIX = {
    "pds.retrieve": 0.40,
    "eps.create": 0.15,
    "eps.dispense-notification": 0.15,
    "pds.search": 0.10,
    "mesh.poll": 0.10,
    "sds.endpoint-lookup": 0.06,
    "scr.view": 0.04,
}
ORG_TYPES = ("gp-practice", "community-pharmacy")


@dataclass
class Shape:
    """How a synthetic run behaves.

    Attributes:
        rate_per_s: total arrival rate.
        duration_s: length of the run.
        median_us: median latency of a request.
        sigma: lognormal shape of per-request latency.
        drift_sigma: stationary standard deviation of the per-second log drift.
        drift_phi: AR(1) coefficient of the per-second drift.
        run_sigma: standard deviation of the per-run log factor.
        shift_us: added to every latency (a CPU cost regression).
        tail_fraction: share of requests that take ``tail_extra_us`` longer.
        tail_extra_us: extra latency of the tail.
        error_rate: probability that a request gets a 500.
        outage: ``(from_s, to_s)`` seconds from the start in which every request fails.
        maintenance: ``(from_s, to_s)`` seconds in which every request is planned maintenance.
    """

    rate_per_s: float = 500.0
    duration_s: int = 20
    median_us: float = 360.0
    sigma: float = 0.42
    drift_sigma: float = 0.02
    drift_phi: float = 0.5
    run_sigma: float = 0.005
    shift_us: float = 0.0
    tail_fraction: float = 0.0
    tail_extra_us: float = 0.0
    error_rate: float = 0.0
    outage: tuple[int, int] | None = None
    maintenance: tuple[int, int] | None = None
    mix: dict[str, float] = field(default_factory=lambda: dict(MIX))
    org_types: Sequence[str] = ORG_TYPES


def _drift(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    innovations = rng.normal(
        0.0, shape.drift_sigma * np.sqrt(1 - shape.drift_phi**2), shape.duration_s
    )
    drift = np.empty(shape.duration_s)
    level = rng.normal(0.0, shape.drift_sigma)
    for i in range(shape.duration_s):
        level = shape.drift_phi * level + innovations[i]
        drift[i] = level
    return np.exp(drift + rng.normal(0.0, shape.run_sigma))


@dataclass
class Cell:
    """The requests of one second × interaction × organisation type."""

    key: WindowKey
    latency_us: np.ndarray
    service_us: np.ndarray
    outcomes: dict[str, int]


def cells(rng: np.random.Generator, shape: Shape, start_s: int = START_S) -> list[Cell]:
    """The requests of a run, per window key."""
    factor = _drift(rng, shape)
    out = []
    streams = [
        (i, o, share / len(shape.org_types))
        for i, share in shape.mix.items()
        for o in shape.org_types
    ]
    for second in range(shape.duration_s):
        for interaction, org_type, share in streams:
            n = int(rng.poisson(shape.rate_per_s * share))
            service = rng.lognormal(np.log(shape.median_us * factor[second]), shape.sigma, n)
            service += shape.shift_us
            tail = rng.random(n) < shape.tail_fraction
            service[tail] += shape.tail_extra_us
            latency = service + rng.exponential(20.0, n)  # schedule lag of the generator
            outcomes = _outcomes(rng, shape, second, latency, interaction)
            out.append(
                Cell(WindowKey(start_s + second, interaction, org_type), latency, service, outcomes)
            )
    return out


def _outcomes(
    rng: np.random.Generator, shape: Shape, second: int, latency: np.ndarray, interaction: str
) -> dict[str, int]:
    n = len(latency)
    if shape.maintenance and shape.maintenance[0] <= second < shape.maintenance[1]:
        return {Outcome.MAINTENANCE: n} if n else {}
    if shape.outage and shape.outage[0] <= second < shape.outage[1]:
        return {Outcome.SERVER_ERROR: n} if n else {}
    errors = int((rng.random(n) < shape.error_rate).sum())
    slo_us = 10e6 if interaction == "pds.update" else 0.5e6
    slow = int((latency > slo_us).sum())
    counts = {Outcome.GOOD: n - errors - slow, Outcome.SERVER_ERROR: errors, Outcome.SLOW: slow}
    return {str(k): v for k, v in counts.items() if v}


def window_of(cell: Cell) -> Window:
    """A full :class:`Window` (with HDR histograms) of a cell."""
    n = len(cell.latency_us)
    window = Window(
        cell.key,
        drawn=n,
        sent=n,
        outcomes=dict(cell.outcomes),
        statuses={"200": n} if n else {},
        latency=to_histogram(sparse_from_values(cell.latency_us)),
        service=to_histogram(sparse_from_values(cell.service_us)),
    )
    return window


def table_of(run_cells: Sequence[Cell]) -> WindowTable:
    """A window table straight from cells (fast: no HdrHistogram objects)."""
    rows = []
    for cell in run_cells:
        n = len(cell.latency_us)
        good = cell.outcomes.get(Outcome.GOOD, 0)
        bad = sum(v for k, v in cell.outcomes.items() if Outcome(k).is_bad)
        excluded = sum(v for k, v in cell.outcomes.items() if Outcome(k).is_excluded)
        row = {
            "t": cell.key.t,
            "interaction": cell.key.interaction,
            "service": service_of(cell.key.interaction),
            "org_type": cell.key.org_type,
            "drawn": n,
            "sent": n,
            "dropped": 0,
            "late": 0,
            "good": good,
            "bad": bad,
            "excluded": excluded,
        }
        row.update({OUTCOME_COLUMN[o]: cell.outcomes.get(str(o), 0) for o in Outcome})
        rows.append(row)
    frame = pd.DataFrame(rows)
    latency = tuple(
        sparse_from_values(c.latency_us) if len(c.latency_us) else SparseCounts.empty()
        for c in run_cells
    )
    service = tuple(
        sparse_from_values(c.service_us) if len(c.service_us) else SparseCounts.empty()
        for c in run_cells
    )
    return WindowTable(frame, latency, service)


def write_run(
    path: Path,
    rng: np.random.Generator,
    shape: Shape | None = None,
    *,
    partial: bool = False,
    generator_valid: bool = True,
    schema_version: str = "1.0",
    windows: bool = True,
    simulation: dict[str, Any] | None = None,
    machine: dict[str, Any] | None = None,
    scenario_slo: dict[str, Any] | None = None,
    cpu_ms_per_attempt: float | None = 1.5,
    others_cores: float | None = 0.02,
) -> Path:
    """Write a results directory like ``harness load`` does; return its path.

    ``cpu_ms_per_attempt`` is the generator's, the gate's witness of the machine's speed, and
    ``others_cores`` what other processes took meanwhile (``None``: not recorded).
    """
    shape = shape or Shape()
    run_cells = cells(rng, shape)
    (path / "load").mkdir(parents=True, exist_ok=True)
    if windows:
        with (path / "load" / "windows.jsonl").open("w", encoding="utf-8") as out:
            for cell in run_cells:
                out.write(json.dumps(window_of(cell).to_json(), separators=(",", ":")) + "\n")
    _write_organisations(path, rng, run_cells)
    _write_journeys(path, run_cells)
    sent = sum(len(c.latency_us) for c in run_cells)
    maintenance = []
    if shape.maintenance:
        maintenance.append(
            {
                "start": START_S + shape.maintenance[0],
                "end": START_S + shape.maintenance[1],
                "service": None,
            }
        )
    document: dict[str, Any] = {
        "schema_version": schema_version,
        "command": "load",
        "created_at": "2026-11-25T12:00:00+00:00",
        "seed": 7,
        "environment": {
            "harness": "0.1.0",
            "python": "3.11.2",
            "libraries": {},
            "machine": machine
            or {"system": "Linux", "release": "6.1", "processor": "x86_64", "cpus": 2},
        },
        "load": {
            "target": "http://127.0.0.1:8000",
            "scenario": {"name": "synthetic", "seed": 7, "slo": scenario_slo or {}},
            "started_at": START_S,
            "ended_at": START_S + shape.duration_s,
            "partial": partial,
            "processes": 1,
            "generator": {
                "valid": generator_valid,
                "reasons": [] if generator_valid else ["schedule lag p99 9.1 ms > 5 ms"],
                "drawn": sent,
                "sent": sent,
                "dropped": 0,
                "late": 0,
                "attempts": sent,
                "lag_p99_ms": 0.4 if generator_valid else 9.1,
                "cpu_max_percent": 41.0,
            },
            "maintenance": maintenance,
        },
    }
    if cpu_ms_per_attempt is not None:
        document["load"]["generator"]["cpu_ms_per_attempt"] = cpu_ms_per_attempt
    if others_cores is not None:
        document["load"]["generator"]["others_cores"] = others_cores
    if simulation is not None:
        document["simulation"] = simulation
    (path / "results.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def _write_organisations(path: Path, rng: np.random.Generator, run_cells: Sequence[Cell]) -> None:
    rows = []
    for org_type in sorted({c.key.org_type for c in run_cells}):
        mine = [c for c in run_cells if c.key.org_type == org_type]
        good = sum(c.outcomes.get(Outcome.GOOD, 0) for c in mine)
        bad = sum(v for c in mine for k, v in c.outcomes.items() if Outcome(k).is_bad)
        split_good = rng.multinomial(good, np.full(20, 1 / 20))
        split_bad = rng.multinomial(bad, np.full(20, 1 / 20))
        rows += [
            {
                "ods_code": f"{org_type[:1].upper()}{i:05d}",
                "org_type": org_type,
                "good": int(g),
                "bad": int(b),
                "excluded": 0,
            }
            for i, (g, b) in enumerate(zip(split_good, split_bad, strict=True))
        ]
    pd.DataFrame(rows).to_csv(path / "load" / "organisations.csv", index=False)


def _write_journeys(path: Path, run_cells: Sequence[Cell]) -> None:
    rows = []
    for org_type in sorted({c.key.org_type for c in run_cells}):
        started = sum(len(c.latency_us) for c in run_cells if c.key.org_type == org_type) // 5
        failed = (
            sum(
                c.outcomes.get(Outcome.SERVER_ERROR, 0)
                for c in run_cells
                if c.key.org_type == org_type
            )
            // 10
        )
        rows.append(
            {
                "journey": "prescribe",
                "org_type": org_type,
                "started": started,
                "succeeded": started - failed,
                "failed": failed,
            }
        )
    pd.DataFrame(rows).to_csv(path / "load" / "journeys.csv", index=False)


def simulation_section(rng: np.random.Generator, path: Path, months: int = 200) -> dict[str, Any]:
    """A ``simulation`` section and ``simulation/months.csv`` like ``harness simulate`` writes."""
    bad = rng.lognormal(np.log(40_000), 1.0, months)
    availability = 1.0 - bad / 4e8
    (path / "simulation").mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"replication": range(months), "availability": availability}).to_csv(
        path / "simulation" / "months.csv", index=False
    )
    breaches = int((availability < 0.9997).sum())

    def dist(values: np.ndarray) -> dict[str, Any]:
        return {
            "mean": float(values.mean()),
            "p5": float(np.percentile(values, 5)),
            "median": float(np.median(values)),
            "worst": float(values.min()),
        }

    return {
        "replications": months,
        "target": 0.9997,
        "request_based": dist(availability)
        | {
            "breach": {
                "probability": breaches / months,
                "interval": [0.01, 0.08],
                "months": months,
                "breaches": breaches,
            }
        },
        "per_service": {s: dist(availability) for s in ("pds", "eps", "mesh", "sds", "scr")},
        "verdict": "pass",
    }
