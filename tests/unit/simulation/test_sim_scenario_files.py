"""Every scenario file in scenarios/ simulates one month end to end.

To keep the suite fast, files run with 400 organisations (the traffic is the national profile
whatever the directory's size), except the 2014 baseline, which runs once at its full 20,000.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_scenario
from harness.config.availability import Cause
from harness.config.scenario import OrganisationsSpec, Scenario
from harness.simulation import prepared_for, replication_rng, simulate_month
from harness.simulation.flows import CAUSES
from tests.conftest import SCENARIOS_DIR

FILES = sorted(SCENARIOS_DIR.glob("*.yaml"))


FULL_SCALE = "baseline-2014"
SMALL = OrganisationsSpec(count=400)


def _small(scenario: Scenario) -> Scenario:
    return scenario.model_copy(update={"organisations": SMALL})


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_scenario_simulates_a_month(path: Path) -> None:
    scenario = load_scenario(path)
    if scenario.name != FULL_SCALE:
        scenario = _small(scenario)
    prepared = prepared_for(scenario)
    month = simulate_month(prepared, replication_rng(scenario.seed, 0))
    assert len(month.org_messages) == scenario.organisations.count
    assert month.messages.sum() > 0
    assert 0.0 <= month.availability <= 1.0


def test_big_bang_costs_more_than_phased() -> None:
    def migration_failed(name: str) -> int:
        scenario = _small(load_scenario(SCENARIOS_DIR / f"{name}.yaml"))
        prepared = prepared_for(scenario)
        total = 0
        for i in range(3):
            month = simulate_month(prepared, replication_rng(1, i))
            total += int(month.failed_by_cause[CAUSES.index(Cause.MIGRATION)])
        return total

    assert migration_failed("migration-big-bang-2014") > 10 * migration_failed(
        "migration-phased-2014"
    )
