"""``harness gate``: compare a candidate run with a baseline; exit 1 on a regression.

``--baseline`` takes a directory (a saved baseline or any results directory) or a name under
``--baselines-dir`` (default ``baselines/``). ``--save-baseline NAME`` stores the candidate's
aggregated windows as ``baselines/NAME/``; with no ``--baseline`` that is all it does. Exit
codes: 0 no regression, 1 regression, 4 inconclusive (a check that matters — overall p50/p99,
availability, interactions with >= 5 % of the traffic — could not be judged), 3 when either
run is invalid, 2 for unusable input.
"""

from __future__ import annotations

from pathlib import Path

import typer

from harness.cli.output import ExitCode, make_console, print_results


def gate(
    context: typer.Context,
    candidate: Path = typer.Option(..., help="Results directory of the run to judge."),
    baseline: str | None = typer.Option(
        None, help="Baseline name (under --baselines-dir) or directory."
    ),
    output: Path | None = typer.Option(None, help="Where to write gate.json (default reports/…)."),
    save_baseline: str | None = typer.Option(
        None, "--save-baseline", help="Also store the candidate as baselines/NAME."
    ),
    baselines_dir: Path = typer.Option(Path("baselines"), help="Folder of named baselines."),
    alpha: float = typer.Option(0.01, min=1e-6, max=0.5, help="Family-wise significance."),
    min_superiority: float = typer.Option(
        0.6, min=0.5, max=1.0, help="Minimum P(candidate window worse than baseline window)."
    ),
    min_shift: float = typer.Option(
        0.05, min=0.0, help="Minimum relative latency shift (0.05 = 5 %)."
    ),
    min_failure_increase: float = typer.Option(
        0.0001, min=0.0, help="Minimum failure-rate increase (0.0001 = 0.01 points)."
    ),
) -> int:
    """Compare latency and availability of a candidate run with a baseline."""
    from harness.cli.arguments import results_dir
    from harness.errors import ConfigurationError
    from harness.gate import (
        GateThresholds,
        judge_runs,
        read_summary,
        resolve_baseline,
        write_outputs,
    )
    from harness.gate import (
        save_baseline as store,
    )
    from harness.gate.outputs import coverage_line

    console = make_console()
    err = make_console(stderr=True)
    if baseline is None and save_baseline is None:
        raise ConfigurationError("give --baseline to compare, --save-baseline to store, or both")
    candidate_run = read_summary(candidate)
    code = ExitCode.PASS
    if baseline is not None:
        baseline_run = read_summary(resolve_baseline(baseline, baselines_dir))
        thresholds = GateThresholds(
            alpha=alpha,
            min_superiority=min_superiority,
            min_relative_shift=min_shift,
            min_failure_rate_increase=min_failure_increase,
        )
        result = judge_runs(baseline_run, candidate_run, thresholds)
        folder = results_dir("gate", output, context)
        write_outputs(result, folder.path)
        for warning in result.warnings:
            err.print(f"warning: {warning}", markup=False, soft_wrap=True)
        for problem in result.problems:
            err.print(f"invalid: {problem}", markup=False, soft_wrap=True)
        for c in result.comparisons:
            if c.regression:
                console.print(
                    f"  regression: {c.scope} {c.statistic}: {c.baseline:.4g} → {c.candidate:.4g}",
                    markup=False,
                    soft_wrap=True,
                )
        if not result.problems:
            console.print(coverage_line(result), markup=False, soft_wrap=True)
        console.print(f"gate: {result.verdict}", markup=False)
        print_results(console, folder.path)
        code = ExitCode.of(result.verdict)
    if save_baseline is not None:
        if not candidate_run.valid:
            problems = "; ".join(candidate_run.problems)
            err.print(
                f"baseline not saved: the candidate run is invalid ({problems})", markup=False
            )
            code = ExitCode.INVALID_RUN
        else:
            saved = store(candidate_run, save_baseline, baselines_dir)
            console.print(f"baseline saved: {saved}", markup=False)
    return code
