"""``summary.md``: the verdict and the few numbers a pull-request comment needs.

Short on purpose (a few dozen lines at most): the verdict, warnings, a headline table per
service, and only the checks that did not pass. The full story is in ``report.html``.
"""

from __future__ import annotations

from typing import Any

from harness.reports.data import ReportData
from harness.reports.html import banner, num, pct
from harness.reports.simulation import COLUMNS, SimulationView
from harness.verdict import Verdict

ICON = {
    Verdict.PASS: "✅",
    Verdict.FAIL: "❌",
    Verdict.INCONCLUSIVE: "⚠️",
    Verdict.INVALID: "⛔",
}
MAX_LISTED = 10


def render_markdown(data: ReportData) -> str:
    """The summary as Markdown text."""
    icon = "🔮" if data.prediction_only else ICON[data.verdict]
    lines = [
        f"### {icon} {data.title}: {banner(data)[1]}",
        "",
        f"Target {pct(data.objectives.availability_target)}, one-sided confidence "
        f"{data.objectives.confidence:.0%}.",
    ]
    lines += [f"> **Warning:** {w}" for w in data.warnings]
    lines += [f"{n}" for n in data.notes]
    slo = data.slo
    if slo is not None:
        overall = slo["request_based"]["overall"]
        sliced = slo["time_sliced"]["overall"]
        budget = slo["budget"]
        lines += [
            "",
            "| scope | valid | bad | availability | verdict |",
            "|---|---:|---:|---:|---|",
            f"| **overall** | {num(overall['valid'])} | {num(overall['bad'])} | "
            f"{pct(overall['availability'])} | {overall['judgement']['verdict']} |",
        ]
        for name, item in slo["request_based"]["per_service"].items():
            lines.append(
                f"| {name} | {num(item['valid'])} | {num(item['bad'])} | "
                f"{pct(item['availability'])} | {item['judgement']['verdict']} |"
            )
        lines += [
            "",
            f"Time-sliced: {pct(sliced['availability'])} of {sliced['measured']} measured "
            f"{sliced['slice_s']}-s slices. Error budget left: "
            f"{pct(budget['messages_remaining_fraction'], 3)} (messages), "
            f"{pct(budget['minutes_remaining_fraction'], 3)} (minutes).",
        ]
    if data.simulation is not None:
        lines += _simulation(data.simulation)
    lines += _comparison(data.run.document.get("comparison") or [])
    failing = [c for c in data.checks if c.verdict is not Verdict.PASS]
    if failing:
        lines += ["", "Checks not passed:", ""]
        lines += [f"- {ICON[c.verdict]} **{c.name}** — {c.message}" for c in failing[:MAX_LISTED]]
        if len(failing) > MAX_LISTED:
            lines.append(f"- … and {len(failing) - MAX_LISTED} more (see junit.xml)")
    lines += ["", f"{len(data.checks)} checks; full report: `report.html`."]
    return "\n".join(lines) + "\n"


def _simulation(view: SimulationView) -> list[str]:
    """The simulated months: the terminal's table and lines, and per service."""
    lines = ["", f"**{view.title}**", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    lines += ["| " + " | ".join(row[c] for c in COLUMNS) + " |" for row in view.rows]
    lines += ["", *(f"- {line}" for line in view.lines)]
    if view.services:
        columns = COLUMNS[:-1]
        lines += ["", "| service " + "".join(f"| {c} " for c in columns[1:]) + "|"]
        lines.append("|---|" + "---:|" * (len(columns) - 1))
        lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in view.services]
    return lines


def _comparison(rows: list[dict[str, Any]]) -> list[str]:
    """``harness run``: predicted beside measured, per service."""
    if not rows:
        return []

    def cell(value: Any, kind: str) -> str:
        if value is None:
            return "–"
        if kind == "pct":
            return pct(value, 3)
        return f"{value:,.1f}" if kind == "ms" else f"{value:,.0f}"

    lines = [
        "",
        "| service | attempts (pred / meas) | bad (pred / meas) | availability (pred / meas) "
        "| p95 ms (pred / meas) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        columns = (("attempts", "n"), ("bad", "n"), ("availability", "pct"), ("p95_ms", "ms"))
        pairs = [
            f"{cell(r[f'predicted_{k}'], kind)} / {cell(r[f'measured_{k}'], kind)}"
            for k, kind in columns
        ]
        lines.append(f"| {r['service']} | " + " | ".join(pairs) + " |")
    return lines
