"""``harness gate``: baselines by name or directory, outputs, warnings and exit codes."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from harness.cli.main import run
from harness.cli.output import ExitCode
from tests.synthetic import Shape, write_run

# 40 s: the quietest interaction that matters (6 % of 500 req/s) fills 8 blocks of 5 s.
SHAPE = Shape(duration_s=40, rate_per_s=500)
OTHER_MACHINE = {"system": "Linux", "release": "6.8", "processor": "aarch64", "cpus": 8}


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(8)
    slower = dataclasses.replace(SHAPE, shift_us=0.3 * SHAPE.median_us)
    return {
        "a": write_run(tmp_path / "a", rng, SHAPE),
        "b": write_run(tmp_path / "b", rng, SHAPE),
        "slow": write_run(tmp_path / "slow", rng, slower),
        "elsewhere": write_run(tmp_path / "elsewhere", rng, SHAPE, machine=OTHER_MACHINE),
        "partial": write_run(tmp_path / "partial", rng, SHAPE, partial=True),
    }


def _gate(tmp_path: Path, name: str, *args: str) -> tuple[int, Path]:
    out = tmp_path / f"gate-{name}"
    code = run(
        ["gate", "--output", str(out), "--baselines-dir", str(tmp_path / "baselines"), *args]
    )
    return code, out


def test_save_a_baseline_then_gate_by_name(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    baselines = tmp_path / "baselines"
    code = run(
        [
            "gate",
            "--candidate",
            str(runs["a"]),
            "--save-baseline",
            "main",
            "--baselines-dir",
            str(baselines),
        ]
    )
    assert code == ExitCode.PASS
    meta = json.loads((baselines / "main" / "baseline.json").read_text())
    assert meta["machine"]["cpus"] == 2
    lines = (baselines / "main" / "windows.jsonl").read_text().splitlines()
    assert len(lines) == 40 * 7  # merged over organisation types: one per second × interaction
    assert {json.loads(line)["org_type"] for line in lines} == {"all"}
    assert (baselines / "main" / "windows.jsonl").stat().st_size < 500_000

    code, out = _gate(tmp_path, "aa", "--baseline", "main", "--candidate", str(runs["b"]))
    assert code == ExitCode.PASS
    document = json.loads((out / "gate.json").read_text())
    assert document["verdict"] == "pass"
    assert document["warnings"] == []
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.findall("testcase/failure") == []
    assert "no regression" in (out / "summary.md").read_text()
    assert document["coverage"]["required_judged"] == document["coverage"]["required"]
    assert "gate: pass" in capsys.readouterr().out


def test_two_short_quiet_runs_are_inconclusive_never_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two 30-s runs at 10 req/s, as ci-smoke at 1 % of its rate: ten-second blocks, three each.
    rng = np.random.default_rng(9)
    quiet = Shape(duration_s=30, rate_per_s=10)
    a, b = write_run(tmp_path / "a", rng, quiet), write_run(tmp_path / "b", rng, quiet)
    code, out = _gate(tmp_path, "short", "--baseline", str(a), "--candidate", str(b))
    assert code == ExitCode.INCONCLUSIVE
    document = json.loads((out / "gate.json").read_text())
    assert document["verdict"] == "inconclusive"
    coverage = document["coverage"]
    assert coverage["required_judged"] < coverage["required"]
    assert "all interactions p50" in coverage["not_judged"]
    # sds.endpoint-lookup has 6 % of 10 req/s: not 100 requests even in a 60-s block.
    assert coverage["needed_s"] is None
    printed = capsys.readouterr().out
    assert f"judged {coverage['judged']} of {coverage['checks']} checks" in printed
    assert "the rate is too low" in printed
    assert "gate: inconclusive" in printed
    assert "INCONCLUSIVE" in (out / "summary.md").read_text()


def test_an_inconclusive_gate_names_the_run_length_that_would_judge_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(10)
    short = Shape(duration_s=30, rate_per_s=30)
    a, b = write_run(tmp_path / "a", rng, short), write_run(tmp_path / "b", rng, short)
    code, out = _gate(tmp_path, "short", "--baseline", str(a), "--candidate", str(b))
    assert code == ExitCode.INCONCLUSIVE
    # sds.endpoint-lookup at 6 % of 30 req/s needs 60-s blocks of 100 requests, 8 of them.
    assert json.loads((out / "gate.json").read_text())["coverage"]["needed_s"] == 480
    assert "runs of at least 480 s" in capsys.readouterr().out


def test_a_slower_candidate_is_a_regression(tmp_path: Path, runs: dict[str, Path]) -> None:
    code, out = _gate(
        tmp_path, "slow", "--baseline", str(runs["a"]), "--candidate", str(runs["slow"])
    )
    assert code == ExitCode.FAIL
    document = json.loads((out / "gate.json").read_text())
    assert document["verdict"] == "fail"  # a regression
    flagged = [c for c in document["comparisons"] if c["regression"]]
    assert any(c["scope"] == "all interactions" and c["statistic"] == "p50" for c in flagged)
    failures = ET.parse(out / "junit.xml").getroot().findall("testsuite/testcase/failure")
    assert any("p50" in (f.get("message") or "") for f in failures)
    assert "❌ regression" in (out / "summary.md").read_text()


def test_different_machines_warn_in_every_output(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _gate(
        tmp_path, "machine", "--baseline", str(runs["elsewhere"]), "--candidate", str(runs["b"])
    )
    assert code in (ExitCode.PASS, ExitCode.FAIL)
    assert "different machines" in capsys.readouterr().err
    assert "different machines" in json.loads((out / "gate.json").read_text())["warnings"][0]
    assert "different machines" in (out / "summary.md").read_text()
    junit = (out / "junit.xml").read_text()
    assert "different machines" in junit
    skipped = ET.parse(out / "junit.xml").getroot().findall("testsuite/testcase/skipped")
    assert any("aarch64" in (s.get("message") or "") for s in skipped)


def test_an_invalid_run_exits_3_and_is_never_saved(tmp_path: Path, runs: dict[str, Path]) -> None:
    code, out = _gate(
        tmp_path, "partial", "--baseline", str(runs["a"]), "--candidate", str(runs["partial"])
    )
    assert code == ExitCode.INVALID_RUN
    assert json.loads((out / "gate.json").read_text())["verdict"] == "invalid"
    errors = ET.parse(out / "junit.xml").getroot().findall("testsuite/testcase/error")
    assert errors
    code = run(
        [
            "gate",
            "--candidate",
            str(runs["partial"]),
            "--save-baseline",
            "bad",
            "--baselines-dir",
            str(tmp_path / "baselines"),
        ]
    )
    assert code == ExitCode.INVALID_RUN
    assert not (tmp_path / "baselines" / "bad").exists()


def test_unusable_arguments_exit_2(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _gate(tmp_path, "unknown", "--baseline", "no-such", "--candidate", str(runs["a"]))
    assert code == ExitCode.USAGE
    assert "no baseline 'no-such'" in capsys.readouterr().err
    assert run(["gate", "--candidate", str(runs["a"])]) == ExitCode.USAGE
    code, _ = _gate(
        tmp_path, "missing", "--baseline", str(runs["a"]), "--candidate", str(tmp_path / "x")
    )
    assert code == ExitCode.USAGE


def test_a_machine_that_slowed_between_the_runs_cannot_pass_off_as_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As in a CI run here: the same code, but the host slowed the machine down between the two
    # runs, so the generator's same arrivals cost 14 % more CPU and every latency rose as much.
    rng = np.random.default_rng(11)
    drifted = dataclasses.replace(SHAPE, shift_us=0.14 * SHAPE.median_us)
    base = write_run(tmp_path / "base", rng, SHAPE, cpu_ms_per_attempt=1.5)
    steady = write_run(tmp_path / "steady", rng, drifted, cpu_ms_per_attempt=1.52)
    slowed = write_run(tmp_path / "slowed", rng, drifted, cpu_ms_per_attempt=1.71)

    code, _ = _gate(tmp_path, "steady", "--baseline", str(base), "--candidate", str(steady))
    assert code == ExitCode.FAIL  # on a steady machine the same shift is a regression
    capsys.readouterr()

    code, out = _gate(tmp_path, "slowed", "--baseline", str(base), "--candidate", str(slowed))
    assert code == ExitCode.INCONCLUSIVE
    document = json.loads((out / "gate.json").read_text())
    assert document["verdict"] == "inconclusive"
    assert not any(c["regression"] for c in document["comparisons"])
    moved = [c for c in document["comparisons"] if c["machine"]]
    assert any(c["scope"] == "all interactions" and c["statistic"] == "p50" for c in moved)
    assert "all interactions p50" in document["coverage"]["not_judged"]
    assert "the machine was 14% slower in the candidate run" in document["warnings"][0]
    printed = capsys.readouterr().out
    assert "the machine, not the code, may have moved latency" in printed
    assert "gate: inconclusive" in printed
    assert "Not judged (the machine may have moved latency)" in (out / "summary.md").read_text()


def test_a_regression_bigger_than_the_machines_slow_down_still_fails(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    rng = np.random.default_rng(12)
    slower = dataclasses.replace(SHAPE, shift_us=0.4 * SHAPE.median_us)
    slowed = write_run(tmp_path / "slowed", rng, slower, cpu_ms_per_attempt=1.71)
    code, out = _gate(tmp_path, "big", "--baseline", str(runs["a"]), "--candidate", str(slowed))
    assert code == ExitCode.FAIL
    document = json.loads((out / "gate.json").read_text())
    flagged = [c for c in document["comparisons"] if c["regression"]]
    assert any(c["scope"] == "all interactions" and c["statistic"] == "p50" for c in flagged)


def test_a_run_that_did_not_record_the_machines_witness_is_said(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    rng = np.random.default_rng(13)
    old = write_run(tmp_path / "old", rng, SHAPE, cpu_ms_per_attempt=None)
    code, out = _gate(tmp_path, "old", "--baseline", str(old), "--candidate", str(runs["b"]))
    assert code == ExitCode.PASS
    warnings = json.loads((out / "gate.json").read_text())["warnings"]
    assert any("did not record its generator's CPU per attempt" in w for w in warnings)


@pytest.mark.parametrize("busy", ["baseline", "candidate"])
def test_a_run_on_a_machine_others_kept_busy_is_not_judged_on_latency(
    tmp_path: Path, busy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # As when a test suite ran beside the candidate's load here: others took 1.1 cores, and the
    # candidate's p99 rose 48 % with no change to the code.
    rng = np.random.default_rng(14)
    slower = dataclasses.replace(SHAPE, shift_us=0.3 * SHAPE.median_us)
    cores = {"baseline": 0.02, "candidate": 0.02, busy: 1.1}
    base = write_run(tmp_path / "base", rng, SHAPE, others_cores=cores["baseline"])
    cand = write_run(tmp_path / "cand", rng, slower, others_cores=cores["candidate"])
    code, out = _gate(tmp_path, "busy", "--baseline", str(base), "--candidate", str(cand))
    assert code == ExitCode.INCONCLUSIVE  # on a quiet machine the same pair fails (above)
    document = json.loads((out / "gate.json").read_text())
    latency = [c for c in document["comparisons"] if c["scope"] != "availability"]
    assert latency
    assert not any(c["judged"] or c["regression"] for c in latency)
    availability = next(c for c in document["comparisons"] if c["scope"] == "availability")
    assert availability["judged"]
    assert f"other processes used 1.10 cores during the {busy} run" in document["warnings"][0]
    assert "gate: inconclusive" in capsys.readouterr().out
