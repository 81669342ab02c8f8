"""``harness scenarios list|validate|schema``: the scenario files."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from harness.cli.output import ExitCode, make_console

app = typer.Typer(help="List, validate and describe scenario files.", no_args_is_help=True)


def _scenario_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


@app.command("list")
def list_scenarios(
    directory: Path | None = typer.Option(None, "--dir", help="Folder (default: scenarios/)."),
) -> int:
    """List the scenario files with their names and whether they are valid."""
    from harness.config import HarnessSettings, scenario_problems

    folder = directory or HarnessSettings().scenarios_dir
    table = Table(title=f"Scenarios in {folder}")
    for column in ("file", "name", "valid", "description"):
        table.add_column(column)
    for path in _scenario_files(folder):
        scenario, problems = scenario_problems(path.read_text(encoding="utf-8"))
        if scenario is None:
            table.add_row(path.name, "-", f"[red]no ({len(problems)} problems)[/]", "")
        else:
            table.add_row(path.name, scenario.name, "[green]yes[/]", scenario.description[:70])
    make_console().print(table)
    return ExitCode.PASS


@app.command("validate")
def validate(
    files: list[Path] | None = typer.Argument(None, help="Files (default: every scenario)."),
) -> int:
    """Validate scenario files, reporting every problem of every file; exit 2 if any."""
    from harness.cli.output import report_error
    from harness.config import HarnessSettings, load_scenario
    from harness.errors import ScenarioError

    targets = files or _scenario_files(HarnessSettings().scenarios_dir)
    console, err = make_console(), make_console(stderr=True)
    if not targets:
        err.print("[bold red]error:[/] no scenario files to validate")
        return ExitCode.USAGE
    code = ExitCode.PASS
    for path in targets:
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            code = report_error(exc, err)
            continue
        console.print(f"[green]ok[/] {path} ({scenario.name})")
    return code


@app.command("schema")
def schema(
    output: Path | None = typer.Option(None, help="Write to this file instead of stdout."),
) -> int:
    """Print the JSON Schema of scenario files (for editors and CI)."""
    from harness.config.scenario import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    return ExitCode.PASS
