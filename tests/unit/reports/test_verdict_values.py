"""The verdicts and run states in results.json are harness.verdict's, and the schema says so.

The enums and the published schema are two lists of the same words; these tests fail as soon
as one gains a word the other lacks, and when a written ``results.json`` holds a verdict that
is no member (as ``simulate --validate`` once wrote ``invalid_run`` beside ``invalid``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.reports.render import write_report
from harness.reports.results import results_json_schema
from harness.reports.simulation import simulation_view
from harness.verdict import NotJudged, RunStatus, Verdict, stored_verdict
from tests.synthetic import Shape, simulation_section, write_run


def _values(enum: type[Verdict] | type[NotJudged] | type[RunStatus]) -> set[str]:
    return {member.value for member in enum}


def _verdicts(node: Any) -> Iterator[Any]:
    """Every value stored under a ``verdict`` key, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "verdict":
                yield value
            yield from _verdicts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _verdicts(item)


def test_the_schema_lists_exactly_the_enums_values() -> None:
    definitions = results_json_schema()["$defs"]
    assert set(definitions["verdict"]["enum"]) == _values(Verdict)
    assert set(definitions["not_judged"]["enum"]) == _values(NotJudged)
    assert set(definitions["run_status"]["enum"]) == _values(RunStatus)


def test_every_verdict_a_report_writes_is_a_member(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    simulation = simulation_section(rng, tmp_path / "run")
    folder = write_run(tmp_path / "run", rng, Shape(duration_s=30), simulation=simulation)
    write_report(folder)  # adds the slo section, with a verdict per judgement
    document = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    found = [v for v in _verdicts(document) if v is not None]
    assert len(found) > 3  # the run's, the simulation's and every judgement's
    allowed = _values(Verdict) | _values(NotJudged)
    assert set(found) <= allowed, set(found) - allowed


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("invalid_run", Verdict.INVALID),  # written by simulate --validate before 2026-12
        ("invalid", Verdict.INVALID),
        ("partial", NotJudged.PARTIAL),
        ("prediction-only", NotJudged.PREDICTION_ONLY),
        ("probably", None),
    ],
)
def test_stored_verdicts_are_read_in_every_spelling(
    stored: str, expected: Verdict | NotJudged | None
) -> None:
    assert stored_verdict(stored) is expected


def test_an_older_invalid_run_simulation_still_reads_as_invalid(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    simulation = simulation_section(rng, tmp_path / "run")
    simulation["verdict"] = "invalid_run"
    view = simulation_view(simulation)
    assert view.verdict is Verdict.INVALID
    assert "validation against the exact kernel disagreed" in view.lines[-1]
