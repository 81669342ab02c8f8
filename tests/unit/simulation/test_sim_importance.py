"""Importance sampling: biased failures, reweighted months, unbiased rare-event estimates."""

from __future__ import annotations

import math

import pytest

from harness.config import scenario_problems
from harness.simulation import run_replications
from harness.simulation.summary import summarise, wilson

from .conftest import scenario_with

WINDOW_S = 2 * 86_400.0  # the test scenario's two-day window
SITE_MTTF_S = 200 * 86_400.0
# Every site failure fails half the traffic for 90 minutes (an hour to notice, the automatic
# failover fails, 30 minutes by hand; repairs take six hours), far beyond a two-day budget even
# at night: a month breaches exactly when a site fails in it.
RARE_SITE = {
    "failures": [
        {
            "component": "site",
            "time_to_failure": {"distribution": "exponential", "mean": SITE_MTTF_S},
            "time_to_repair": {"distribution": "lognormal", "median": "6h", "sigma": 0.1},
        }
    ],
    "topology__failover": {"detection": "1h", "success_probability": 0.0, "manual": "30m"},
}


def test_importance_sampling_estimates_a_rare_breach_without_bias() -> None:
    months = 240
    truth = 1.0 - math.exp(-2 * WINDOW_S / SITE_MTTF_S)  # either of two sites fails: ~2 %
    biased = scenario_with(**RARE_SITE, simulation__importance={"component": "site", "factor": 25})
    section = summarise(run_replications(biased, months, seed=3))["importance_sampling"]
    estimate = section["request_based"]
    assert estimate["probability"] == pytest.approx(truth, abs=3 * estimate["standard_error"])
    # The biased run sees the rare event often, so its interval is far tighter than a plain
    # run of the same size could give (Wilson around the true rate).
    plain_low, plain_high = wilson(round(truth * months), months)
    width = estimate["interval"][1] - estimate["interval"][0]
    assert width < 0.5 * (plain_high - plain_low)
    assert 0.5 < section["request_based"]["mean_weight"] < 1.5


def test_plain_runs_have_unit_weights() -> None:
    run = run_replications(scenario_with(**RARE_SITE), 3, seed=3)
    assert [r.weight for r in run.records] == [1.0, 1.0, 1.0]
    assert summarise(run)["importance_sampling"] is None


def test_only_exponential_failures_of_a_known_component_can_be_biased() -> None:
    text = """\
name: bad-bias
failures:
  - component: site
    time_to_failure: {distribution: weibull, shape: 1.2, scale: 1000h}
    time_to_repair: {distribution: exponential, mean: 1h}
simulation:
  importance: {component: site, factor: 10}
"""
    _, problems = scenario_problems(text)
    assert [p.location for p in problems] == ["simulation.importance.component"]
    assert "exponential" in problems[0].message
    assert problems[0].line == 7
    _, problems = scenario_problems(text.replace("{component: site,", "{component: dns,"))
    assert [p.location for p in problems] == ["simulation.importance.component"]
    assert "cannot bias 'dns'" in problems[0].message
