"""How each stream is driven is a :class:`Drive`, however ``served`` reached the plan."""

from __future__ import annotations

import json

from harness.config import load_scenario
from harness.load.interactions import Drive, supported
from harness.load.plan import RunOptions, build_plan
from tests.conftest import SCENARIOS_DIR

OPTIONS = RunOptions(target="http://127.0.0.1:1", run_start_s=0.0)


def test_a_worker_given_plain_strings_plans_the_same_drives() -> None:
    scenario = load_scenario(SCENARIOS_DIR / "ci-smoke.yaml")
    served = supported(None)
    # A distributed worker receives the master's map as JSON: plain strings, not members.
    plain = json.loads(json.dumps(served))
    local = build_plan(scenario, OPTIONS, served)
    worker = build_plan(scenario, OPTIONS, plain)
    kinds = [s.kind for s in worker.streams]
    assert kinds == [s.kind for s in local.streams]
    assert all(kind is None or isinstance(kind, Drive) for kind in kinds)
    assert {Drive.HTTP, Drive.MESH} <= set(kinds)


def test_an_interaction_the_target_does_not_serve_is_not_exercised() -> None:
    scenario = load_scenario(SCENARIOS_DIR / "ci-smoke.yaml")
    plan = build_plan(scenario, OPTIONS, {})
    assert all(s.kind is None for s in plan.streams)
    assert plan.not_exercised
