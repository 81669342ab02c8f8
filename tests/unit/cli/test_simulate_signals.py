"""SIGINT and SIGTERM on ``harness simulate``: the finished months are kept, marked partial."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import yaml

from tests.signals import interrupt

from .test_simulate_verdict import SCENARIO


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_keeps_the_finished_months(tmp_path: Path, signum: int, code: int) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    out = tmp_path / "out"
    args = ["simulate", str(path), "-n", "4000", "--workers", "2", "--output", str(out)]
    # Plain progress lines: the output is not a terminal.
    done = interrupt(args, ready=lambda line: "months done" in line, signum=signum)
    output = done.output
    assert done.returncode == code, output
    simulation = json.loads((out / "results.json").read_text(encoding="utf-8"))["simulation"]
    assert simulation["partial"] is True
    assert 0 < simulation["replications"] < 4000
    assert f"interrupted: {simulation['replications']} of 4000 months finished" in output
    assert "PARTIAL" in (out / "report.html").read_text(encoding="utf-8")
    assert "PASS" not in (out / "summary.md").read_text(encoding="utf-8").splitlines()[0]
    assert "design verdict: PARTIAL" in output  # the terminal never says PASS either
    assert "design verdict: PASS" not in output
    assert not done.survivors(), f"left running: {done.survivors()}"


def test_a_signal_during_the_sweep_keeps_the_months_and_the_finished_variants(
    tmp_path: Path,
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    out = tmp_path / "out"
    sweep = ["--sweep", "topology.pools.pds.servers=3,8,12,16"]
    args = ["simulate", str(path), "-n", "300", "--workers", "2", "--output", str(out), *sweep]
    done = interrupt(args, ready=lambda line: "variant 1/4 done" in line, signum=signal.SIGTERM)
    output = done.output
    assert done.returncode == 143, output
    simulation = json.loads((out / "results.json").read_text(encoding="utf-8"))["simulation"]
    assert simulation["partial"] is True
    assert simulation["replications"] == 300  # the months themselves had all finished
    assert simulation["sweep"]["partial"] is True
    assert 1 <= len(simulation["sweep"]["rows"]) < 4
    assert "design verdict: PASS" not in output
    assert not done.survivors(), f"left running: {done.survivors()}"
