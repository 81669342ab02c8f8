"""``harness profile``: print, save and plot the national traffic profile."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from harness.cli.output import ExitCode, make_console, print_results

WEEK_DAYS = 7


def profile(
    context: typer.Context,
    scale: str = typer.Option("2014", help="2014 (400 M/month), 2018 (1 bn/month) or a factor."),
    start: str = typer.Option(
        "2014-09-01", help="First day of the window (London local time, ISO 8601)."
    ),
    days: float = typer.Option(30.0, min=1.0, max=366.0, help="Length of the window in days."),
    winter_pressure: float = typer.Option(0.0, min=0.0, max=2.0, help="Mid-January uplift."),
    organisations: int = typer.Option(
        20_000, min=1, help="Directory size, for the per-organisation rates."
    ),
    plot: Path | None = typer.Option(None, help="Also copy the week's plot to this PNG file."),
    output: Path | None = typer.Option(None, help="Results directory (default reports/…)."),
) -> int:
    """Summarise the traffic profile over a window and plot its first week."""
    from harness.cli.arguments import results_dir
    from harness.cli.profile_render import render_summary, week_figure
    from harness.errors import ConfigurationError
    from harness.spine import TrafficProfile, parse_scale
    from harness.spine.calendar import to_epoch_s
    from harness.spine.summary import summarise

    console = make_console()
    try:
        start_s = to_epoch_s(start)
    except ConfigurationError as exc:
        raise typer.BadParameter(f"{start!r} is not an ISO 8601 date: {exc}") from None
    traffic = TrafficProfile(scale=parse_scale(scale), winter_pressure=winter_pressure)
    summary = summarise(traffic, start_s, days)
    results = results_dir(f"profile-{summary.scale}", output, context)  # refused before any output
    render_summary(summary, console, organisations=organisations)
    figure = week_figure(
        traffic, start_s, min(days, WEEK_DAYS), results.figure_path("profile-week.png")
    )
    results.write_json(
        {"profile": summary.__dict__ | {"winter_pressure": winter_pressure}},
        command="profile",
        seed=None,
    )
    if plot is not None:
        plot.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(figure, plot)
        console.print(f"plot: {plot}")
    print_results(console, results.path)
    return ExitCode.PASS
