"""Calibrate on one run, predict another: the p95 check of ``harness calibrate`` (``catalogue``).

The claim under test: a calibration measured by ``harness run scenarios/calibrate-reference.yaml``
and ``harness calibrate`` predicts the p95 latency of a run at *another* day, hour, mix and rate
(``winter-pressure``: January, +15 %, a fixed Monday-09:00 rate, about 20 requests a second
against calibration's sweep from 10 to 130) within ±15 %.

A single run's measured p95 moves by about 10 % between identical runs on a shared 2-core
machine (generator and server share it), so one run each cannot settle a ±15 % question. The
check therefore runs the validation scenario ``CALIBRATION_RUNS`` times (default 3) and compares
the median prediction with the median measurement, overall and per service, printing every run.
Run it on a quiet machine: ``make calibration-check`` (about 20 minutes). The calibration it
writes is the one to commit as ``scenarios/calibration/reference-server.yaml`` when the server
changes.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import SCENARIOS_DIR, run_harness

pytestmark = pytest.mark.catalogue
RUNS = int(os.environ.get("CALIBRATION_RUNS", "3"))
TOLERANCE = 0.15  # the issue's ±15 % on predicted against measured p95
KEEP = os.environ.get("CALIBRATION_KEEP")  # a directory to copy the calibration and runs to


def _run(scenario: Path, out: Path) -> dict[str, Any]:
    done = run_harness("run", str(scenario), "--output", str(out), timeout=1500)
    assert done.returncode in (0, 1, 4), done.stdout + done.stderr
    data: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["run"]["status"] == "complete"
    return data


def test_calibration_predicts_p95_at_another_rate(tmp_path: Path) -> None:
    reference = _run(SCENARIOS_DIR / "calibrate-reference.yaml", tmp_path / "reference")
    assert reference["load"]["generator"]["sent"] > 5_000
    calibration = tmp_path / "calibration.yaml"
    done = run_harness(
        "calibrate", str(tmp_path / "reference"), "--output", str(calibration), timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr

    spec = yaml.safe_load((SCENARIOS_DIR / "winter-pressure.yaml").read_text(encoding="utf-8"))
    spec["calibration"] = str(calibration)
    scenario = tmp_path / "winter-pressure.yaml"
    scenario.write_text(yaml.safe_dump(spec), encoding="utf-8")
    predicted: dict[str, list[float]] = {}
    measured: dict[str, list[float]] = {}
    for n in range(RUNS):
        data = _run(scenario, tmp_path / f"validation-{n}")
        for row in data["comparison"]:
            if row["measured_attempts"] >= 50:  # a p95 of fewer requests is noise
                predicted.setdefault(row["service"], []).append(row["predicted_p95_ms"])
                measured.setdefault(row["service"], []).append(row["measured_p95_ms"])
    if KEEP:
        keep = Path(KEEP)
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(calibration, keep / "calibration.yaml")
        for path in tmp_path.glob("validation-*"):
            shutil.copytree(path, keep / path.name, dirs_exist_ok=True)

    print(f"\n{'service':<8} {'predicted p95 ms (runs)':<30} {'measured p95 ms (runs)':<30} ratio")
    ratios: dict[str, float] = {}
    for service in sorted(measured):
        ratios[service] = statistics.median(predicted[service]) / statistics.median(
            measured[service]
        )
        runs_p = ", ".join(f"{v:.1f}" for v in predicted[service])
        runs_m = ", ".join(f"{v:.1f}" for v in measured[service])
        print(f"{service:<8} {runs_p:<30} {runs_m:<30} {ratios[service]:.2f}")
    assert "all" in ratios
    assert abs(ratios["all"] - 1.0) <= TOLERANCE, ratios
