"""What the gate writes: ``gate.json``, ``summary.md`` and ``junit.xml``.

Every comparison becomes a JUnit test case — ``<failure>`` for a regression, ``<skipped>`` for
an interaction with too little traffic to judge, ``<error>`` for every case when either run is
invalid — and a row in the Markdown table. A warning (runs from different machines, different
scenarios) appears in all three files and on the console.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.gate.compare import Comparison, GateThresholds
from harness.gate.summary import RunSummary
from harness.slo.checks import Check, write_junit
from harness.verdict import Verdict

GATE_SCHEMA_VERSION = "1.0"
ICON = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.INCONCLUSIVE: "⚠️", Verdict.INVALID: "⛔"}
HEADLINE = {
    Verdict.PASS: "no regression",
    Verdict.FAIL: "REGRESSION",
    Verdict.INCONCLUSIVE: "INCONCLUSIVE — a check that matters could not be judged",
    Verdict.INVALID: "INVALID — a run cannot be compared",
}


@dataclass
class GateResult:
    """The outcome of one gate run.

    Attributes:
        verdict: ``pass`` (no regression), ``fail`` (a regression), ``inconclusive`` (a
            check that matters could not be judged) or ``invalid``.
        comparisons: every comparison (empty when a run is invalid).
        problems: why a run is invalid.
        warnings: things every output repeats.
    """

    verdict: Verdict
    comparisons: list[Comparison]
    baseline: RunSummary
    candidate: RunSummary
    thresholds: GateThresholds
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def coverage(result: GateResult) -> dict[str, Any]:
    """How many checks were judged, of all and of those that matter, and what would judge them.

    ``needed_s`` is the run length (at the runs' rate) that would judge every check that
    matters, ``None`` when a longer run alone would not (the rate is too low) or none is needed.
    """
    comparisons = result.comparisons
    required = [c for c in comparisons if c.required]
    missing = [c for c in required if not c.judged]
    lengths = [c.needed_s for c in missing]
    return {
        "judged": sum(c.judged for c in comparisons),
        "checks": len(comparisons),
        "required_judged": len(required) - len(missing),
        "required": len(required),
        "not_judged": sorted({f"{c.scope} {c.statistic}" for c in missing}),
        "needed_s": max(n for n in lengths if n is not None)
        if missing and all(n is not None for n in lengths)
        else None,
    }


def coverage_line(result: GateResult) -> str:
    """One line: judged counts, and for an inconclusive gate what is missing and why."""
    c = coverage(result)
    line = (
        f"judged {c['judged']} of {c['checks']} checks; {c['required_judged']} of the "
        f"{c['required']} that matter (overall p50/p99, availability, interactions with >= "
        f"{result.thresholds.required_share:.0%} of the traffic)"
    )
    if c["not_judged"]:
        line += f"; not judged: {', '.join(c['not_judged'])}"
        if any(m.machine for m in result.comparisons if m.required and not m.judged):
            line += (
                " — the machine, not the code, may have moved latency (see the warning): run "
                "the baseline and the candidate again, back to back, on a quieter runner"
            )
        elif c["needed_s"]:
            line += f" — runs of at least {c['needed_s']} s at this rate would judge them"
        else:
            line += " — the rate is too low for the gate's blocks: raise it"
    return line


def _name(c: Comparison) -> str:
    if c.scope == "availability":
        return "availability: failure rate not higher than baseline"
    return f"latency {c.statistic} not worse than baseline ({c.scope})"


def _message(c: Comparison) -> str:
    if not c.judged:
        return f"not judged: {c.reason}"
    if c.scope == "availability":
        return (
            f"failure rate {c.baseline:.4%} → {c.candidate:.4%} "
            f"({c.method}, p={c.p_value:.2g}, adjusted {c.p_adjusted:.2g})"
        )
    return (
        f"{c.statistic} of {c.block_s}-s windows {c.baseline:.3f} → {c.candidate:.3f} ms, "
        f"shift {c.relative_shift:+.1%}, P(worse)={c.superiority:.2f}, "
        f"p={c.p_value:.2g}, adjusted {c.p_adjusted:.2g}"
    )


def checks(result: GateResult) -> list[Check]:
    """One check per comparison (or one error per invalid run)."""
    if result.problems:
        return [
            Check("both runs valid", "gate.validity", Verdict.INVALID, problem)
            for problem in result.problems
        ]
    machine = next((w for w in result.warnings if "different machines" in w), None)
    out = [
        Check(
            "baseline and candidate ran on the same machine",
            "gate.machine",
            Verdict.INCONCLUSIVE if machine else Verdict.PASS,
            machine or "same machine description",
        )
    ]
    for c in result.comparisons:
        if not c.judged:
            verdict = Verdict.INCONCLUSIVE
        else:
            verdict = Verdict.FAIL if c.regression else Verdict.PASS
        out.append(Check(_name(c), f"gate.{c.statistic.replace(' ', '-')}", verdict, _message(c)))
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _side(summary: RunSummary) -> dict[str, Any]:
    return {
        "source": str(summary.source),
        "machine": summary.machine,
        "valid": summary.valid,
        "problems": list(summary.problems),
        "windows": len(summary.table.frame),
        "scenario": summary.info.get("scenario"),
        "created_at": summary.info.get("created_at"),
    }


def gate_document(result: GateResult) -> dict[str, Any]:
    """The content of ``gate.json``."""
    document: dict[str, Any] = _clean(
        {
            "schema_version": GATE_SCHEMA_VERSION,
            "command": "gate",
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "verdict": result.verdict,
            "warnings": result.warnings,
            "problems": result.problems,
            "thresholds": asdict(result.thresholds),
            "baseline": _side(result.baseline),
            "candidate": _side(result.candidate),
            "comparisons": [asdict(c) for c in result.comparisons],
            "checks": [c.to_json() for c in checks(result)],
            "coverage": coverage(result),
        }
    )
    return document


def markdown(result: GateResult) -> str:
    """``summary.md`` for a pull-request comment."""
    icon = ICON[result.verdict]
    headline = HEADLINE[result.verdict]
    lines = [
        f"### {icon} harness gate: {headline}",
        "",
        f"Baseline `{result.baseline.source}` → candidate `{result.candidate.source}`.",
    ]
    if not result.problems:
        lines += ["", coverage_line(result) + "."]
    lines += [f"> **Warning:** {w}" for w in result.warnings]
    lines += [f"- ⛔ {p}" for p in result.problems]
    judged = [c for c in result.comparisons if c.judged]
    if judged:
        lines += [
            "",
            "| check | baseline | candidate | shift | P(worse) | adj. p | |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for c in judged:
            if c.scope == "availability":
                base, cand = f"{c.baseline:.4%}", f"{c.candidate:.4%}"
                shift, sup = f"{(c.shift or 0):+.4%}", "–"
            else:
                base, cand = f"{c.baseline:.3f} ms", f"{c.candidate:.3f} ms"
                shift, sup = f"{c.relative_shift:+.1%}", f"{c.superiority:.2f}"
            flag = "❌ regression" if c.regression else "ok"
            lines.append(
                f"| {c.scope} {c.statistic} | {base} | {cand} | {shift} | {sup} | "
                f"{c.p_adjusted:.2g} | {flag} |"
            )
    skipped = [c for c in result.comparisons if not c.judged and not c.machine]
    if skipped:
        scopes = sorted({c.scope for c in skipped})
        lines += ["", f"Not judged (too little traffic): {', '.join(scopes)}."]
    moved = sorted({c.scope for c in result.comparisons if c.machine})
    if moved:
        lines += ["", f"Not judged (the machine may have moved latency): {', '.join(moved)}."]
    return "\n".join(lines) + "\n"


def write_outputs(result: GateResult, folder: Path) -> None:
    """Write ``gate.json``, ``summary.md`` and ``junit.xml`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    document = gate_document(result)
    (folder / "gate.json").write_text(
        json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    (folder / "summary.md").write_text(markdown(result), encoding="utf-8")
    write_junit(
        folder / "junit.xml",
        checks(result),
        suite="harness gate",
        properties={
            "verdict": result.verdict,
            "coverage": coverage_line(result),
            "baseline": result.baseline.source,
            "candidate": result.candidate.source,
            "baseline_machine": json.dumps(result.baseline.machine, sort_keys=True),
            "candidate_machine": json.dumps(result.candidate.machine, sort_keys=True),
            **{f"threshold.{k}": v for k, v in asdict(result.thresholds).items()},
        },
        system_out="\n".join(f"warning: {w}" for w in result.warnings),
    )
