"""``harness run --rate-scale auto``: the share of national traffic a machine carries."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from harness.config import Scenario
from harness.config.calibration import Calibration, InteractionCost
from harness.run.capacity import (
    ASSUMED_GENERATOR_MS,
    CPU_TARGET,
    GENERATOR_TARGET,
    MachineProbe,
    fit_rate_scale,
    probe_machine,
    window_rates,
)
from harness.spine import CATALOGUE
from tests.conftest import SCENARIOS_DIR, run_harness

QUIET = MachineProbe(cores=2, share=1.0, others_cores=0.0)


def national_peak(**traffic: object) -> Scenario:
    """The 2014 Monday 08:08-08:13 window in real time at national rate (baseline-2014's)."""
    spec: dict[str, object] = {
        "start": datetime(2014, 9, 1, 8, 8),
        "duration": 300.0,
        "time_scale": 1.0,
        "rate_scale": 1.0,
    }
    spec.update(traffic)
    return Scenario.model_validate(
        {"name": "peak", "traffic": {"scale": "2014", **spec}}, context=None
    )


def flat(demand_ms: float, generator_ms: float | None = None) -> Calibration:
    cost = InteractionCost(demand_ms=demand_ms, service_ms=[1.0, 2.0])
    return Calibration(interactions={i.id: cost for i in CATALOGUE}, generator_cpu_ms=generator_ms)


def test_the_window_is_the_documented_monday_peak() -> None:
    """domain/spine.md's 2014 profile: ~776 msg/s over 08:08-08:13, 1,474 in the 08:10 minute."""
    rates, streams = window_rates(national_peak())
    total = rates.sum(axis=1)
    assert rates.shape == (300, len(streams))
    assert total.mean() == pytest.approx(776, rel=0.01)
    assert total.max() == pytest.approx(1474, rel=0.01)
    assert total.sum() == pytest.approx(233_000, rel=0.01)


def test_a_quiet_machine_plays_what_its_free_cores_carry_at_the_peak() -> None:
    fit = fit_rate_scale(national_peak(), flat(2.0, generator_ms=1.0), QUIET)
    assert fit.limited_by == "cpu"
    assert fit.generator_measured
    # The peak second, costed at 3 ms an arrival, fills 60 % of two cores and no more.
    busy = fit.peak_per_s * (fit.server_ms + fit.generator_ms) / 1000.0
    assert busy == pytest.approx(CPU_TARGET * 2, rel=0.01)
    assert busy <= CPU_TARGET * 2
    assert fit.rate_scale == pytest.approx(1.2 / (1474 * 0.003), rel=0.02)
    assert fit.mean_per_s == pytest.approx(776 * fit.rate_scale, rel=0.01)
    assert f"{fit.rate_scale:.2%} of national traffic" in fit.line()


def test_a_busier_machine_plays_less_and_never_more_than_the_scenario() -> None:
    calibration = flat(2.0, generator_ms=1.0)
    quiet = fit_rate_scale(national_peak(), calibration, QUIET)
    busy = fit_rate_scale(national_peak(), calibration, MachineProbe(2, 0.4, 1.2))
    assert busy.rate_scale == pytest.approx(quiet.rate_scale * 0.8 / 2, rel=0.02)
    small = fit_rate_scale(national_peak(rate_scale=0.005), calibration, QUIET)
    assert small.rate_scale == 0.005
    assert small.limited_by == "scenario"


def test_a_costly_generator_is_held_under_half_a_core_per_process() -> None:
    calibration = flat(0.1, generator_ms=3.0)
    fit = fit_rate_scale(national_peak(), calibration, MachineProbe(8, 1.0, 0.0))
    assert fit.limited_by == "generator"
    assert fit.peak_per_s * 3.0 / 1000.0 == pytest.approx(GENERATOR_TARGET, rel=0.01)
    two = fit_rate_scale(national_peak(), calibration, MachineProbe(8, 1.0, 0.0), load_processes=2)
    assert two.rate_scale == pytest.approx(2 * fit.rate_scale, rel=0.01)


def test_without_a_measured_generator_cost_the_assumed_one_is_said() -> None:
    fit = fit_rate_scale(national_peak(), flat(2.0), QUIET)
    assert fit.generator_ms == ASSUMED_GENERATOR_MS
    assert "(assumed)" in fit.line()


def test_the_probe_sees_this_process_spin() -> None:
    probe = probe_machine(0.2)
    assert probe.cores >= 1
    assert 0.0 < probe.share <= 1.05
    assert 0.25 <= probe.free_cores <= probe.cores


def test_the_shipped_baseline_plays_the_national_peak_window() -> None:
    from harness.config import load_scenario

    scenario = load_scenario(SCENARIOS_DIR / "baseline-2014.yaml")
    assert scenario.traffic.rate_scale == 1.0
    assert scenario.traffic.time_scale == 1.0
    assert scenario.organisations.count == 20_000
    rates, _ = window_rates(scenario)
    assert np.argmax(rates.sum(axis=1)) // 60 == 2  # the 08:10 minute


@pytest.mark.parametrize("value", ["2", "0", "lots"])
def test_a_rate_scale_outside_0_to_1_is_a_located_usage_error(value: str, tmp_path: Path) -> None:
    done = run_harness(
        "run",
        str(SCENARIOS_DIR / "ci-smoke.yaml"),
        "--rate-scale",
        value,
        "--output",
        str(tmp_path / "out"),
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--rate-scale" in done.stderr
    assert "'auto'" in done.stderr
    assert not (tmp_path / "out").exists()  # refused before anything started


def test_the_runs_own_children_are_not_counted_as_other_processes() -> None:
    """The servers and generators are children of ``harness run``: their CPU is the run's."""
    import subprocess
    import sys

    from harness.run import capacity

    before = capacity.tree_cpu_seconds()
    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass"
    subprocess.run([sys.executable, "-c", spin], check=True, timeout=60)
    assert capacity.tree_cpu_seconds() - before >= 0.5
    assert capacity.OthersMeter().cores() >= 0.0
