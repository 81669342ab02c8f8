"""``ci-smoke`` is sized for CI: two minutes that decide 99.97 % and let the gate judge."""

from __future__ import annotations

from harness.config import load_scenario
from harness.gate.compare import GateThresholds, _needed_s
from harness.load.interactions import supported
from harness.load.plan import RunOptions, build_plan
from tests.conftest import SCENARIOS_DIR

CLEAN_REQUESTS_FOR_9997 = 9_985  # failure-free requests that prove 99.97 % at 95 %


def test_ci_smoke_decides_availability_and_fills_the_gates_blocks() -> None:
    scenario = load_scenario(SCENARIOS_DIR / "ci-smoke.yaml")
    plan = build_plan(
        scenario, RunOptions(target="http://127.0.0.1:1", run_start_s=0.0), supported(None)
    )
    expected = plan.expected_per_wall_second()  # [second, stream]
    seconds = expected.shape[0]
    assert seconds <= 120
    # MESH polls that find no work are not attempts: keep a margin of a fifth.
    assert expected.sum() >= 1.2 * CLEAN_REQUESTS_FOR_9997
    by_interaction: dict[str, float] = {}
    for index, stream in enumerate(plan.streams):
        name = stream.interaction.id
        by_interaction[name] = by_interaction.get(name, 0.0) + float(expected[:, index].sum())
    total = sum(by_interaction.values())
    thresholds = GateThresholds()
    assert (_needed_s(total / seconds, thresholds) or 10**9) <= seconds
    for name, count in by_interaction.items():
        if count / total >= thresholds.required_share:  # a check that matters
            needed = _needed_s(count / seconds, thresholds)
            assert needed is not None, name
            assert needed <= seconds, (name, needed)
