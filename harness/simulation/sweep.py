"""What-if sweeps: the same question asked of neighbouring designs.

A sweep changes one parameter at a time (a dotted key into the scenario, such as
``topology.pools.pds.servers``) over a list of values, keeping everything else at the base
scenario, and runs each variant with the *same* seed — common random numbers, so that the
difference between two variants is the design's and not the dice's. One-at-a-time variation is
what a tornado chart needs: for each parameter, the lowest and highest breach probability over
its values, drawn around the base.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from harness.config.loading import scenario_problems, set_dotted
from harness.config.scenario import Scenario
from harness.errors import ConfigurationError, ScenarioError
from harness.simulation.runner import Executor, Progress, run_replications
from harness.simulation.summary import summarise


def parse_sweep(option: str) -> tuple[str, list[Any]]:
    """Parse ``KEY=V1,V2,…``; each value is read as YAML (``4`` is a number, ``x`` a string)."""
    key, sep, values = option.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise ConfigurationError(f"--sweep {option!r}: expected KEY=V1,V2,…")
    return key.strip(), [yaml.safe_load(v) for v in values.split(",")]


def variants(
    scenario: Scenario, grid: Mapping[str, Sequence[Any]]
) -> list[tuple[str, Any, Scenario]]:
    """Every one-at-a-time variant of ``scenario``, validated with the full cross-checks.

    Raises:
        ScenarioError: a variant is invalid (located at ``sweep.KEY``).
    """
    base = scenario.model_dump(mode="json", exclude={"sweep"})
    found = []
    for key, values in grid.items():
        for value in values:
            try:
                text = yaml.safe_dump(set_dotted(base, key, value), sort_keys=False)
            except KeyError as exc:
                raise ConfigurationError(f"sweep {key}: {exc}") from None
            variant, problems = scenario_problems(text)
            if variant is None:
                raise ScenarioError(f"sweep {key}={value!r}", problems)
            found.append((key, value, variant))
    return found


class SweepInterrupted(KeyboardInterrupt):
    """A stop signal during a sweep; ``rows`` holds the variants that finished."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows


def run_sweep(
    scenario: Scenario,
    grid: Mapping[str, Sequence[Any]],
    replications: int,
    seed: int,
    *,
    executor: Executor = Executor.LOCAL,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run every variant; return one row per (key, value) with its breach probability.

    Raises:
        SweepInterrupted: a stop signal came; it holds the rows of the variants that finished
            (an interrupted variant's first months are no answer for it, so it has none).
    """
    todo = variants(scenario, grid)
    rows: list[dict[str, Any]] = []
    try:
        for n, (key, value, variant) in enumerate(todo):
            run = run_replications(
                variant, replications, seed, executor=executor, workers=workers,
                scheduler=scheduler,
            )  # fmt: skip
            if run.interrupted:
                raise KeyboardInterrupt
            rows.append(_row(key, value, summarise(run)))
            if progress is not None:
                progress(n + 1, len(todo))
    except KeyboardInterrupt:
        raise SweepInterrupted(rows) from None
    return rows


def _row(key: str, value: Any, summary: dict[str, Any]) -> dict[str, Any]:
    breach = summary["request_based"]["breach"]
    return {
        "key": key,
        "value": value,
        "breach_probability": breach["probability"],
        "interval": breach["interval"],
        "year_probability": breach["year_probability"],
        "availability_mean": summary["request_based"]["mean"],
        "availability_p5": summary["request_based"]["p5"],
    }
