"""``harness simulate``: predict monthly availability and the chance of breaching the target.

Verdict (exit code), always: the predicted probability that a month falls below
``slo.availability_target`` — request-based and time-based, each with its 95 % Wilson
interval — is compared with ``simulation.max_breach_probability``
(:func:`harness.slo.prediction.judge_prediction`): exit 1 when either whole interval is above
the maximum (the design breaches too often), 0 when both whole intervals are at or below it,
and 4 (inconclusive) otherwise, with the months that would decide it. ``--no-verdict`` asks for
the numbers only: exit 0 whatever they are, and the reports say "prediction only".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from harness.cli.interrupt import raise_if_interrupted
from harness.cli.output import ExitCode, make_console, print_results


def simulate(
    context: typer.Context,
    scenario_path: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario file (YAML)."),
    replications: int = typer.Option(200, "--replications", "-n", min=1, help="Months to run."),
    seed: int | None = typer.Option(None, min=0, help="Root seed (default: the scenario's)."),
    executor: str = typer.Option("local", help="local (process pool) or dask."),
    scheduler: str | None = typer.Option(None, help="Dask scheduler address to join."),
    workers: int = typer.Option(
        0, min=0, help="Worker processes (default: one per CPU, at most the replications)."
    ),
    output: Path | None = typer.Option(None, help="Results directory (default reports/…)."),
    validate: bool = typer.Option(
        False, "--validate", help="Re-check sampled windows with the exact kernel."
    ),
    sweep: list[str] | None = typer.Option(
        None, "--sweep", help="KEY=V1,V2,… one-at-a-time what-if (repeatable)."
    ),
    no_verdict: bool = typer.Option(
        False,
        "--no-verdict",
        help="Predict only: exit 0 whatever P(breach) is (reports say 'prediction only').",
    ),
) -> int:
    """Simulate months of the scenario's platform and predict its availability."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from harness.cli.arguments import check_scripted, results_dir, warn_ignored_faults, warn_unused
    from harness.cli.interrupt import catching_signals
    from harness.config import load_scenario
    from harness.config.placement import simulate_placement
    from harness.errors import ConfigurationError
    from harness.simulation import Executor, run_replications, summarise, write_tables
    from harness.slo.prediction import judge_prediction
    from harness.verdict import NotJudged, Verdict

    scenario = load_scenario(scenario_path)
    if executor not in {e.value for e in Executor}:
        raise ConfigurationError(f"--executor must be local or dask, not {executor!r}")
    chosen = Executor(executor)
    root_seed = scenario.seed if seed is None else seed
    count = workers or min(os.cpu_count() or 1, replications)
    grid: dict[str, list[Any]] = dict(scenario.sweep)
    if sweep:
        from harness.simulation.sweep import parse_sweep

        grid.update(parse_sweep(option) for option in sweep)
    if grid:
        from harness.simulation.sweep import variants

        variants(scenario, grid)  # refuse a bad sweep before anything runs
    console = make_console()
    if scenario.simulation.slo_gate:
        console.print("note: simulation.slo_gate is no longer read: simulate always judges")
    check_scripted(scenario)
    results = results_dir(f"simulate-{scenario.name}", output, context)
    warn_unused(scenario, "simulate")
    warn_ignored_faults(simulate_placement(scenario).ignored)
    with (
        catching_signals() as stop,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=not console.is_terminal,
        ) as bar,
    ):
        task = bar.add_task(f"simulating {scenario.name}", total=replications)
        run = run_replications(
            scenario,
            replications,
            root_seed,
            executor=chosen,
            workers=count,
            scheduler=scheduler,
            progress=lambda done, total: _progress(console, bar, task, done, total),
        )
    summary = summarise(run)
    sections: dict[str, Any] = {"scenario": scenario.model_dump(mode="json"), "simulation": summary}
    summary["judgement"] = judge_prediction(summary, scenario.simulation.max_breach_probability)
    if run.interrupted:  # the finished months, marked partial; no validation or sweep
        _write_partial(console, run, sections, results, root_seed)
        console.print(f"interrupted: {len(run.records)} of {replications} months finished")
        return stop.exit_code
    design = Verdict(summary["judgement"]["verdict"])
    # Validation and the sweep can take longer than the months: a signal during them still
    # writes the months (and the sweep's finished variants), marked partial.
    with catching_signals() as later:
        try:
            if validate:
                from harness.simulation import validate_windows
                from harness.simulation.closed_forms import scenario_checks

                check = validate_windows(run.prepared, root_seed)
                summary["validation"] = check
                # Reported beside the kernel's verdict; the exit code rests on the kernel's
                # alone.
                summary["closed_forms"] = scenario_checks(run.prepared.layout, root_seed)
                if not check["agrees"]:
                    # Even under --no-verdict: the numbers cannot be trusted.
                    design = Verdict.INVALID
            if grid:
                summary["sweep"] = _sweep(
                    scenario, grid, replications, root_seed, chosen, count, scheduler, summary,
                    results,
                )  # fmt: skip
        except KeyboardInterrupt as stopped:
            finished = getattr(stopped, "rows", None)  # SweepInterrupted: the variants done
            if finished is not None:
                summary["sweep"] = {"rows": finished, "partial": True}
            _write_partial(console, run, sections, results, root_seed)
            console.print("interrupted after the months: validation or sweep not finished")
            return later.exit_code
    write_tables(run, results.path / "simulation")
    judged = not no_verdict or design is Verdict.INVALID
    summary["verdict"] = design if judged else NotJudged.PREDICTION_ONLY
    results.write_json(sections, command="simulate", seed=root_seed)
    _finish(console, summary, results.path)
    return ExitCode.of(design) if judged else ExitCode.PASS


