"""Report data: everything a report shows, built from the files of a results directory.

:func:`build_report` reads ``results.json``, ``load/windows.jsonl``, ``load/organisations.csv``,
``load/journeys.csv`` and ``simulation/months.csv`` — files only, never Locust or SimPy objects —
and judges the run with :func:`harness.slo.evaluation.evaluate`. The renderers (HTML, Markdown,
JUnit, PNG) then only format a :class:`ReportData`; none of them computes a figure of its own.

A directory that cannot be used raises :class:`~harness.slo.run.ResultsError`. A partial or
otherwise invalid run still gives report data, with the verdict ``invalid`` and the reasons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.reports.simulation import SimulationView, simulation_checks, simulation_view
from harness.slo.availability import read_journeys, read_organisations
from harness.slo.checks import Check
from harness.slo.evaluation import Evaluation, Maintenance, evaluate
from harness.slo.latency import over_time
from harness.slo.objectives import Objectives, objectives_from_scenario
from harness.slo.run import MeasuredRun, ResultsError, open_run
from harness.slo.table import OUTCOME_COLUMNS, WindowTable, load_table
from harness.verdict import NotJudged, Verdict

MAX_POINTS = 300  # time-series figures are binned to at most this many points
UNJUDGED_VERDICT = {
    NotJudged.PREDICTION_ONLY: Verdict.PASS,  # reported, not judged: nothing to fail on
    NotJudged.PARTIAL: Verdict.INVALID,  # interrupted: never a pass
}


@dataclass
class ReportData:
    """What the renderers format.

    Attributes:
        run: the opened results directory.
        verdict: the run's verdict.
        checks: the checks, in report order.
        objectives: the targets judged against.
        evaluation: the judged load run (``None`` without usable windows).
        table: the windows (``None`` without usable windows).
        bin_s: bin width of the time-series figures, seconds.
        traffic: per bin: requests by outcome, plus drawn/sent/dropped/late.
        latency: per bin: percentiles in both views (ms).
        months: ``simulation/months.csv`` when present.
        predicted: per service, predicted (simulation) versus measured availability.
        simulation: the simulated months as text, with their design verdict (``simulate``;
            reported beside the measured verdict by ``run``).
        warnings: things the reader should know (shown in every output).
        notes: what was played, for reading the numbers (the share of national traffic).
        figures: file names under ``figures/`` once rendered.
    """

    run: MeasuredRun
    verdict: Verdict
    checks: tuple[Check, ...]
    objectives: Objectives
    evaluation: Evaluation | None = None
    table: WindowTable | None = None
    bin_s: int = 1
    traffic: pd.DataFrame | None = None
    latency: pd.DataFrame | None = None
    months: pd.DataFrame | None = None
    predicted: pd.DataFrame | None = None
    simulation: SimulationView | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)

    @property
    def slo(self) -> dict[str, Any] | None:
        """The ``slo`` section (load runs only)."""
        return self.evaluation.section if self.evaluation is not None else None

    @property
    def prediction_only(self) -> bool:
        """A ``simulate --no-verdict`` run: the verdict is not a judgement."""
        return (
            self.run.load is None
            and self.simulation is not None
            and (self.simulation.prediction_only)
        )

    @property
    def title(self) -> str:
        """A heading: the scenario name and the command."""
        scenario = self.run.scenario or {}
        name = scenario.get("name") or self.run.path.name
        return f"{name} — {self.run.document.get('command', 'run')}"


def _maintenance(load: dict[str, Any]) -> list[Maintenance]:
    out: list[Maintenance] = []
    for item in load.get("maintenance") or []:
        service = item.get("service")
        out.append((float(item["start"]), float(item["end"]), str(service) if service else None))
    return out


def _period(load: dict[str, Any], table: WindowTable) -> tuple[int, int]:
    starts = [table.start_s] if not table.empty else []
    ends = [table.end_s] if not table.empty else []
    if isinstance(load.get("started_at"), int | float):
        starts.append(math.floor(load["started_at"]))
    if isinstance(load.get("ended_at"), int | float):
        ends.append(math.ceil(load["ended_at"]))
    if not starts or not ends:
        return 0, 0
    return min(starts), max(max(ends), min(starts))


def _traffic(table: WindowTable, start_s: int, bin_s: int) -> pd.DataFrame:
    frame = table.frame.copy()
    frame["bin"] = (frame["t"] - start_s) // bin_s * bin_s
    columns = ["drawn", "sent", "dropped", "late", "good", "bad", "excluded", *OUTCOME_COLUMNS]
    per = frame.groupby("bin", sort=True)[columns].sum() / bin_s
    return per.reset_index().rename(columns={"bin": "t"})


def _optional_csv(path: Path, reader: Any) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        frame: pd.DataFrame = reader(path)
    except (ValueError, OSError) as exc:
        raise ResultsError(f"{path}: unreadable ({exc})") from None
    return frame


def _load_part(data: ReportData) -> None:
    run = data.run
    load = run.load or {}
    if not run.windows_path.exists():
        return
    try:
        table = load_table(run.windows_path)
    except (ValueError, OSError) as exc:
        raise ResultsError(str(exc)) from None
    start_s, end_s = _period(load, table)
    organisations = _optional_csv(run.organisations_path, read_organisations)
    journeys = _optional_csv(run.journeys_path, read_journeys)
    evaluation = evaluate(
        table,
        data.objectives,
        start_s=start_s,
        end_s=end_s,
        maintenance=_maintenance(load),
        organisations=organisations,
        journeys=journeys,
        generator=load.get("generator"),
        problems=run.problems,
    )
    data.evaluation = evaluation
    data.table = table
    data.verdict = evaluation.verdict
    data.checks = evaluation.checks
    if not table.empty:
        data.bin_s = max(1, math.ceil((end_s - start_s) / MAX_POINTS))
        data.traffic = _traffic(table, start_s, data.bin_s)
        data.latency = over_time(table, bin_s=data.bin_s, start_s=start_s)


def _predicted(simulation: dict[str, Any], slo: dict[str, Any]) -> pd.DataFrame | None:
    predicted = simulation.get("per_service") or {}
    measured = slo["request_based"]["per_service"]
    rows = []
    for service in sorted(set(predicted) & set(measured)):
        p, m = predicted[service], measured[service]
        judgement = m["judgement"]
        rows.append(
            {
                "service": service,
                "predicted_mean": p.get("mean"),
                "predicted_p5": p.get("p5"),
                "predicted_median": p.get("median"),
                "measured": m["availability"],
                "measured_low": 1.0 - judgement["upper"],
                "measured_high": 1.0 - judgement["lower"],
                "valid": m["valid"],
            }
        )
    return pd.DataFrame(rows) if rows else None


def _max_breach(scenario: dict[str, Any] | None) -> float | None:
    value = ((scenario or {}).get("simulation") or {}).get("max_breach_probability")
    return float(value) if isinstance(value, int | float) else None


def build_report(results_dir: Path) -> ReportData:
    """Read a results directory and judge it.

    Raises:
        ResultsError: the directory cannot be used (missing, unreadable, other schema).
    """
    run = open_run(results_dir)
    objectives = objectives_from_scenario(run.scenario)
    data = ReportData(run=run, verdict=Verdict.PASS, checks=(), objectives=objectives)
    if run.load is not None:
        data.verdict = Verdict.INVALID if run.problems else Verdict.PASS
        _load_part(data)
        if data.evaluation is None:
            data.checks = (
                Check(
                    "run complete and generator kept schedule",
                    "run.validity",
                    Verdict.INVALID,
                    "; ".join(run.problems),
                ),
            )
            data.verdict = Verdict.INVALID
    simulation = run.simulation
    if simulation is not None:
        target = float(simulation.get("target", objectives.availability_target))
        view = simulation_view(simulation, _max_breach(run.scenario))
        data.simulation = view
        if run.load is None:
            data.checks = simulation_checks(view, target)
            data.verdict = (
                UNJUDGED_VERDICT[view.verdict]
                if isinstance(view.verdict, NotJudged)
                else view.verdict
            )
        data.months = _optional_csv(run.path / "simulation" / "months.csv", pd.read_csv)
        if data.slo is not None:
            data.predicted = _predicted(simulation, data.slo)
    data.notes.extend(_played(run))
    caveats = (run.document.get("prediction") or {}).get("caveats") or []
    data.warnings.extend(f"prediction: {c}" for c in caveats)
    if run.partial:
        data.warnings.append("PARTIAL RUN: interrupted or incomplete — never a pass")
        if data.verdict in (Verdict.PASS, Verdict.INCONCLUSIVE):
            data.verdict = Verdict.INVALID
    for problem in run.problems:
        if not problem.startswith("partial run"):
            data.warnings.append(f"invalid run: {problem}")
    return data


def _played(run: MeasuredRun) -> list[str]:
    """The share of national traffic a load or run played (its scenario's rate scale)."""
    document = run.document
    traffic = (run.scenario or {}).get("traffic") or {}
    if run.load is None or "rate_scale" not in traffic:
        return []
    share = ((document.get("run") or {}).get("traffic_share") or {}).get("line")
    if share:
        return [f"Traffic: {share}."]
    return [f"Traffic: {float(traffic['rate_scale']):.2%} of national traffic (rate_scale)."]


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None`` and numpy scalars made plain."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
