"""``harness load``: drive the traffic profile against a Spine server as an open model."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.table import Table

from harness.cli.output import ExitCode, make_console, print_results


def _credentials(path: Path | None) -> dict[str, str]:
    """Secrets from a credentials file (YAML), never from the committed scenario."""
    if path is None:
        return {}
    import yaml

    from harness.errors import ConfigurationError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read credentials: {exc}") from None
    allowed = {"identity_secret", "mesh_shared_key", "mesh_password"}
    unknown = set(data) - allowed
    if not isinstance(data, dict) or unknown:
        raise ConfigurationError(
            f"{path}: credentials may hold only {sorted(allowed)}; found {sorted(unknown)}"
        )
    return {k: str(v) for k, v in data.items()}


def options_default(name: str) -> str:
    """The default of a ``RunOptions`` credential field."""
    from harness.load.plan import RunOptions

    value = RunOptions.__dataclass_fields__[name].default
    assert isinstance(value, str)
    return value


def load(
    context: typer.Context,
    scenario_file: Path = typer.Argument(..., help="Scenario file (YAML)."),
    target: str | None = typer.Option(
        None, help="Base URL of the server; default: start a local reference server."
    ),
    duration: str | None = typer.Option(None, help="Override the window length, e.g. 30s, 10m."),
    rate: float | None = typer.Option(
        None, min=0.001, help="Constant total arrivals per second instead of the profile."
    ),
    interactions: str | None = typer.Option(
        None, help="Comma-separated interaction ids to drive (default: all the target serves)."
    ),
    processes: int = typer.Option(1, min=1, max=64, help="Local generator processes."),
    connections: int = typer.Option(
        32, min=1, max=10_000, help="Client connections per generator process."
    ),
    web: bool = typer.Option(False, help="Keep Locust's web UI on http://127.0.0.1:8089."),
    warm_up: bool = typer.Option(True, help="Log every organisation in before the window."),
    master: bool = typer.Option(False, help="Run as Locust master for remote --worker processes."),
    expect_workers: int = typer.Option(1, min=1, help="Workers the master waits for."),
    master_bind_host: str = typer.Option("127.0.0.1", help="Address the master listens on."),
    master_bind_port: int = typer.Option(5557, min=1, max=65535, help="Master port."),
    worker: bool = typer.Option(False, help="Run as a Locust worker of --master-host."),
    master_host: str = typer.Option("127.0.0.1", help="The master a worker connects to."),
    master_port: int = typer.Option(5557, min=1, max=65535, help="The master's port."),
    server_workers: int = typer.Option(2, min=1, max=16, help="Workers of the local server."),
    credentials: Path | None = typer.Option(None, help="Credentials file (YAML)."),
    output: Path | None = typer.Option(None, help="Results directory (default reports/…)."),
) -> int:
    """Play the scenario's traffic as an open model and write load/windows.jsonl."""
    import harness.load.bootstrap  # noqa: F401  -- first: gevent must patch ssl before use
    from harness.config import load_scenario

    if master and worker:
        raise typer.BadParameter("--master and --worker exclude each other")
    if worker:
        from harness.load.distributed import run_worker

        load_scenario(scenario_file)  # the plan comes from the master; the file must still parse
        return run_worker(master_host, master_port)
    from harness.cli.arguments import duration_s as parse_duration
    from harness.cli.arguments import results_dir, warn_unused
    from harness.cli.interrupt import catching_signals
    from harness.cli.status import StatusLine
    from harness.errors import ConfigurationError
    from harness.load.plan import RunOptions
    from harness.load.session import START_DELAY_S, run_load, write_results
    from harness.run.capacity import OthersMeter
    from harness.run.servers import server_groups, sqlite_url

    scenario = load_scenario(scenario_file)
    duration_s = parse_duration(duration)
    wanted = tuple(i.strip() for i in interactions.split(",") if i.strip()) if interactions else ()
    from harness.spine import CATALOGUE

    unknown = set(wanted) - {i.id for i in CATALOGUE}
    if unknown:
        raise ConfigurationError(f"unknown interactions: {', '.join(sorted(unknown))}")
    secrets = _credentials(credentials)
    results = results_dir(f"load-{scenario.name}", output, context)
    warn_unused(scenario, "load")
    console = make_console()

    @contextlib.contextmanager
    def server() -> Iterator[str]:
        if target is not None:
            yield target.rstrip("/")
            return
        with server_groups(
            ["local"],
            workers=server_workers,
            database_url=sqlite_url(results.path / "server" / "server.db"),
            organisations=scenario.organisations.count,
            seed=scenario.seed,
            folder=results.path / "server",
        ) as groups:
            yield groups[0].url

    with catching_signals() as stop, server() as url, StatusLine(console) as status_line:
        identity_secret = secrets.get("identity_secret", options_default("identity_secret"))
        if target is not None:
            from harness.load.target import directory_mismatch

            mismatch = directory_mismatch(
                url,
                organisations=scenario.organisations.count,
                seed=scenario.seed,
                identity_secret=identity_secret,
            )
            if mismatch is not None:
                raise ConfigurationError(f"{target}: {mismatch}")
        options = RunOptions(
            target=url,
            run_start_s=time.time() + START_DELAY_S,
            duration_s=duration_s,
            rate_per_s=rate,
            interactions=wanted,
            identity_secret=identity_secret,
            mesh_shared_key=secrets.get("mesh_shared_key", options_default("mesh_shared_key")),
            mesh_password=secrets.get("mesh_password", options_default("mesh_password")),
        )
        # Only a run that started its own server can tell others' CPU from the server's.
        others = OthersMeter() if target is None else None
        outcome = run_load(
            scenario,
            options,
            processes=processes,
            web_port=8089 if web else None,
            connections=connections,
            warm_up=warm_up,
            master=(expect_workers, master_bind_host, master_bind_port) if master else None,
            progress=lambda status: status_line.update(status.line()),
            on_start=lambda final: console.print(
                "load: schedule starts at "
                + time.strftime("%H:%M:%S", time.localtime(final.run_start_s))
            ),
        )
    # Stopped by a signal, or generators that stopped before the schedule's end: what was
    # measured is written, marked partial, and never judged a pass.
    partial = stop.received or any(r.stopped_early for r in outcome.reports)
    section = write_results(outcome, results.path, partial=partial)
    if others is not None:
        section["generator"]["others_cores"] = round(others.cores(), 3)
    results.write_json({"load": section}, command="load", seed=scenario.seed)
    _print_summary(console, section, outcome)
    from harness.reports.render import write_report

    report = write_report(results.path)
    shown = "PARTIAL (interrupted)" if stop.received else report.verdict
    console.print(f"verdict: {shown}  report: {results.path / 'report.html'}")
    print_results(console, results.path)
    if stop.received:
        return stop.exit_code
    if not outcome.health.valid or partial:
        for reason in outcome.health.reasons:
            console.print(f"[bold red]invalid run:[/] {reason}")
        return ExitCode.INVALID_RUN
    return ExitCode.of(report.verdict)


