"""Impossible or inconsistent topologies are refused before anything runs, with locations."""

from __future__ import annotations

from harness.config import scenario_problems

BAD = """\
name: broken-topology
topology:
  mode: active-passive
  data_centres: [dc-a, dc-b]
  pools:
    pds: {servers: 0}
  failover:
    success_probability: 1.5
    targets: {dc-a: [dc-z]}
failures:
  - component: flux-capacitor
    time_to_failure: {distribution: exponential, mean: 1h}
    time_to_repair: {distribution: exponential, mean: 1h}
migration:
  waves:
    - {org_types: [gp-practice, dentist], at: 1d}
maintenance:
  - {kind: site-drain, data_centre: dc-q, duration: 1h}
"""


def test_every_topology_error_is_reported_with_its_line() -> None:
    scenario, problems = scenario_problems(BAD)
    assert scenario is None
    by_loc = {p.location: p for p in problems}
    # Field errors come first; the cross-checks run once the fields are valid.
    assert set(by_loc) == {
        "topology.pools.pds.servers",
        "topology.failover.success_probability",
    }
    assert by_loc["topology.pools.pds.servers"].line == 6
    assert by_loc["topology.failover.success_probability"].line == 8
    fixed = BAD.replace("servers: 0", "servers: 4").replace("1.5", "0.9")
    scenario, problems = scenario_problems(fixed)
    assert scenario is None
    by_loc = {p.location: p for p in problems}
    assert set(by_loc) == {
        "topology.failover.targets.dc-a.0",
        "failures.0.component",
        "migration.waves.0.org_types.1",
        "maintenance.0.data_centre",
    }
    assert "dc-z" in by_loc["topology.failover.targets.dc-a.0"].message
    assert by_loc["topology.failover.targets.dc-a.0"].line == 9
    assert "flux-capacitor" in by_loc["failures.0.component"].message
    assert by_loc["failures.0.component"].line == 11
    assert "dentist" in by_loc["migration.waves.0.org_types.1"].message
    assert by_loc["migration.waves.0.org_types.1"].line == 16
    assert by_loc["maintenance.0.data_centre"].line == 18


def test_failover_to_itself_and_duplicate_waves_are_refused() -> None:
    text = """\
name: self-failover
topology:
  failover: {targets: {dc-a: [dc-a]}}
migration:
  waves:
    - {org_types: [trust], at: 1d}
    - {org_types: [trust], at: 2d}
"""
    _, problems = scenario_problems(text)
    messages = {p.location: p.message for p in problems}
    assert "cannot fail over to itself" in messages["topology.failover.targets.dc-a.0"]
    assert "already moves in wave 0" in messages["migration.waves.1.org_types.0"]


def test_simulation_sections_have_defaults() -> None:
    scenario, problems = scenario_problems("name: plain\n")
    assert problems == []
    assert scenario is not None
    assert scenario.simulation.duration == 30 * 86_400.0
    assert scenario.migration is None
    assert scenario.topology.database.success_probability == 0.95
