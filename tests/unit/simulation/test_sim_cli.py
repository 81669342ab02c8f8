"""``harness simulate``: results directory, exit codes, located errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from harness.cli.main import run
from harness.cli.output import ExitCode
from harness.reports.results import results_json_schema

from .conftest import BASE


@pytest.fixture(autouse=True)
def _reports_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs without --output write their results under the test's folder, not the project."""
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))


def _write(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "sim-test.yaml"
    path.write_text(yaml.safe_dump({**BASE, **extra}), encoding="utf-8")
    return path


def test_simulate_writes_the_results_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["simulate", str(_write(tmp_path)), "-n", "3", "--seed", "4", "--workers", "1"]
    assert run([*args, "--output", str(out), "--no-verdict"]) == ExitCode.PASS
    document = json.loads((out / "results.json").read_text())
    assert document["command"] == "simulate"
    assert document["seed"] == 4
    assert document["scenario"]["name"] == "sim-test"
    assert document["simulation"]["replications"] == 3
    assert document["simulation"]["verdict"] == "prediction-only"
    months = pd.read_csv(out / "simulation" / "months.csv")
    orgs = pd.read_csv(out / "simulation" / "organisations.csv")
    assert list(months["replication"]) == [0, 1, 2]
    assert len(orgs) == BASE["organisations"]["count"]
    assert f"results: {out}" in capsys.readouterr().out
    # The reports are written with the results, as by load and run.
    for name in ("report.html", "summary.md", "junit.xml"):
        assert (out / name).exists(), name
    assert "simulated months" in (out / "report.html").read_text(encoding="utf-8")
    jsonschema.validate(json.loads((out / "results.json").read_text()), results_json_schema())


def test_bad_scenario_exits_2_with_locations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path, topology={"failover": {"targets": {"dc-a": ["dc-x"]}}})
    assert run(["simulate", str(bad), "-n", "1"]) == ExitCode.USAGE
    assert f"{bad}:" in capsys.readouterr().err


def test_unknown_executor_is_a_usage_error(tmp_path: Path) -> None:
    assert run(["simulate", str(_write(tmp_path)), "--executor", "slurm"]) == ExitCode.USAGE


def test_sweep_runs_every_value_and_draws_a_tornado(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    failures = [
        {
            "component": "server",
            "time_to_failure": {"distribution": "exponential", "mean": "6h"},
            "time_to_repair": {"distribution": "exponential", "mean": "4h"},
        }
    ]
    path = _write(tmp_path, failures=failures)
    args = ["simulate", str(path), "-n", "2", "--workers", "1", "--output", str(out)]
    sweep = ["--sweep", "topology.pools.pds.servers=3,8", "--sweep", "simulation.timeout=5,60"]
    assert run([*args, *sweep, "--no-verdict"]) == ExitCode.PASS
    section = json.loads((out / "results.json").read_text())["simulation"]["sweep"]
    rows = {(r["key"], r["value"]): r for r in section["rows"]}
    assert set(rows) == {
        ("topology.pools.pds.servers", 3),
        ("topology.pools.pds.servers", 8),
        ("simulation.timeout", 5),
        ("simulation.timeout", 60),
    }
    # Three PDS servers per site cannot carry the peak: more months breach than with eight.
    small = rows[("topology.pools.pds.servers", 3)]["availability_mean"]
    large = rows[("topology.pools.pds.servers", 8)]["availability_mean"]
    assert small < large
    assert (out / "figures" / "tornado.png").stat().st_size > 0
    assert (out / "figures" / "sweep-topology.pools.pds.servers.png").exists()


def test_sweep_value_that_breaks_the_scenario_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", str(_write(tmp_path)), "-n", "1", "--workers", "1"]
    assert run([*args, "--sweep", "topology.pools.pds.servers=0"]) == ExitCode.USAGE
    assert "topology.pools.pds.servers" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists(), "a bad sweep is refused before anything runs"


def test_simulate_applies_at_time_faults_and_names_the_ones_it_ignores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 2 h loss of dc-b on the window's first morning shows in every month and the report;
    the ``at`` fault (wall time of a load) and a supplier outage outside the window do not."""
    faults = [
        {
            "kind": "lose-data-centre",
            "data_centre": "dc-b",
            "at_time": "2014-09-01T08:00",
            "duration": "2h",
        },
        {"kind": "kill-worker", "at": "30s"},
        {
            "kind": "supplier-outage",
            "supplier": "emis",
            "at_time": "2014-10-01T08:00",
            "duration": "1h",
        },
    ]
    out, plain = tmp_path / "out", tmp_path / "plain"
    args = ["simulate", "-n", "2", "--seed", "4", "--workers", "1", "--no-verdict"]
    assert run([*args, str(_write(tmp_path, faults=faults)), "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: simulate ignores faults[1] (kill-worker at 30s)" in err
    assert "warning: simulate ignores faults[2] (supplier-outage at_time 2014-10-01T08:00)" in err
    (tmp_path / "sim-test.yaml").unlink()
    assert run([*args, str(_write(tmp_path)), "--output", str(plain)]) == 0
    document = json.loads((out / "results.json").read_text())
    simulation = document["simulation"]
    assert simulation["scripted_faults"] == [
        "faults[0] (lose-data-centre at_time 2014-09-01T08:00)"
    ]
    baseline = json.loads((plain / "results.json").read_text())["simulation"]
    assert simulation["request_based"]["worst"] < baseline["request_based"]["worst"]
    assert "scripted faults in every month: faults[0]" in (out / "summary.md").read_text()
    jsonschema.validate(document, results_json_schema())


def test_a_supplier_outage_on_an_unused_supplier_is_refused(tmp_path: Path) -> None:
    fault = {
        "kind": "supplier-outage",
        "supplier": "nobody",
        "at_time": "2014-09-01T08:00",
        "duration": "1h",
    }
    path = _write(tmp_path, faults=[fault])
    assert run(["simulate", str(path), "-n", "1", "--output", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
