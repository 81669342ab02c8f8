"""The regression gate: compare a candidate load run with a baseline, statistically.

``harness gate --baseline NAME|DIR --candidate DIR`` reads both runs' windows, compares latency
per interaction on window-level statistics (:mod:`harness.gate.compare`) and availability with a
two-proportion test, and writes ``gate.json``, ``summary.md`` and ``junit.xml``. Runs are read
from files only; the gate never imports Locust or SimPy.
"""

from __future__ import annotations

from pathlib import Path

from harness.gate.compare import (
    GateThresholds,
    busy_warning,
    compare,
    discount_busy,
    discount_machine,
    machine_speed,
    machine_warning,
)
from harness.gate.outputs import GateResult, write_outputs
from harness.gate.summary import RunSummary, read_summary, resolve_baseline, save_baseline
from harness.verdict import Verdict


def judge_runs(
    baseline: RunSummary, candidate: RunSummary, thresholds: GateThresholds
) -> GateResult:
    """Compare two read runs: ``invalid`` when either is, else ``fail`` (a regression),
    ``inconclusive`` (a check that matters could not be judged) or ``pass``."""
    warnings = []
    machine = machine_warning(baseline, candidate)
    if machine:
        warnings.append(machine)
    names = (baseline.info.get("scenario"), candidate.info.get("scenario"))
    if None not in names and names[0] != names[1]:
        warnings.append(f"different scenarios: baseline {names[0]!r}, candidate {names[1]!r}")
    problems = [f"baseline: {p}" for p in baseline.problems]
    problems += [f"candidate: {p}" for p in candidate.problems]
    if problems:
        return GateResult(Verdict.INVALID, [], baseline, candidate, thresholds, problems, warnings)
    comparisons = compare(baseline, candidate, thresholds)
    busy = busy_warning(baseline, candidate, thresholds)
    if busy is not None:
        warnings.append(busy + ". Run the baseline and the candidate again on a quieter runner.")
        discount_busy(comparisons, busy)
    speed = machine_speed(baseline, candidate)
    if speed is None:
        warnings.append(
            "a run did not record its generator's CPU per attempt (runs of older versions): a "
            "change of the machine between the runs would pass for a change of latency"
        )
    elif speed.spread > thresholds.max_machine_spread:
        warnings.append(
            f"{speed.describe()}, more than "
            f"{thresholds.max_machine_spread:.0%}: latency shifts it could explain are not "
            "judged. Run the baseline and the candidate again, back to back, on a quieter runner."
        )
        discount_machine(comparisons, speed, thresholds)
    if any(c.regression for c in comparisons):
        verdict = Verdict.FAIL
    elif any(c.required and not c.judged for c in comparisons):
        verdict = Verdict.INCONCLUSIVE  # "no regression" needs every check that matters judged
    else:
        verdict = Verdict.PASS
    return GateResult(verdict, comparisons, baseline, candidate, thresholds, [], warnings)


def run_gate(
    baseline_dir: Path, candidate_dir: Path, thresholds: GateThresholds | None = None
) -> GateResult:
    """Read both runs from disk and compare them."""
    baseline = read_summary(baseline_dir)
    candidate = read_summary(candidate_dir)
    return judge_runs(baseline, candidate, thresholds or GateThresholds())


__all__ = [
    "GateResult",
    "GateThresholds",
    "RunSummary",
    "judge_runs",
    "read_summary",
    "resolve_baseline",
    "run_gate",
    "save_baseline",
    "write_outputs",
]
