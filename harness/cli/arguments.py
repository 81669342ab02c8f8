"""Arguments checked before any work starts, so a bad one costs one line and exit 2.

A command that would run for minutes and then find its ``--output`` unusable, or a
``--duration`` that ends before the fault it was meant to show, wastes the user's time; these
helpers refuse such input up front with a :class:`~harness.errors.ConfigurationError`, which
the CLI prints on one line. :func:`results_dir` also makes sure that a command that fails
leaves no empty results directory behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from harness.errors import ConfigurationError

if TYPE_CHECKING:
    from harness.config.scenario import Scenario
    from harness.reports import ResultsDir


def duration_s(value: str | None) -> float | None:
    """``--duration`` in seconds (``None`` when not given); more than zero or refused."""
    if value is None:
        return None
    from harness.config.duration import parse_duration_s

    try:
        seconds = parse_duration_s(value)
    except ValueError as exc:
        raise ConfigurationError(f"--duration: {exc}") from None
    if seconds <= 0:
        raise ConfigurationError(
            f"--duration must be more than 0, got {value!r}; leave it out for the scenario's "
            "whole window"
        )
    return seconds


def check_faults_fit(scenario: Scenario, seconds: float | None) -> None:
    """Refuse a ``run --duration`` that ends before a fault's ``at`` (wall time)."""
    if seconds is None:
        return
    wall_s = seconds / scenario.traffic.time_scale
    for index, fault in enumerate(scenario.faults):
        if fault.at is not None and fault.at >= wall_s:
            raise ConfigurationError(
                f"--duration gives {wall_s:g} s of load but faults[{index}] ({fault.kind}) starts "
                f"at {fault.at:g} s: use --duration longer than {fault.at:g}s or leave it out"
            )


ALWAYS_READ = frozenset({"name", "description", "seed", "organisations", "slo"})
READS = {
    "load": ALWAYS_READ | {"traffic", "load"},
    "simulate": ALWAYS_READ
    | {"traffic", "topology", "failures", "releases", "maintenance", "migration", "simulation"}
    | {"sweep", "faults"},
    "run": ALWAYS_READ
    | {"traffic", "load", "faults", "topology", "calibration", "simulation"}
    | {"failures", "releases", "maintenance", "migration"},
}


def unused_sections(scenario: Scenario, command: str) -> list[str]:
    """Sections the scenario file sets that ``command`` does not read, in the schema's order."""
    given = scenario.model_fields_set
    return [
        key for key in type(scenario).model_fields if key in given and key not in READS[command]
    ]


def warn_unused(scenario: Scenario, command: str) -> None:
    """One line on stderr naming the sections ``command`` ignores (none: nothing printed)."""
    unused = unused_sections(scenario, command)
    if unused:
        from harness.cli.output import make_console

        make_console(stderr=True).print(
            f"warning: {command} does not use these sections of {scenario.name}: "
            f"{', '.join(unused)} (see docs/reference/scenario-files.md: which command reads "
            "which)",
            markup=False,
        )


def check_scripted(scenario: Scenario) -> None:
    """Refuse a ``supplier-outage`` that ``simulate`` would apply to a supplier nobody uses."""
    from harness.config.placement import simulate_placement
    from harness.config.scenario import SupplierOutage

    named = [p for p in simulate_placement(scenario).placed if isinstance(p.fault, SupplierOutage)]
    if not named:
        return
    from harness.spine import build_directory

    suppliers = {o.supplier for o in build_directory(scenario.organisations.count, scenario.seed)}
    for placed in named:
        assert isinstance(placed.fault, SupplierOutage)
        if placed.fault.supplier not in suppliers:
            raise ConfigurationError(
                f"{placed.describe()}: no organisation uses supplier {placed.fault.supplier!r} "
                f"(suppliers: {', '.join(sorted(suppliers))})"
            )


def warn_ignored_faults(lines: tuple[str, ...]) -> None:
    """One warning line on stderr for each scripted fault the command does not apply."""
    if lines:
        from harness.cli.output import make_console

        console = make_console(stderr=True)
        for line in lines:
            console.print(f"warning: {line}", markup=False, soft_wrap=True)


def results_dir(name: str, output: Path | None, context: typer.Context | None) -> ResultsDir:
    """Create the command's results directory; remove it again if the command writes nothing.

    The removal runs when the command's ``context`` closes, however the command ends; a
    directory that holds any file (a finished or partial result, a server log) is kept.
    """
    from harness.config import HarnessSettings
    from harness.reports import create_results_dir

    results = create_results_dir(name, parent=HarnessSettings().reports_dir, output=output)
    if context is not None:
        context.call_on_close(results.discard_if_empty)
    return results
