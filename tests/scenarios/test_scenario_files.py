"""Every file in scenarios/ loads, validates, and matches the published JSON Schema."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.config import load_scenario
from harness.config.scenario import scenario_json_schema
from tests.conftest import SCENARIOS_DIR

FILES = sorted(SCENARIOS_DIR.glob("*.yaml"))


def test_the_catalogue_has_the_required_scenarios() -> None:
    names = {p.stem for p in FILES}
    assert {"ci-smoke", "baseline-2014"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_scenario_file_validates(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem, "a scenario's name should match its file name"
    assert scenario.description


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_scenario_file_matches_json_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    jsonschema.validate(data, scenario_json_schema())


def test_schema_rejects_unknown_keys_and_accepts_durations() -> None:
    schema = scenario_json_schema()
    jsonschema.validate({"name": "x", "traffic": {"duration": "1h30m", "scale": 1.5}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "trafic": {}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "traffic": {"duration": "ten minutes"}}, schema)


LOAD_FILES = [p for p in FILES if "load" in yaml.safe_load(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path", LOAD_FILES, ids=lambda p: p.name)
def test_a_load_scenario_says_what_share_of_national_traffic_it_plays(path: Path) -> None:
    """Issue 29: every scenario that drives load names its share, as its rate_scale sets it."""
    scenario = load_scenario(path)
    share = f"{scenario.traffic.rate_scale * 100:g} % of national traffic"
    assert share in " ".join(scenario.description.split()), scenario.description
