"""``harness report DIR``: (re)render the SLA compliance reports of a results directory.

Writes ``report.html``, ``summary.md``, ``junit.xml`` and ``figures/*.png`` into the directory
and adds the ``slo`` section to its ``results.json``. Exit code by verdict: 0 pass, 1 fail,
4 inconclusive, 3 invalid run (partial, windows missing, generator fell behind); 2 when the
directory cannot be used at all (missing, no ``results.json``, another schema version).
"""

from __future__ import annotations

from pathlib import Path

import typer

from harness.cli.output import ExitCode, make_console
from harness.verdict import Verdict


def report(
    results_dir: Path = typer.Argument(..., metavar="RESULTS_DIR", help="A results directory."),
) -> int:
    """Render report.html, summary.md, junit.xml and figures from a results directory."""
    from harness.reports.render import write_report

    console = make_console()
    data = write_report(results_dir)
    err = make_console(stderr=True)
    for warning in data.warnings:
        err.print(f"warning: {warning}", markup=False, soft_wrap=True)
    for check in data.checks:
        if check.verdict is not Verdict.PASS:
            console.print(
                f"  {check.verdict:<12} {check.name}: {check.message}", markup=False, soft_wrap=True
            )
    shown = "prediction only (--no-verdict)" if data.prediction_only else data.verdict
    console.print(f"verdict: {shown}", markup=False, soft_wrap=True)
    console.print(f"report: {results_dir / 'report.html'}", markup=False, soft_wrap=True)
    return ExitCode.of(data.verdict)
