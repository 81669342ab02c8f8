"""``report.html``: one self-contained page, the verdict first.

The page is rendered from a Jinja2 template shipped inside the package (read with
``importlib.resources``, so it works from a wheel or a zip) and carries its figures as base64
PNG ``data:`` URIs and its styles inline: it can be mailed, attached to a CI job or opened from
a file share without the folder beside it. It has no JavaScript. Every number is formatted here,
from :class:`~harness.reports.data.ReportData`; the template only lays them out.
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined

from harness.reports.data import ReportData, json_safe
from harness.reports.simulation import COLUMNS as SIM_COLUMNS
from harness.reports.simulation import DEFINITIONS as SIM_DEFINITIONS
from harness.slo.outcomes import Outcome
from harness.verdict import Verdict

VERDICT_TEXT = {
    Verdict.PASS: "PASS — meets the target at the stated confidence",
    Verdict.FAIL: "FAIL — the target is breached at the stated confidence",
    Verdict.INCONCLUSIVE: "INCONCLUSIVE — too few requests to decide",
    Verdict.INVALID: "INVALID RUN — the measurement cannot be judged",
}
SIMULATION_VERDICT_TEXT = {
    Verdict.PASS: "PASS — simulated months breach the target no more often than allowed",
    Verdict.FAIL: "FAIL — simulated months breach the target more often than allowed",
    Verdict.INCONCLUSIVE: "INCONCLUSIVE — too few simulated months to decide",
    Verdict.INVALID: "INVALID RUN — the simulation cannot be judged",
}
PARTIAL_TEXT = "PARTIAL — interrupted before the end: what was measured, never a pass"
PREDICTION_ONLY_TEXT = "PREDICTION ONLY — not judged (--no-verdict)"
FIGURE_TITLES = {
    "traffic.png": "Traffic and errors over time",
    "latency.png": "Latency percentiles over time, both views",
    "budget.png": "Availability, error budget burn-down and burn rate",
    "breach.png": "Simulated monthly availability and breach probability",
    "predicted.png": "Predicted versus measured availability",
}


def pct(value: float | None, digits: int = 4) -> str:
    """A fraction as a percentage, ``–`` for ``None``."""
    if value is None:
        return "–"
    if abs(value) >= 10.0:  # 1,000 % and more: a budget overrun, shown whole
        return f"{value * 100:,.0f} %"
    return f"{value * 100:.{digits}g} %"


def num(value: float | int | None) -> str:
    """A count with thousands separators, ``–`` for ``None``."""
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def ms(value: float | None) -> str:
    """Milliseconds to three significant digits."""
    if value is None or value != value:
        return "–"
    return f"{value:.3g}"


def banner(data: ReportData) -> tuple[str, str]:
    """The verdict's CSS class and text: a simulation's own words when only months ran."""
    if data.run.partial:
        return str(Verdict.INVALID), PARTIAL_TEXT
    if data.prediction_only:
        return "prediction", PREDICTION_ONLY_TEXT
    if data.run.load is None and data.simulation is not None:
        return str(data.verdict), SIMULATION_VERDICT_TEXT[data.verdict]
    return str(data.verdict), VERDICT_TEXT[data.verdict]


def _template() -> str:
    return (
        resources.files("harness.reports")
        .joinpath("templates/report.html.j2")
        .read_text(encoding="utf-8")
    )


def _embed(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _judged_rows(per: dict[str, Any], slices: dict[str, Any] | None) -> list[dict[str, str]]:
    rows = []
    for name, item in per.items():
        judgement = item.get("judgement")
        sliced = (slices or {}).get(name) or {}
        rows.append(
            {
                "name": name,
                "valid": num(item["valid"]),
                "bad": num(item["bad"]),
                "excluded": num(item["excluded"]),
                "availability": pct(item["availability"]),
                "bounds": (
                    f"{pct(1 - judgement['upper'])} – {pct(1 - judgement['lower'])}"
                    if judgement
                    else ""
                ),
                "verdict": judgement["verdict"] if judgement else "reported",
                "time_sliced": pct(sliced.get("availability")),
            }
        )
    return rows


def _latency_rows(slo: dict[str, Any]) -> list[dict[str, str]]:
    objectives = slo["latency"]["objectives"]
    rows = []
    for row in slo["latency"]["percentiles"]:
        name = row["interaction"]
        objective = objectives.get(name)
        rows.append(
            {
                "name": name,
                "count": num(row["count"]),
                **{
                    f"{view}_{q}": ms(row.get(f"{view}_{q}_ms"))
                    for view in ("latency", "service")
                    for q in ("p50", "p95", "p99", "p99_9")
                },
                "objective": (
                    f"p{objective['percentile'] * 100:g} ≤ {objective['threshold_s'] * 1000:g} ms"
                    if objective
                    else ""
                ),
                "verdict": objective["judgement"]["verdict"] if objective else "",
            }
        )
    return rows


def _context(data: ReportData, figure_paths: dict[str, Path]) -> dict[str, Any]:
    slo = data.slo
    run = data.run
    verdict_class, verdict_text = banner(data)
    context: dict[str, Any] = {
        "title": data.title,
        "verdict": verdict_class,
        "verdict_text": verdict_text,
        "warnings": data.warnings,
        "notes": data.notes,
        "problems": list(run.problems),
        "checks": [c.to_json() for c in data.checks],
        "figures": [
            {"title": FIGURE_TITLES.get(name, name), "name": name, "src": _embed(path)}
            for name, path in figure_paths.items()
        ],
        "objectives": data.objectives,
        "target": pct(data.objectives.availability_target),
        "confidence": f"{data.objectives.confidence:.0%}",
        "slo": slo,
        "environment": json.dumps(run.document.get("environment"), indent=2),
        "scenario": json.dumps(json_safe(run.scenario), indent=2),
        "seed": run.document.get("seed"),
        "created_at": run.document.get("created_at"),
        "path": str(run.path),
        "bad_outcomes": [str(o) for o in Outcome if o.is_bad],
        "excluded_outcomes": [str(o) for o in Outcome if o.is_excluded],
        "pct": pct,
        "num": num,
        "simulation": run.simulation,
        "sim": data.simulation,
        "sim_columns": SIM_COLUMNS,
        "sim_definitions": SIM_DEFINITIONS,
        "predicted": None,
        # harness run: the fault timeline, prediction beside measurement, operational laws.
        "faults": run.document.get("faults") or [],
        "prediction": run.document.get("prediction") or {},
        "comparison": run.document.get("comparison") or [],
        "validation": run.document.get("validation") or [],
    }
    if slo is not None:
        sliced = slo["time_sliced"]
        context["services"] = _judged_rows(
            slo["request_based"]["per_service"], sliced["per_service"]
        )
        context["org_types"] = _judged_rows(slo["request_based"]["per_org_type"], None)
        context["latency_rows"] = _latency_rows(slo)
    if data.predicted is not None:
        context["predicted"] = data.predicted.to_dict(orient="records")
    return context


def render_html(data: ReportData, figure_paths: dict[str, Path]) -> str:
    """The page as a string; ``figure_paths`` maps file names to rendered PNGs."""
    environment = Environment(
        autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True
    )
    template = environment.from_string(_template())
    return template.render(**_context(data, figure_paths))
