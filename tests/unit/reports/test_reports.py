"""SLA compliance reports from synthetic results directories: files, verdicts, exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from harness.cli.main import run
from harness.cli.output import ExitCode
from harness.reports import RESULTS_SCHEMA_VERSION
from harness.reports.render import write_report
from harness.slo.run import READABLE_SCHEMA_VERSIONS, ResultsError
from tests.synthetic import Shape, simulation_section, write_run

TWO_SERVICES = {"pds.retrieve": 0.5, "eps.create": 0.5}


def _junit(path: Path) -> ET.Element:
    root = ET.parse(path / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    return suite


def test_the_schema_this_harness_writes_is_one_it_reads() -> None:
    assert RESULTS_SCHEMA_VERSION in READABLE_SCHEMA_VERSIONS


def test_clean_long_run_passes_and_every_output_is_written(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    # 2 services × 250 req/s × 45 s ≈ 11,250 clean requests each: more than 9,985.
    run_dir = write_run(tmp_path / "run", rng, Shape(duration_s=45, mix=TWO_SERVICES))
    assert run(["report", str(run_dir)]) == ExitCode.PASS
    assert "verdict: pass" in capsys.readouterr().out
    for name in ("report.html", "summary.md", "junit.xml", "figures/traffic.png"):
        assert (run_dir / name).stat().st_size > 0
    results = json.loads((run_dir / "results.json").read_text())
    slo = results["slo"]
    assert results["load"]["generator"]["valid"]  # other sections kept
    assert slo["verdict"] == "pass"
    assert slo["request_based"]["overall"]["judgement"]["verdict"] == "pass"
    assert set(slo["request_based"]["per_service"]) == {"pds", "eps"}
    assert sorted(slo["figures"]) == [
        "figures/budget.png",
        "figures/latency.png",
        "figures/traffic.png",
    ]
    suite = _junit(run_dir)
    assert int(suite.get("tests", "0")) == len(slo["checks"]) == len(suite.findall("testcase"))
    assert suite.findall("testcase/failure") == []
    summary = (run_dir / "summary.md").read_text()
    assert summary.startswith("### ✅")
    assert len(summary.splitlines()) < 40


def test_errors_fail_the_run_and_become_junit_failures(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    shape = Shape(duration_s=30, rate_per_s=200, error_rate=0.01)
    run_dir = write_run(tmp_path / "run", rng, shape)
    assert run(["report", str(run_dir)]) == ExitCode.FAIL
    failures = _junit(run_dir).findall("testcase/failure")
    assert failures
    names = [
        c.get("name") for c in _junit(run_dir).findall("testcase") if c.find("failure") is not None
    ]
    assert "availability ≥ 99.97 % (request-based, overall)" in names
    assert all("lower bound" in (f.text or "") for f in failures)
    assert "❌" in (run_dir / "summary.md").read_text()


def test_a_short_clean_run_is_inconclusive_with_skips(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    run_dir = write_run(tmp_path / "run", rng, Shape(duration_s=10, rate_per_s=100))
    assert run(["report", str(run_dir)]) == ExitCode.INCONCLUSIVE
    skipped = _junit(run_dir).findall("testcase/skipped")
    assert skipped
    assert any("more failure-free requests" in (s.text or "") for s in skipped)


@pytest.mark.parametrize(
    ("kwargs", "message", "banner"),
    [
        ({"partial": True}, "partial run: the load was interrupted", "PARTIAL"),
        ({"windows": False}, "load/windows.jsonl is missing", "PARTIAL"),
        ({"generator_valid": False}, "generator: schedule lag", "INVALID RUN"),
    ],
)
def test_partial_and_invalid_runs_exit_3_never_pass(
    tmp_path: Path,
    rng: np.random.Generator,
    capsys: pytest.CaptureFixture[str],
    kwargs: dict[str, bool],
    message: str,
    banner: str,
) -> None:
    # Clean and long enough to pass if it were valid.
    run_dir = write_run(tmp_path / "run", rng, Shape(duration_s=45, mix=TWO_SERVICES), **kwargs)
    assert run(["report", str(run_dir)]) == ExitCode.INVALID_RUN
    captured = capsys.readouterr()
    assert "verdict: invalid" in captured.out
    suite = _junit(run_dir)
    assert suite.findall("testcase/error")
    assert suite.findall("testcase/failure") == []
    assert message in json.dumps(json.loads((run_dir / "results.json").read_text())["slo"])
    assert banner in (run_dir / "report.html").read_text()


def test_unusable_directories_exit_2_with_a_clear_message(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["report", str(tmp_path / "nowhere")]) == ExitCode.USAGE
    assert "no such results directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run(["report", str(tmp_path / "empty")]) == ExitCode.USAGE
    assert "no results.json" in capsys.readouterr().err
    other = write_run(tmp_path / "other", rng, Shape(duration_s=3), schema_version="2.0")
    assert run(["report", str(other)]) == ExitCode.USAGE
    assert "schema version '2.0', but this harness reads 1.0" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text("{not json")
    with pytest.raises(ResultsError, match="unreadable"):
        write_report(broken)


def test_simulation_and_load_together_show_prediction_beside_measurement(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    simulation = simulation_section(rng, run_dir)
    write_run(run_dir, rng, Shape(duration_s=20, rate_per_s=100), simulation=simulation)
    data = write_report(run_dir)
    assert data.predicted is not None
    assert set(data.predicted["service"]) <= {"pds", "eps", "mesh", "sds", "scr"}
    assert {"breach.png", "predicted.png"} <= set(data.figures)
    html = (run_dir / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 5
    assert 'id="predicted"' in html


def test_a_simulation_only_directory_reports_its_breach_probability(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    run_dir = tmp_path / "sim"
    run_dir.mkdir()
    document = {
        "schema_version": "1.0",
        "command": "simulate",
        "seed": 1,
        "environment": {},
        "simulation": simulation_section(rng, run_dir),
    }
    (run_dir / "results.json").write_text(json.dumps(document))
    # The stored "pass" is not trusted: the interval 1-8 % straddles the default maximum of 5 %.
    assert run(["report", str(run_dir)]) == ExitCode.INCONCLUSIVE
    assert (run_dir / "figures" / "breach.png").exists()
    assert "P(simulated month below" in (run_dir / "junit.xml").read_text()
