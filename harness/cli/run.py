"""``harness run``: one scenario end to end — servers, fault timeline, load, prediction, report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from harness.cli.output import ExitCode, make_console

if TYPE_CHECKING:
    from harness.config import Scenario
    from harness.run.capacity import RateFit


def run(
    scenario_file: Path = typer.Argument(..., help="Scenario file (YAML)."),
    database_url: str | None = typer.Option(
        None, help="Server database (default: SQLite in the results directory)."
    ),
    server_workers: int = typer.Option(2, min=1, max=16, help="Worker processes per data centre."),
    load_processes: int = typer.Option(1, min=1, max=64, help="Local generator processes."),
    duration: str | None = typer.Option(None, help="Override the window length, e.g. 30s."),
    rate_scale: str | None = typer.Option(
        None,
        help="Share of national traffic to play: a number in (0, 1], or 'auto' to measure this "
        "machine and play the most of the scenario's share it carries validly.",
    ),
    months: int = typer.Option(
        0, min=0, max=100_000, help="Also simulate N months with random failures (P(breach))."
    ),
    output: Path | None = typer.Option(None, help="Results directory (default reports/…)."),
) -> int:
    """Run a scenario end to end and write one report: measured beside predicted."""
    import harness.load.bootstrap  # noqa: F401  -- first: gevent must patch ssl before use
    from harness.cli.arguments import check_faults_fit, warn_ignored_faults, warn_unused
    from harness.cli.arguments import duration_s as parse_duration
    from harness.cli.interrupt import catching_signals
    from harness.cli.status import StatusLine
    from harness.config import load_scenario
    from harness.config.placement import wall_faults
    from harness.run.orchestrate import RunRequest, execute

    scenario, ignored = wall_faults(load_scenario(scenario_file))  # at_time -> wall time
    warn_ignored_faults(ignored)
    duration_s = parse_duration(duration)
    check_faults_fit(scenario, duration_s)
    warn_unused(scenario, "run")
    console = make_console()
    scenario, fit = _rate_scale(scenario, scenario_file, rate_scale, duration_s, load_processes)
    if fit is not None:
        console.print(f"machine: {fit.line()}", markup=False, soft_wrap=True)
    with catching_signals() as stop, StatusLine(console) as status_line:
        record = execute(
            RunRequest(
                scenario=scenario,
                scenario_path=scenario_file,
                database_url=database_url,
                server_workers=server_workers,
                load_processes=load_processes,
                output=output,
                months=months,
                duration_s=duration_s,
                rate_fit=fit,
            ),
            say=lambda text: console.print(text, markup=False, soft_wrap=True),
            status=status_line.update,
        )
    _print(console, record.results.path)
    for reason in record.reasons:
        console.print(f"[bold red]{record.status}:[/] {reason}")
    if fit is not None:
        console.print(f"traffic: {fit.line()}", markup=False, soft_wrap=True)
    console.print(f"verdict: {record.verdict}  report: {record.results.path / 'report.html'}")
    if stop.received:  # interrupted before invalid and before the verdict
        return stop.exit_code
    return ExitCode.of(record.verdict, record.status)


def _rate_scale(
    scenario: Scenario,
    scenario_file: Path,
    value: str | None,
    duration_s: float | None,
    load_processes: int,
) -> tuple[Scenario, RateFit | None]:
    """The scenario at the rate scale asked for (``auto``: what this machine carries)."""
    from harness.run.capacity import fit_rate_scale, probe_machine
    from harness.run.orchestrate import resolve_calibration

    if value is None:
        return scenario, None
    fit = None
    if value == "auto":
        calibration, _source = resolve_calibration(scenario, scenario_file)
        fit = fit_rate_scale(
            scenario,
            calibration,
            probe_machine(),
            duration_s=duration_s,
            load_processes=load_processes,
        )
        scale = fit.rate_scale
    else:
        try:
            scale = float(value)
        except ValueError:
            scale = -1.0
        if not 0.0 < scale <= 1.0:
            raise typer.BadParameter(
                f"{value!r}: give a share in (0, 1] or 'auto'", param_hint="--rate-scale"
            )
    traffic = scenario.traffic.model_copy(update={"rate_scale": scale})
    return scenario.model_copy(update={"traffic": traffic}), fit


def _print(console: object, folder: Path) -> None:
    import json

    from rich.console import Console
    from rich.table import Table

    assert isinstance(console, Console)
    document = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    rows = document.get("comparison") or []
    if rows:
        table = Table(title="Predicted vs measured (latency from intended send time)")
        for name in ("service", "attempts", "bad", "availability", "p95 ms"):
            table.add_column(name, justify="left" if name == "service" else "right")
        for row in rows:

            def pair(key: str, fmt: str, r: dict[str, object] = row) -> str:
                def show(value: object) -> str:
                    return "–" if value is None else format(value, fmt)

                return f"{show(r.get(f'predicted_{key}'))} / {show(r.get(f'measured_{key}'))}"

            table.add_row(
                str(row["service"]),
                pair("attempts", ",.0f"),
                pair("bad", ",.0f"),
                pair("availability", ".3%"),
                pair("p95_ms", ".1f"),
            )
        console.print(table)
    for law in document.get("validation") or []:
        residual = law["residual"]
        text = "–" if residual is None else f"{residual:+.1%}"
        console.print(f"{law['check']}: residual {text}")
    simulation = document.get("simulation")
    if simulation:
        from harness.reports.simulation import simulation_view

        breach = simulation["request_based"]["breach"]
        low, high = breach["interval"]
        console.print(
            f"{simulation['replications']} simulated months with random failures only: mean "
            f"{simulation['request_based']['mean']:.4%}, P(month below target) "
            f"{breach['probability']:.1%} (95 % interval {low:.1%}-{high:.1%})"
        )
        # Beside the measured verdict, never instead of it: the exit code follows the window.
        console.print(simulation_view(simulation).lines[-1], markup=False, soft_wrap=True)
    for fault in document.get("faults") or []:
        console.print(
            f"fault {fault['kind']} at {fault['at_s']:g} s: {fault['detail'] or ''}"
            f"{' ERROR ' + fault['error'] if fault['error'] else ''}",
            markup=False,
        )
