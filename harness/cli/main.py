"""The ``harness`` application: commands are registered here and live in their own modules."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from harness import __version__
from harness.cli import calibrate as calibrate_command
from harness.cli import gate as gate_command
from harness.cli import load, profile, scenarios, serve, simulate
from harness.cli import report as report_command
from harness.cli import run as run_command
from harness.cli.output import ExitCode, make_console, report_error
from harness.errors import HarnessError

app = typer.Typer(
    name="harness",
    help="Load testing and availability simulation for an NHS Spine-like messaging backbone.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("profile")(profile.profile)
app.command("load")(load.load)
app.command("serve")(serve.serve)
app.command("simulate")(simulate.simulate)
app.command("report")(report_command.report)
app.command("gate")(gate_command.gate)
app.command("run")(run_command.run)
app.command("calibrate")(calibrate_command.calibrate)
app.add_typer(scenarios.app, name="scenarios")


def _version(value: bool) -> None:
    if value:
        make_console().print(f"harness {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Load testing and availability simulation for an NHS Spine-like messaging backbone."""


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code instead of exiting."""
    err = make_console(stderr=True)
    try:
        result = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except typer.Abort:
        return ExitCode.INTERRUPTED
    except typer.TyperException as exc:
        # Typer's usage errors (bad option, unknown command) know how to show themselves.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {exc}")
        return ExitCode.USAGE
    except HarnessError as exc:
        return report_error(exc, err)
    except KeyboardInterrupt:
        err.print("interrupted")
        return ExitCode.INTERRUPTED
    return int(result) if isinstance(result, int) else ExitCode.PASS


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