def _print_summary(console: object, section: dict[str, object], outcome: object) -> None:
    from rich.console import Console

    assert isinstance(console, Console)
    generator = section["generator"]
    assert isinstance(generator, dict)
    head = Table(title="Generator", show_header=False)
    for key in (
        "drawn",
        "sent",
        "queued",
        "dropped",
        "late",
        "no_work",
        "attempts",
        "retries",
        "derived",
    ):
        head.add_row(key, f"{generator[key]:,}")
    head.add_row("lag p99", f"{generator['lag_p99_ms']:.1f} ms")
    head.add_row("CPU max", f"{generator['cpu_max_percent']:.0f}%")
    console.print(head)
    by_interaction: dict[str, object] = {}
    from harness.slo import Window

    for data in (w for r in outcome.reports for w in r.windows):  # type: ignore[attr-defined]
        window = Window.from_json(data)
        key = window.key.interaction
        if key in by_interaction:
            by_interaction[key].merge_into_total(window)  # type: ignore[attr-defined]
        else:
            by_interaction[key] = _Total(window)
    table = Table(title="By interaction (latency from intended time / service time, ms)")
    for name in ("interaction", "attempts", "good", "bad", "excl.", "p50", "p95", "p99", "svc p99"):
        table.add_column(name, justify="left" if name == "interaction" else "right")
    for name in sorted(by_interaction):
        total = by_interaction[name]
        assert isinstance(total, _Total)
        table.add_row(name, *total.row())
    console.print(table)


class _Total:
    """Totals of one interaction across windows (for the summary table)."""

    def __init__(self, window: object) -> None:
        from harness.slo import Window, new_histogram

        assert isinstance(window, Window)
        self.good = self.bad = self.excluded = 0
        self.latency = new_histogram()
        self.service = new_histogram()
        self.merge_into_total(window)

    def merge_into_total(self, window: object) -> None:
        from harness.slo import Window

        assert isinstance(window, Window)
        self.good += window.good
        self.bad += window.bad
        self.excluded += window.excluded
        self.latency.add(window.latency)
        self.service.add(window.service)

    def row(self) -> list[str]:
        attempts = self.good + self.bad + self.excluded

        def ms(histogram: object, q: float) -> str:
            return f"{histogram.get_value_at_percentile(q) / 1000:.1f}"  # type: ignore[attr-defined]

        return [
            f"{attempts:,}",
            f"{self.good:,}",
            f"{self.bad:,}",
            f"{self.excluded:,}",
            ms(self.latency, 50),
            ms(self.latency, 95),
            ms(self.latency, 99),
            ms(self.service, 99),
        ]
