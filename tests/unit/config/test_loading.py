"""Scenario loading: every problem reported at once, each at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.config import load_scenario, scenario_problems
from harness.config.loading import locate, set_dotted
from harness.config.scenario import KillWorker, LoseDataCentre, Scenario
from harness.errors import ScenarioError

THREE_MISTAKES = """\
name: three-mistakes
organisations:
  count: -5
traffic:
  duration: ten minutes
  rate_scael: 0.5
"""


def test_three_mistakes_are_all_reported_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(THREE_MISTAKES)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    problems = {p.location: p for p in caught.value.problems}
    assert set(problems) == {"organisations.count", "traffic.duration", "traffic.rate_scael"}
    assert (problems["organisations.count"].line, problems["organisations.count"].column) == (3, 3)
    assert problems["traffic.duration"].line == 5
    assert "invalid duration" in problems["traffic.duration"].message
    assert problems["traffic.rate_scael"].line == 6
    assert "unknown key" in problems["traffic.rate_scael"].message
    rendered = str(caught.value)
    assert f"{path}:5:3: traffic.duration:" in rendered
    assert "3 problems" in rendered


def test_yaml_syntax_error_is_located() -> None:
    scenario, problems = scenario_problems("name: x\ntraffic: {scale: 2014\nseed: 1\n")
    assert scenario is None
    assert len(problems) == 1
    assert "not valid YAML" in problems[0].message
    assert problems[0].line is not None
    assert problems[0].line >= 2


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_a_scenario_must_be_a_mapping(text: str) -> None:
    scenario, problems = scenario_problems(text)
    assert scenario is None
    assert problems[0].message.startswith("a scenario must be a YAML mapping")


def test_unreadable_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_scenario(tmp_path / "missing.yaml")


def test_discriminated_union_names_the_bad_tag_and_the_item() -> None:
    text = "name: t\nfaults:\n  - {kind: kill-worker, at: 1s}\n  - {kind: explode, at: 2s}\n"
    _, problems = scenario_problems(text)
    assert [p.location for p in problems] == ["faults.1"]
    assert problems[0].line == 4
    assert "explode" in problems[0].message
    assert "kill-worker" in problems[0].message


def test_kebab_case_names_get_a_plain_message() -> None:
    _, problems = scenario_problems("name: Not_Kebab\n")
    assert problems[0].location == "name"
    assert "kebab-case" in problems[0].message


def test_cross_references_are_checked_after_fields() -> None:
    text = """\
name: cross
traffic: {duration: 2m, time_scale: 2}
topology:
  data_centres: [dc-a, dc-b]
faults:
  - {kind: lose-data-centre, at: 10s, data_centre: dc-z, duration: 10s}
  - {kind: kill-worker, at: 90s}
sweep:
  topology.pools.pds.servrs: [1, 2]
"""
    scenario, problems = scenario_problems(text)
    assert scenario is None
    by_loc = {p.location: p for p in problems}
    assert set(by_loc) == {
        "faults.0.data_centre",
        "faults.1.at",
        "sweep.topology.pools.pds.servrs",
    }
    assert "dc-z" in by_loc["faults.0.data_centre"].message
    assert by_loc["faults.0.data_centre"].line == 6
    # The window is 2 minutes of profile time played 2x faster: 60 s of wall time.
    assert "60s of wall time" in by_loc["faults.1.at"].message
    assert by_loc["sweep.topology.pools.pds.servrs"].line == 9


def test_sweep_values_are_validated_against_the_model() -> None:
    text = "name: s\nsweep:\n  topology.pools.pds.servers: [2, 0]\n"
    _, problems = scenario_problems(text)
    assert len(problems) == 1
    assert "value 0 does not apply" in problems[0].message


def test_defaults_and_parsed_values() -> None:
    scenario, problems = scenario_problems(
        "name: d\ntraffic: {duration: 1h30m}\nfaults: [{kind: kill-worker, at: 1m}]\n"
    )
    assert problems == []
    assert scenario is not None
    assert scenario.traffic.duration == 5400.0
    assert scenario.organisations.count == 20_000
    assert scenario.slo.availability_target == pytest.approx(0.9997)
    assert isinstance(scenario.faults[0], KillWorker)
    assert scenario.faults[0].at == 60.0


def test_locate_walks_mappings_and_sequences() -> None:
    root = yaml.compose("a:\n  b:\n    - x\n    - y: 1\n", Loader=yaml.SafeLoader)
    assert locate(root, ("a", "b", 1, "y")) == (4, 7)
    # A part the file lacks leaves the position at the deepest node found.
    assert locate(root, ("a", "missing")) == (1, 1)
    assert locate(None, ("a",)) == (None, None)


def test_set_dotted_copies_and_creates_parents() -> None:
    data = {"topology": {"pools": {}}, "faults": [{"at": 1}]}
    changed = set_dotted(data, "topology.pools.pds.servers", 6)
    assert changed["topology"]["pools"]["pds"]["servers"] == 6
    assert data["topology"]["pools"] == {}, "the input must not change"
    assert set_dotted(data, "faults.0.at", 5)["faults"][0]["at"] == 5
    with pytest.raises(KeyError):
        set_dotted({"a": 1}, "a.b", 2)


def test_scenarios_are_immutable_and_forbid_extra_keys() -> None:
    scenario = Scenario.model_validate(
        {
            "name": "x",
            "faults": [{"kind": "lose-data-centre", "at": 1, "data_centre": "dc-a", "duration": 5}],
        }
    )
    assert isinstance(scenario.faults[0], LoseDataCentre)
    with pytest.raises(ValueError, match="frozen"):
        scenario.seed = 3  # type: ignore[misc]
