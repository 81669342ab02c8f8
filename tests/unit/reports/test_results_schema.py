"""The published JSON Schema of results.json holds for what the commands write, and bites."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from harness.cli.main import run
from harness.reports.render import write_report
from harness.reports.results import results_json_schema
from tests.synthetic import Shape, write_run


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(results_json_schema())


def test_a_profile_and_a_judged_load_run_validate(tmp_path: Path) -> None:
    assert run(["profile", "--days", "1", "--output", str(tmp_path / "p")]) == 0
    jsonschema.validate(
        json.loads((tmp_path / "p" / "results.json").read_text()), results_json_schema()
    )
    folder = write_run(tmp_path / "run", np.random.default_rng(3), Shape(duration_s=30))
    write_report(folder)  # adds the slo section
    document = json.loads((folder / "results.json").read_text())
    assert "slo" in document
    jsonschema.validate(document, results_json_schema())


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema_version",), "2.0"),
        (("load", "generator", "valid"), "yes"),
        (("load", "generator", "drawn"), -1),
        (("slo", "verdict"), "probably"),
    ],
)
def test_a_document_that_breaks_the_contract_is_refused(
    tmp_path: Path, path: tuple[str, ...], value: object
) -> None:
    folder = write_run(tmp_path / "run", np.random.default_rng(4), Shape(duration_s=20))
    write_report(folder)
    document = copy.deepcopy(json.loads((folder / "results.json").read_text()))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, results_json_schema())
