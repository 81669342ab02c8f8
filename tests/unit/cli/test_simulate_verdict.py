"""``harness simulate`` judges its prediction: exit 0/1/4 and the same verdict in every report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli.main import run
from harness.cli.output import ExitCode
from tests.unit.simulation.conftest import BASE

# The simulation tests' small scenario, under a name of its own.
SCENARIO: dict[str, Any] = {
    **BASE,
    "name": "sim-verdict",
    "description": "small simulation for the verdict tests",
}
# Two PDS servers cannot carry the peak: every simulated month breaches 99.97 %.
UNDERSIZED = {"pds": {"servers": 2, "service_time_ms": 12}}


@pytest.fixture(autouse=True)
def _reports_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))


def _scenario(tmp_path: Path, *, undersized: bool = False) -> Path:
    data = json.loads(json.dumps(SCENARIO))
    if undersized:
        data["topology"]["pools"].update(UNDERSIZED)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _simulate(scenario: Path, out: Path, months: int, *extra: str) -> int:
    args = ["simulate", str(scenario), "-n", str(months), "--workers", "1"]
    return run([*args, "--output", str(out), *extra])


def _junit(out: Path) -> tuple[dict[str, str], ET.Element]:
    root = ET.parse(out / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    properties = {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}
    return properties, suite


def test_months_that_all_breach_fail_in_the_exit_code_and_every_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _simulate(_scenario(tmp_path, undersized=True), out, 4) == ExitCode.FAIL
    terminal = capsys.readouterr().out
    assert "design verdict: FAIL" in terminal
    html = (out / "report.html").read_text(encoding="utf-8")
    summary = (out / "summary.md").read_text(encoding="utf-8")
    properties, suite = _junit(out)
    assert 'class="verdict fail"' in html
    assert "FAIL" in summary.splitlines()[0]
    assert properties["verdict"] == "fail"
    assert suite.get("failures") == "2"  # request-based and time-based
    system_out = suite.findtext("system-out") or ""
    assert "design verdict: FAIL" in system_out
    document = json.loads((out / "results.json").read_text())
    assert document["simulation"]["verdict"] == "fail"
    assert document["simulation"]["judgement"]["measures"][1]["measure"] == "time-based"
    # What the terminal shows, the reports show: the time-based measure, P(year), budget by
    # cause, alert replay and per service.
    for text in ("time-based", "P(year)", "error budget burned", "burn-rate alerts", "pds"):
        assert text in terminal, text
        for name, content in (("html", html), ("md", summary), ("junit", system_out)):
            if name == "junit" and text == "pds":
                continue  # per-service rows are in the HTML and Markdown tables
            assert text in content, (name, text)
    # The simulation's own definitions, not the load test's.
    assert 'id="simulation-definitions"' in html
    assert "Clopper" not in html


def test_no_verdict_reports_a_prediction_only_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    scenario = _scenario(tmp_path, undersized=True)
    assert _simulate(scenario, out, 4, "--no-verdict") == ExitCode.PASS
    assert "prediction only" in capsys.readouterr().out
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "PREDICTION ONLY" in html
    assert "PASS" not in html
    assert "PREDICTION ONLY" in (out / "summary.md").read_text(encoding="utf-8")
    properties, suite = _junit(out)
    assert properties["verdict"] == "prediction-only"
    assert suite.get("failures") == "0"
    assert json.loads((out / "results.json").read_text())["simulation"]["verdict"] == (
        "prediction-only"
    )
    # harness report re-renders the same directory with the same answer.
    assert run(["report", str(out)]) == ExitCode.PASS
    assert "verdict: prediction only" in capsys.readouterr().out
    assert "PREDICTION ONLY" in (out / "report.html").read_text(encoding="utf-8")


def test_too_few_clean_months_are_inconclusive_with_the_months_that_would_decide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _simulate(_scenario(tmp_path), out, 4) == ExitCode.INCONCLUSIVE
    terminal = capsys.readouterr().out
    judgement = json.loads((out / "results.json").read_text())["simulation"]["judgement"]
    assert judgement["verdict"] == "inconclusive"
    # No breach in n months: the Wilson upper bound z²/(n+z²) is at most 5 % from n = 73.
    assert judgement["months_needed"] == 73
    assert "about 73 months would decide it" in terminal
    assert "INCONCLUSIVE" in (out / "summary.md").read_text(encoding="utf-8").splitlines()[0]


def test_enough_clean_months_pass(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _simulate(_scenario(tmp_path), out, 73) == ExitCode.PASS
    assert 'class="verdict pass"' in (out / "report.html").read_text(encoding="utf-8")
