"""Writing every report of a results directory at once.

:func:`write_report` is what ``harness report DIR`` runs (and what ``load``, ``simulate`` and
``run`` can call when they finish): it builds the report data, draws ``figures/*.png``, writes
``report.html``, ``summary.md`` and ``junit.xml``, and adds the ``slo`` section to
``results.json`` (rewritten atomically, other sections untouched). It returns the data, whose
``verdict`` the caller maps to an exit code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.reports.data import ReportData, build_report, json_safe
from harness.reports.html import render_html
from harness.reports.markdown import render_markdown
from harness.reports.run_figures import (
    plot_breach,
    plot_budget,
    plot_latency,
    plot_predicted,
    plot_traffic,
)
from harness.slo.checks import write_junit


def _maintenance_offsets(data: ReportData) -> list[tuple[float, float]]:
    load = data.run.load or {}
    start = data.slo["period"]["start_s"] if data.slo else 0
    return [
        (float(m["start"]) - start, float(m["end"]) - start)
        for m in load.get("maintenance") or []
        if m.get("service") is None
    ]


def draw_figures(data: ReportData, folder: Path) -> dict[str, Path]:
    """Draw the figures the data supports into ``folder``; return name → path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    maintenance = _maintenance_offsets(data)
    evaluation = data.evaluation
    if data.traffic is not None and not data.traffic.empty:
        paths["traffic.png"] = plot_traffic(
            data.traffic, folder / "traffic.png", bin_s=data.bin_s, maintenance=maintenance
        )
    if data.latency is not None and not data.latency.empty:
        paths["latency.png"] = plot_latency(data.latency, folder / "latency.png")
    if evaluation is not None and evaluation.series.seconds > 0:
        paths["budget.png"] = plot_budget(
            evaluation.series,
            evaluation.slices.slice_availability,
            folder / "budget.png",
            target=data.objectives.availability_target,
            slice_s=evaluation.slices.slice_s,
            maintenance=maintenance,
        )
    if data.months is not None and "availability" in data.months.columns:
        simulation = data.run.simulation or {}
        target = float(simulation.get("target", data.objectives.availability_target))
        paths["breach.png"] = plot_breach(
            data.months["availability"].to_numpy(), folder / "breach.png", target=target
        )
    if data.predicted is not None:
        paths["predicted.png"] = plot_predicted(data.predicted, folder / "predicted.png")
    data.figures = {name: f"figures/{name}" for name in paths}
    return paths


def _row_text(row: dict[str, str]) -> str:
    return "  ".join(f"{name} {value}" for name, value in row.items() if value)


def slo_section(data: ReportData) -> dict[str, Any]:
    """The ``slo`` section written into ``results.json``."""
    section: dict[str, Any] = dict(data.slo) if data.slo is not None else {}
    section["verdict"] = str(data.verdict)
    if data.simulation is not None:
        section["design"] = data.simulation.judgement | {"verdict": data.simulation.verdict}
    section["checks"] = [c.to_json() for c in data.checks]
    section["problems"] = list(data.run.problems)
    section["partial"] = data.run.partial
    section["warnings"] = list(data.warnings)
    section["notes"] = list(data.notes)
    section["figures"] = sorted(data.figures.values())
    section["rendered_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return json_safe(section)  # type: ignore[no-any-return]


def _update_results(data: ReportData) -> None:
    target = data.run.path / "results.json"
    document = dict(data.run.document)
    document["slo"] = slo_section(data)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(target)


def write_report(results_dir: Path) -> ReportData:
    """Render every report of ``results_dir`` into it and return the judged data.

    Raises:
        ResultsError: the directory cannot be used.
    """
    data = build_report(results_dir)
    paths = draw_figures(data, results_dir / "figures")
    (results_dir / "report.html").write_text(render_html(data, paths), encoding="utf-8")
    (results_dir / "summary.md").write_text(render_markdown(data), encoding="utf-8")
    run = data.run
    out = list(data.warnings)
    if data.simulation is not None:  # what the terminal printed, for CI logs
        sim = data.simulation
        out += [sim.title, *(_row_text(row) for row in sim.rows), *sim.lines]
    write_junit(
        results_dir / "junit.xml",
        data.checks,
        suite=f"harness report {data.title}",
        properties={
            "verdict": "prediction-only" if data.prediction_only else data.verdict,
            "design_verdict": data.simulation.verdict if data.simulation else None,
            "partial": data.run.partial,
            "command": run.document.get("command"),
            "seed": run.document.get("seed"),
            "schema_version": run.document.get("schema_version"),
            "machine": json.dumps(run.machine, sort_keys=True),
            "availability_target": data.objectives.availability_target,
            "confidence": data.objectives.confidence,
        },
        system_out="\n".join(out),
    )
    _update_results(data)
    return data
