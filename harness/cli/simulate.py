"""``harness simulate``: predict monthly availability and the chance of breaching the target.

Verdict (exit code): a simulation that ran is a prediction, not a test, so it exits 0 — unless
the scenario asks for a gate (``simulation.slo_gate: true``). Then the request-based
probability that a month breaches ``slo.availability_target`` is compared with
``simulation.max_breach_probability`` through its 95 % Wilson interval: exit 1 when the whole
interval is above the maximum (the design breaches too often), 0 when the whole interval is at
or below it, and 4 (inconclusive) when the interval straddles it — run more replications.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from harness.cli.output import ExitCode, make_console


def simulate(
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
) -> int:
    """Simulate months of the scenario's platform and predict its availability."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from harness.config import HarnessSettings, load_scenario
    from harness.errors import ConfigurationError
    from harness.reports import create_results_dir
    from harness.simulation import Executor, run_replications, summarise, write_tables

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
    settings = HarnessSettings()
    try:
        results = create_results_dir(
            f"simulate-{scenario.name}", parent=settings.reports_dir, output=output
        )
    except FileExistsError as exc:
        raise ConfigurationError(str(exc)) from None
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as bar:
        task = bar.add_task(f"simulating {scenario.name}", total=replications)
        run = run_replications(
            scenario,
            replications,
            root_seed,
            executor=chosen,
            workers=count,
            scheduler=scheduler,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    summary = summarise(run)
    sections: dict[str, Any] = {"scenario": scenario.model_dump(mode="json"), "simulation": summary}
    verdict = _verdict(
        summary, scenario.simulation.slo_gate, scenario.simulation.max_breach_probability
    )
    if validate:
        from harness.simulation import validate_windows

        check = validate_windows(run.prepared, root_seed)
        summary["validation"] = check
        if not check["agrees"]:
            verdict = ExitCode.INVALID_RUN
    if grid:
        summary["sweep"] = _sweep(
            scenario, grid, replications, root_seed, chosen, count, scheduler, summary, results
        )
    write_tables(run, results.path / "simulation")
    summary["verdict"] = verdict.name.lower()
    results.write_json(sections, command="simulate", seed=root_seed)
    _print(console, summary)
    from harness.reports.render import write_report

    write_report(results.path)  # report.html, summary.md, junit.xml and figures, as load and run
    console.print(f"report: {results.path / 'report.html'}")
    console.print(f"results: {results.path}")
    return verdict


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
        progress=lambda done, total: console.print(f"  variant {done}/{total} done"),
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


def _verdict(summary: dict[str, Any], gate: bool, max_breach: float) -> ExitCode:
    if not gate:
        return ExitCode.PASS
    low, high = summary["request_based"]["breach"]["interval"]
    if low > max_breach:
        return ExitCode.FAIL
    if high <= max_breach:
        return ExitCode.PASS
    return ExitCode.INCONCLUSIVE


def _print(console: Any, summary: dict[str, Any]) -> None:
    from rich.table import Table

    target = summary["target"]
    table = Table(title=f"{summary['replications']} simulated months, target {target:.2%}")
    for column in ("SLI", "mean", "P5", "median", "worst", "P(breach)", "95% CI", "P(year)"):
        table.add_column(column, no_wrap=True)
    for name, label in (("request_based", "request"), ("time_based", "time")):
        d = summary[name]
        b = d["breach"]
        table.add_row(
            label,
            f"{d['mean']:.4%}",
            f"{d['p5']:.4%}",
            f"{d['median']:.4%}",
            f"{d['worst']:.4%}",
            f"{b['probability']:.1%}",
            f"{b['interval'][0]:.1%}-{b['interval'][1]:.1%}",
            f"{b['year_probability']:.0%}",
        )
    # Logs and CI are not terminals (80 columns by default): give the table the room it needs.
    console.width = max(console.width, 110)
    console.print(table)
    excluded = set(summary["excluded_causes"])
    causes = sorted(
        summary["budget_by_cause"].items(), key=lambda item: -item[1]["budget_share_mean"]
    )
    burned = ", ".join(
        f"{name} {v['budget_share_mean']:.1%}{' (excluded)' if name in excluded else ''}"
        for name, v in causes
        if v["budget_share_mean"] > 0
    )
    console.print(f"error budget burned per month, mean by cause: {burned or 'none'}")
    alerts = summary["alerts"]
    console.print(
        f"burn-rate alerts: pages in {alerts['months_with_page']} months, median time to page "
        f"{alerts['median_time_to_page_min']} min, missed pages {alerts['missed_pages']}"
    )
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