def _write_partial(
    console: Any, run: Any, sections: dict[str, Any], results: Any, seed: int
) -> None:
    """Write what an interrupted run finished, marked partial (never judged a pass)."""
    from harness.simulation import write_tables
    from harness.verdict import NotJudged

    summary = sections["simulation"]
    summary["partial"] = True
    summary["verdict"] = NotJudged.PARTIAL
    write_tables(run, results.path / "simulation")
    results.write_json(sections, command="simulate", seed=seed)
    _finish(console, summary, results.path)


def _progress(console: Any, bar: Any, task: Any, done: int, total: int) -> None:
    """The bar in a terminal; plain lines in a log, where a bar shows nothing until the end."""
    raise_if_interrupted()
    bar.update(task, completed=done, total=total)
    if not console.is_terminal:
        console.print(f"simulate: {done}/{total} months done", markup=False)


def _finish(console: Any, summary: dict[str, Any], folder: Path) -> None:
    """Print the summary and write the reports (report.html, summary.md, junit.xml, figures)."""
    from harness.reports.render import write_report

    console.print(_print(console, summary), markup=False, soft_wrap=True)
    write_report(folder)
    console.print(f"report: {folder / 'report.html'}")
    print_results(console, folder)


def _sweep(
    scenario: Any,
    grid: dict[str, list[Any]],
    replications: int,
    seed: int,
    executor: Any,
    workers: int,
    scheduler: str | None,
    summary: dict[str, Any],
    results: Any,
) -> dict[str, Any]:
    from harness.reports.sweep_figures import plot_sweep, plot_tornado
    from harness.simulation.sweep import run_sweep

    console = make_console()
    console.print(f"sweep: {sum(len(v) for v in grid.values())} variants of {len(grid)} keys")
    rows = run_sweep(
        scenario,
        grid,
        replications,
        seed,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        progress=lambda done, total: _variant_done(console, done, total),
    )
    base = summary["request_based"]["breach"]["probability"]
    figures = [
        str(plot_sweep(rows, key, base, results.figure_path(f"sweep-{key}.png")).name)
        for key in grid
    ]
    figures.append(plot_tornado(rows, base, results.figure_path("tornado.png")).name)
    for row in rows:
        console.print(
            f"  {row['key']}={row['value']}: P(breach) {row['breach_probability']:.2%} "
            f"[{row['interval'][0]:.2%}, {row['interval'][1]:.2%}]"
        )
    return {"base_breach_probability": base, "rows": rows, "figures": figures}


