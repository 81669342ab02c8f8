"""Planned maintenance is treated by one rule in ``load``, ``run`` and ``simulate``.

The case: ``pds`` is under planned maintenance. ``load`` (and ``run``'s measured window) record
a 503 answered "under maintenance" through the driver's classification and recorder; ``run``'s
predicted window classifies the same requests in :mod:`~harness.simulation.window`;
``simulate`` blames the month's failures on ``maintenance``. The rule is kept in one place,
``harness.slo.outcomes``: today maintenance is excluded from the SLI in all three, and flipping
the rule there (the second test) makes all three count it — nothing else decides.
"""

from __future__ import annotations

import numpy as np
import pytest

import harness.slo.outcomes as outcomes
from harness.config.availability import Cause
from harness.config.scenario import Maintenance
from harness.load.recorder import Recorder
from harness.simulation import prepared_for, simulate_month
from harness.simulation.flows import CAUSES
from harness.simulation.window import InteractionModel, WindowInputs, predict_window
from harness.slo import classify
from tests.unit.simulation.conftest import scenario_with

BASE_S = tuple(np.linspace(0.004, 0.020, 21))  # service times of the window model's interaction


def _load() -> tuple[int, int]:
    """(bad, excluded) of ten pds requests answered 503 "under maintenance", as the driver
    records them: ``maintenance`` is its reading of the 503's refusal code."""
    recorder = Recorder()
    for i in range(10):
        outcome = classify(503, latency_s=0.01, latency_slo_s=0.5, maintenance=True)
        recorder.attempt(
            i,
            "pds.retrieve",
            "gp-practice",
            "A00001",
            outcome=outcome,
            status=503,
            latency_us=10_000,
            service_us=5_000,
        )
    bad, excluded = 0, 0
    for counts in recorder.organisations.values():
        bad, excluded = bad + counts[1], excluded + counts[2]
    return bad, excluded


def _run() -> tuple[int, int]:
    """(bad, excluded) of ``run``'s predicted window: pds under maintenance for the first 20 s
    of 30 s (arrivals in the maintenance are excluded, with the retries inside it)."""
    inputs = WindowInputs(
        rates=np.full((30, 1), 20.0),
        interactions=[
            InteractionModel(
                id="pds.retrieve",
                service="pds",
                latency_slo_s=0.5,
                demand_s=0.002,
                base_latency_s=BASE_S,
            )
        ],
        sites=["dc-a"],
        site_share=[1.0],
        workers=2,
        request_timeout_s=10.0,
        worker_restart_s=2.0,
        faults=[Maintenance(kind="maintenance", at=0.0, service="pds", duration=20.0)],
    )
    window = predict_window(inputs, seed=3)
    return int(window.bad[0]), int(window.excluded[0])


def _simulate() -> tuple[int, int]:
    """(bad counted in the SLI, failed under ``maintenance``) of a simulated day with pds down
    for planned maintenance for an hour and no other failure."""
    scenario = scenario_with(
        simulation__start="2014-09-08T00:00",
        simulation__duration="1d",
        topology__pools__pds={"servers": 40, "service_time_ms": 12},
        topology__pools__eps={"servers": 40, "service_time_ms": 18},
        faults=[
            {
                "kind": "maintenance",
                "service": "pds",
                "at_time": "2014-09-08T08:00",
                "duration": "1h",
            }
        ],
    )
    month = simulate_month(prepared_for(scenario), np.random.default_rng(5))
    return int(month.bad.sum()), int(month.failed_by_cause[CAUSES.index(Cause.MAINTENANCE)])


def test_maintenance_is_excluded_from_the_sli_by_load_run_and_simulate() -> None:
    bad, excluded = _load()
    assert (bad, excluded) == (0, 10)
    bad, excluded = _run()
    assert excluded > 0.9 * 20 * 19  # about 20/s for the ~19 s whose retries end inside it
    assert bad <= 20 * 1.6  # only arrivals whose retries outlive it (late, so slow)
    bad, maintenance = _simulate()
    assert maintenance > 10_000  # an hour of pds at 08:00 failed, reported under maintenance
    assert bad < 0.001 * maintenance  # and none of it counted in the SLI


def test_the_rule_lives_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting maintenance in ``harness.slo.outcomes`` alone makes all three count it."""
    monkeypatch.setattr(outcomes, "_BAD", outcomes._BAD | {outcomes.Outcome.MAINTENANCE})
    monkeypatch.setattr(outcomes, "_EXCLUDED", outcomes._EXCLUDED - {outcomes.Outcome.MAINTENANCE})
    assert _load() == (10, 0)
    bad, excluded = _run()
    assert bad > 0.9 * 20 * 19
    assert excluded == 0
    bad, maintenance = _simulate()
    assert maintenance > 10_000
    assert bad >= maintenance
