"""Every load scenario of the catalogue runs end to end (marker ``catalogue``: ``make catalogue``).

CI runs ``ci-smoke`` and ``node-loss`` (``tests/integration/test_run.py``); the longer scenarios
run here, on demand, each judged by what its header promises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SCENARIOS_DIR, run_harness

pytestmark = pytest.mark.catalogue

# Scenario -> the overall verdicts its question allows (fail where a fault must breach).
EXPECTED = {
    "baseline-2014": {"pass", "fail", "inconclusive"},
    "dc-failover": {"fail", "inconclusive"},
    "supplier-outage": {"pass", "inconclusive"},
    "release-regression": {"fail"},
    "peak-2018": {"pass", "inconclusive"},
    "winter-pressure": {"pass", "inconclusive"},
    "calibrate-reference": {"pass", "inconclusive"},
}


def _run(name: str, out: Path) -> dict[str, Any]:
    scenario = str(SCENARIOS_DIR / f"{name}.yaml")
    # auto never raises a scenario's rate; it lowers baseline-2014's national one to the machine.
    done = run_harness("run", scenario, "--rate-scale", "auto", "--output", str(out), timeout=1200)
    assert done.returncode in (0, 1, 4), done.stdout + done.stderr
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_runs_and_shows_its_outcome(name: str, tmp_path: Path) -> None:
    data = _run(name, tmp_path / "out")
    assert data["run"]["status"] == "complete"
    assert all(f["error"] is None for f in data["faults"])
    assert data["slo"]["verdict"] in EXPECTED[name]
    overall = next(r for r in data["comparison"] if r["service"] == "all")
    assert overall["predicted_attempts"] == pytest.approx(overall["measured_attempts"], rel=0.2)
    if name == "supplier-outage":
        # The cut-off organisations never reached the Spine: excluded, not bad.
        windows = (tmp_path / "out" / "load" / "windows.jsonl").read_text(encoding="utf-8")
        assert '"cut-off"' in windows
