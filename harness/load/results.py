"""Generator reports, the self-check, and the load files of a results directory.

A run is **invalid** — exit code 3, never reported as a fast server — for the generator's own
limits only: when fewer than 99 % of the drawn arrivals were handled on time (dispatcher lag
within the lateness threshold), when the schedule lag p99 passed its threshold, or when a
generator's CPU passed 90 %. Arrivals that waited for a free slot of the concurrency cap, and
those that waited until the request timeout and never left (``dropped``, counted as timeouts of
their service), are the server's failures and show in its verdict. The accounting must close:
drawn = sent + dropped.

This module does not import Locust, so the CLI, tests and reports can use it freely.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.load.plan import LoadPlan
from harness.load.recorder import Accounting
from harness.slo import Window

ON_TIME_MIN = 0.99  # share of drawn arrivals that must leave on time
LAG_P99_MAX_MS = 50.0  # schedule lag p99 beyond which the generator could not keep up
CPU_MAX_PERCENT = 90.0


@dataclass
class GeneratorReport:
    """What one generator process measured and how healthy it was."""

    accounting: Accounting
    windows: list[dict[str, Any]]  # compact JSON form (see Recorder.seal)
    organisations: dict[tuple[str, str], list[int]]
    journeys: dict[tuple[str, str], list[int]]
    lag_p50_ms: float
    lag_p99_ms: float
    cpu_max_percent: float
    cpu_mean_percent: float
    locust_requests: int
    locust_failures: int
    stopped_early: bool = False
    inflight_mean: float = 0.0  # requests in flight, sampled once a second
    cpu_s: float = 0.0  # the process's CPU seconds from the schedule's start to the report


@dataclass
class Health:
    """The generator self-check over all processes."""

    valid: bool
    reasons: list[str] = field(default_factory=list)


def check_health(reports: list[GeneratorReport]) -> Health:
    """Apply the self-check to the generators of a run."""
    totals = Accounting()
    for report in reports:
        totals.merge(report.accounting)
    reasons = []
    on_time = totals.drawn - totals.late
    if totals.drawn and on_time < ON_TIME_MIN * totals.drawn:
        reasons.append(
            f"only {on_time / totals.drawn:.2%} of drawn arrivals were handled on time (need "
            f"{ON_TIME_MIN:.0%}): {totals.late} late"
        )
    lag = max((r.lag_p99_ms for r in reports), default=0.0)
    if lag > LAG_P99_MAX_MS:
        reasons.append(f"schedule lag p99 {lag:.1f} ms exceeds {LAG_P99_MAX_MS:g} ms")
    cpu = max((r.cpu_max_percent for r in reports), default=0.0)
    if cpu > CPU_MAX_PERCENT:
        reasons.append(f"generator CPU reached {cpu:.0f}% (limit {CPU_MAX_PERCENT:.0f}%)")
    if not totals.closes():
        reasons.append("accounting does not close: drawn != sent + dropped")
    return Health(valid=not reasons, reasons=reasons)


def write_load_results(
    directory: Path,
    plan: LoadPlan,
    reports: list[GeneratorReport],
    health: Health,
    *,
    partial: bool,
) -> dict[str, Any]:
    """Write ``load/windows.jsonl``, ``organisations.csv``, ``journeys.csv``; return the section."""
    load_dir = directory / "load"
    load_dir.mkdir(parents=True, exist_ok=True)
    write_merged(load_dir / "windows.jsonl", [w for r in reports for w in r.windows])
    _write_counts(
        load_dir / "organisations.csv",
        ("ods_code", "org_type"),
        ("good", "bad", "excluded"),
        [r.organisations for r in reports],
    )
    _write_counts(
        load_dir / "journeys.csv",
        ("journey", "org_type"),
        ("started", "succeeded", "failed"),
        [r.journeys for r in reports],
    )
    totals = Accounting()
    for report in reports:
        totals.merge(report.accounting)
    return {
        "target": plan.options.target,
        "scenario": plan.scenario.model_dump(mode="json"),
        "started_at": plan.options.run_start_s,
        "ended_at": time.time(),
        "partial": partial,
        "processes": len(reports),
        "not_exercised": {k: round(v, 6) for k, v in sorted(plan.not_exercised.items())},
        "generator": {
            "valid": health.valid,
            "reasons": health.reasons,
            **asdict(totals),
            "lag_p50_ms": max((r.lag_p50_ms for r in reports), default=0.0),
            "lag_p99_ms": max((r.lag_p99_ms for r in reports), default=0.0),
            "cpu_max_percent": max((r.cpu_max_percent for r in reports), default=0.0),
            "cpu_mean_percent": max((r.cpu_mean_percent for r in reports), default=0.0),
            "locust_requests": sum(r.locust_requests for r in reports),
            "inflight_mean": sum(r.inflight_mean for r in reports),
            # The same arrivals cost the same CPU on the same machine: the gate's witness that
            # the machine did not change between two runs (harness.gate.compare).
            "cpu_ms_per_attempt": _per_attempt_ms(reports, totals.attempts),
        },
        "maintenance": [],
    }


def _per_attempt_ms(reports: list[GeneratorReport], attempts: int) -> float | None:
    cpu_s = sum(r.cpu_s for r in reports)
    return round(1000.0 * cpu_s / attempts, 4) if attempts and cpu_s > 0 else None


def _window_key(data: dict[str, Any]) -> tuple[int, str, str]:
    return int(data["t"]), str(data["interaction"]), str(data["org_type"])


def write_merged(path: Path, windows: list[dict[str, Any]]) -> int:
    """Merge compact windows by key and write them in key order, one group at a time.

    Only one group's full histograms are decoded at once, so memory stays small however long
    the run was; windows of several generators (or re-opened after sealing) merge exactly.
    """
    ordered = sorted(windows, key=_window_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    written = 0
    with tmp.open("w", encoding="utf-8") as out:
        index = 0
        while index < len(ordered):
            key = _window_key(ordered[index])
            merged = Window.from_json(ordered[index])
            index += 1
            while index < len(ordered) and _window_key(ordered[index]) == key:
                merged.merge(Window.from_json(ordered[index]))
                index += 1
            out.write(json.dumps(merged.to_json(), separators=(",", ":")) + "\n")
            written += 1
    tmp.replace(path)
    return written


def _write_counts(
    path: Path,
    keys: tuple[str, str],
    columns: tuple[str, str, str],
    parts: list[dict[tuple[str, str], list[int]]],
) -> None:
    merged: dict[tuple[str, str], list[int]] = {}
    for part in parts:
        for key, counts in part.items():
            into = merged.setdefault(key, [0, 0, 0])
            for i, n in enumerate(counts):
                into[i] += n
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*keys, *columns])
        for key in sorted(merged):
            writer.writerow([*key, *merged[key]])


def report_to_json(report: GeneratorReport) -> dict[str, Any]:
    """A generator report as JSON (for a parent process to merge)."""
    return {
        "accounting": asdict(report.accounting),
        "windows": report.windows,
        "organisations": [[*k, *v] for k, v in report.organisations.items()],
        "journeys": [[*k, *v] for k, v in report.journeys.items()],
        "lag_p50_ms": report.lag_p50_ms,
        "lag_p99_ms": report.lag_p99_ms,
        "cpu_max_percent": report.cpu_max_percent,
        "cpu_mean_percent": report.cpu_mean_percent,
        "locust_requests": report.locust_requests,
        "locust_failures": report.locust_failures,
        "stopped_early": report.stopped_early,
        "inflight_mean": report.inflight_mean,
        "cpu_s": report.cpu_s,
    }


def report_from_json(data: dict[str, Any]) -> GeneratorReport:
    """Rebuild a generator report written by :func:`report_to_json`."""
    return GeneratorReport(
        accounting=Accounting(**data["accounting"]),
        windows=list(data["windows"]),
        organisations={(r[0], r[1]): list(r[2:]) for r in data["organisations"]},
        journeys={(r[0], r[1]): list(r[2:]) for r in data["journeys"]},
        lag_p50_ms=float(data["lag_p50_ms"]),
        lag_p99_ms=float(data["lag_p99_ms"]),
        cpu_max_percent=float(data["cpu_max_percent"]),
        cpu_mean_percent=float(data["cpu_mean_percent"]),
        locust_requests=int(data["locust_requests"]),
        locust_failures=int(data["locust_failures"]),
        stopped_early=bool(data["stopped_early"]),
        inflight_mean=float(data.get("inflight_mean", 0.0)),
        cpu_s=float(data.get("cpu_s", 0.0)),
    )


def dump_report(path: Path, report: GeneratorReport) -> None:
    """Write a generator report for the parent process."""
    path.write_text(json.dumps(report_to_json(report)), encoding="utf-8")