def _variant_done(console: Any, done: int, total: int) -> None:
    console.print(f"  variant {done}/{total} done")
    raise_if_interrupted()


def _print(console: Any, summary: dict[str, Any]) -> str:
    """Print the months' table and lines; return the verdict line, printed last."""
    from rich.table import Table

    from harness.reports.simulation import COLUMNS, simulation_view

    view = simulation_view(summary)
    table = Table(title=view.title)
    for column in COLUMNS:
        table.add_column(column, no_wrap=True)
    for row in view.rows:
        table.add_row(*(row[c] for c in COLUMNS))
    # Logs and CI are not terminals (80 columns by default): give the table the room it needs.
    console.width = max(console.width, 120)
    console.print(table)
    services = Table(title="per service (request-based)")
    for column in ("service", *COLUMNS[1:-1]):
        services.add_column(column, no_wrap=True)
    for row in view.services:
        services.add_row(*(row[c] for c in COLUMNS[:-1]))
    console.print(services)
    for line in view.lines[:-1]:
        console.print(line, markup=False, soft_wrap=True)
    _print_validation(console, summary)
    return view.lines[-1]


def _print_validation(console: Any, summary: dict[str, Any]) -> None:
    check = summary.get("validation")
    if check is not None:
        verdict = "agrees" if check["agrees"] else "DISAGREES"
        console.print(
            f"validation against the exact kernel ({check['service']}, "
            f"{check.get('repeats', 1)} windows a case): {verdict}"
        )
        for row in check["cases"]:
            e, h, noise = row["exact"], row["hybrid"], row.get("noise", {})
            note = ""
            if not row["agrees"]:
                note = "  DISAGREES"
            elif not row.get("within_tolerance", True):
                note = "  (outside ±3 %, within the exact count's noise)"
            console.print(
                f"  {row['case']}: failed {e['failed']:.0f} exact / {h['failed']:.0f} hybrid "
                f"(exact ±{noise.get('failed', 0.0):.0f}), slow {e['slow']:.0f} / "
                f"{h['slow']:.0f} (±{noise.get('slow', 0.0):.0f}){note}"
            )
    closed = summary.get("closed_forms")
    if closed is not None:
        _print_closed_forms(console, closed)


def _print_closed_forms(console: Any, closed: dict[str, Any]) -> None:
    from harness.simulation.closed_forms import LOADS

    verdict = "agree" if closed["agrees"] else "DISAGREE"
    console.print(
        f"closed-form checks on this scenario's laws and pools: {verdict} "
        "(a ratio in brackets: a share under the margin, judged absolutely)"
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in closed["checks"]:
        note = "" if row["agrees"] else "  DISAGREES"
        if row["group"]:
            groups.setdefault(row["group"], []).append(row)
            continue
        console.print(
            f"  {row['check']}: closed form {row['closed_form']:.4g}, model {row['model']:.4g} "
            f"(±{row['margin']:.2g}){note}",
            markup=False,
        )
    for name, rows in groups.items():
        ratios = " ".join(_ratio(r) for r in rows)
        bad = [r["check"] for r in rows if not r["agrees"]]
        loads = " ".join(f"{rho:.2f}" for rho in LOADS)
        console.print(
            f"  {name} at rho {loads}: {ratios}"
            + (f"  DISAGREES: {'; '.join(bad)}" if bad else ""),
            markup=False,
        )


def _ratio(row: dict[str, Any]) -> str:
    """Model over closed form; in brackets when the share is below the absolute margin."""
    if row["closed_form"] <= 0:
        return "-"
    text = f"{row['model'] / row['closed_form']:.3f}"
    return f"({text})" if row["closed_form"] < row["margin"] else text
