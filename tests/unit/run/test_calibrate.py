"""harness calibrate recovers known service demands from a run's windows and CPU samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.config.calibration import dump_calibration, load_calibration
from harness.errors import ConfigurationError
from harness.run.calibrate import calibrate
from harness.slo import Outcome, Window, WindowKey, write_windows

START = 1_700_000_000
DEMANDS_S = {"mesh.send": 0.004, "sds.device-lookup": 0.003}  # not proportional to MEDIAN_MS
MEDIAN_MS = {"mesh.send": 20.0, "sds.device-lookup": 5.0}
LAG_US = 1_500  # the generator's dispatch lag (intended to actual send)


def write_run(
    folder: Path, *, rng: np.random.Generator, seconds: int = 120, independent: bool
) -> None:
    """A results directory whose server CPU is exactly idle + Σ throughput × demand + noise."""
    windows, samples = [], []
    # Each interaction's share changes every 10 s (a real mix drifts slowly, not per second).
    mixes = {n: rng.uniform(0.2, 1.8, seconds // 10 + 1) for n in DEMANDS_S}
    for second in range(seconds):
        surge = 1 + 4 * second / seconds  # traffic rises through the run
        cpu = 0.05
        for name, demand in DEMANDS_S.items():
            mix = mixes[name][second // 10] if independent else 1.0
            count = int(rng.poisson(20 * surge * mix))
            window = Window(WindowKey(START + second, name, "gp-practice"))
            for _ in range(count):
                service_us = int(rng.lognormal(np.log(MEDIAN_MS[name] * 1000), 0.3))
                # The generator sends LAG_US after the intended time; latency counts from then.
                window.record(
                    Outcome.GOOD, 200, latency_us=service_us + LAG_US, service_us=service_us
                )
            windows.append(window)
            cpu += count * demand
        samples.append(
            {"t": second + 1.0, "cpu_s": cpu + rng.normal(0, 0.002), "processes": 6, "clean": True}
        )
    write_windows(folder / "load" / "windows.jsonl", windows)
    (folder / "server").mkdir(parents=True)
    (folder / "server" / "cpu.jsonl").write_text(
        "".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8"
    )
    document = {
        "schema_version": "1.0",
        "command": "run",
        "environment": {"machine": {"fingerprint": "calib-host, Some CPU, 2 cores"}},
        "load": {
            "started_at": START,
            "ended_at": START + seconds,
            "processes": 1,
            "generator": {"drawn": 48_000, "cpu_mean_percent": 40.0},
        },
        "server": {"groups": [{"name": "dc-a", "url": "http://x", "workers": 2}]},
        "faults": [{"kind": "kill-worker", "restored_after_s": 1.5}],
    }
    (folder / "results.json").write_text(json.dumps(document), encoding="utf-8")


def test_independent_throughputs_give_each_interaction_its_own_demand(tmp_path: Path) -> None:
    write_run(tmp_path, rng=np.random.default_rng(1), independent=True)
    fit = calibrate(tmp_path)
    costs = fit.calibration.interactions
    assert fit.calibration.method == "regression"
    for name, demand in DEMANDS_S.items():
        assert costs[name].demand_ms == pytest.approx(demand * 1000, rel=0.1)
    assert fit.calibration.cpu_idle_s_per_s == pytest.approx(0.05, abs=0.02)
    assert fit.calibration.worker_restart_s == 1.5
    assert fit.r_squared > 0.95
    # Service-time quantiles come from the histograms: the median is the lognormal's.
    median = costs["mesh.send"].service_ms[10]
    assert median == pytest.approx(20.0, rel=0.1)
    # The prediction's base is the latency the load test measures: service time plus the lag.
    base = costs["mesh.send"].base_latency_ms
    assert base == costs["mesh.send"].latency_ms
    assert base[10] - median == pytest.approx(LAG_US / 1000, abs=0.2)


def test_calibration_files_without_latency_quantiles_still_load(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text("interactions: {mesh.send: {demand_ms: 3, service_ms: [1, 2, 4]}}\n")
    cost = load_calibration(path).interactions["mesh.send"]
    assert cost.latency_ms is None
    assert cost.base_latency_ms == [1, 2, 4]


def test_a_fixed_mix_falls_back_to_demands_proportional_to_service_time(tmp_path: Path) -> None:
    write_run(tmp_path, rng=np.random.default_rng(2), independent=False)
    fit = calibrate(tmp_path)
    costs = fit.calibration.interactions
    assert fit.calibration.method == "proportional"
    # Only the total is identifiable: Σ X·D must still match the CPU actually used.
    total_true = sum(20 * d for d in DEMANDS_S.values())
    total_fit = sum(20 * costs[n].demand_ms / 1000 for n in DEMANDS_S)
    assert total_fit == pytest.approx(total_true, rel=0.1)
    ratio = costs["mesh.send"].demand_ms / costs["sds.device-lookup"].demand_ms
    assert ratio == pytest.approx(4.0, rel=0.15)  # the medians' ratio, 20 ms / 5 ms


def test_the_file_round_trips_and_bad_files_are_located(tmp_path: Path) -> None:
    write_run(tmp_path, rng=np.random.default_rng(3), independent=True)
    fit = calibrate(tmp_path)
    path = tmp_path / "cal.yaml"
    dump_calibration(fit.calibration, path, header="test")
    assert load_calibration(path) == fit.calibration
    path.write_text("interactions: {mesh.send: {demand_ms: -1, service_ms: [2, 1]}}\n")
    with pytest.raises(ConfigurationError, match=r"cal.yaml: invalid calibration: .*demand_ms"):
        load_calibration(path)


def test_a_directory_without_server_cpu_is_refused_with_a_reason(tmp_path: Path) -> None:
    write_run(tmp_path, rng=np.random.default_rng(4), independent=True)
    (tmp_path / "server" / "cpu.jsonl").unlink()
    with pytest.raises(ConfigurationError, match="written by `harness run`"):
        calibrate(tmp_path)


def test_the_calibration_records_its_machine_rate_range_and_generator_cost(tmp_path: Path) -> None:
    """What ``harness run`` needs to say when a calibration is used out of its range."""
    write_run(tmp_path, rng=np.random.default_rng(4), independent=True)
    calibration = calibrate(tmp_path).calibration
    assert calibration.machine == "calib-host, Some CPU, 2 cores"
    low, high = calibration.rate_per_s or (0.0, 0.0)
    # Three interactions at 20 × surge × mix a second, the surge rising from 1 to 5.
    assert 20 < low < high < 600
    # 40 % of a core for 120 s over 48,000 arrivals: 1 ms each.
    assert calibration.generator_cpu_ms == pytest.approx(1.0)
    here = {"machine": "calib-host, Some CPU, 2 cores", "rate_per_s": (low + high) / 2}
    assert calibration.caveats(**here) == []  # type: ignore[arg-type]
    elsewhere = calibration.caveats(machine="other, Some CPU, 2 cores", rate_per_s=high)
    assert len(elsewhere) == 1
    assert "another machine" in elsewhere[0]
    faster = calibration.caveats(machine=calibration.machine, rate_per_s=high * 3)
    assert len(faster) == 1
    assert "extrapolates" in faster[0]


def test_the_command_says_where_its_calibration_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.main import run
    from harness.cli.output import ExitCode
    from harness.config.calibration import load_calibration

    (tmp_path / "run").mkdir()
    write_run(tmp_path / "run", rng=np.random.default_rng(5), independent=True)
    target = tmp_path / "calibration.yaml"
    assert run(["calibrate", str(tmp_path / "run"), "--output", str(target)]) == ExitCode.PASS
    out = " ".join(capsys.readouterr().out.split())
    assert "holds on calib-host, Some CPU, 2 cores" in out
    assert "generator CPU per arrival 1.00 ms" in out
    written = load_calibration(target)
    assert written.machine == "calib-host, Some CPU, 2 cores"
    assert written.rate_per_s is not None
