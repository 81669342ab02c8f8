"""Bad input is refused up front, in one line, with exit 2; failed commands leave no folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli.arguments import check_faults_fit, duration_s, unused_sections
from harness.cli.main import run
from harness.cli.output import ExitCode
from harness.config import load_scenario
from harness.errors import ConfigurationError
from harness.reports import create_results_dir
from tests.conftest import SCENARIOS_DIR, run_harness

DC_FAILOVER = SCENARIOS_DIR / "dc-failover.yaml"  # loses dc-a at 60 s of wall time


@pytest.mark.parametrize("value", ["0", "0s", "-5s", "soon"])
def test_a_duration_that_is_not_positive_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="--duration"):
        duration_s(value)


def test_a_positive_duration_is_seconds() -> None:
    assert duration_s("1m30s") == 90.0
    assert duration_s(None) is None


def test_a_run_that_ends_before_a_fault_is_refused() -> None:
    scenario = load_scenario(DC_FAILOVER)
    wall = scenario.traffic.time_scale  # profile seconds per wall second
    with pytest.raises(ConfigurationError, match=r"faults\[0\] \(lose-data-centre\) starts at 60"):
        check_faults_fit(scenario, 30 * wall)
    check_faults_fit(scenario, 61 * wall)
    check_faults_fit(scenario, None)


def test_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ConfigurationError, match="is a file"):
        create_results_dir("x", parent=tmp_path, output=target)


def test_output_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("already here")
    with pytest.raises(ConfigurationError, match="is not empty"):
        create_results_dir("x", parent=tmp_path, output=tmp_path)


def test_output_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="cannot be written"):
        create_results_dir("x", parent=tmp_path, output=tmp_path / "file" / "out")


def test_an_unusable_reports_directory_names_its_setting(tmp_path: Path) -> None:
    (tmp_path / "reports").write_text("x")
    with pytest.raises(ConfigurationError, match="HARNESS_REPORTS_DIR"):
        create_results_dir("x", parent=tmp_path / "reports")
    with pytest.raises(ConfigurationError, match=r"HARNESS_REPORTS_DIR.*cannot be written"):
        create_results_dir("x", parent=tmp_path / "reports" / "below")


def test_an_empty_results_directory_is_discarded_and_a_used_one_kept(tmp_path: Path) -> None:
    empty = create_results_dir("x", parent=tmp_path)
    (empty.path / "figures").mkdir()
    assert empty.discard_if_empty()
    assert not empty.path.exists()
    used = create_results_dir("y", parent=tmp_path)
    (used.path / "results.json").write_text("{}")
    assert not used.discard_if_empty()
    assert used.path.exists()
    given = tmp_path / "given"
    given.mkdir()  # an empty --output the user made is emptied, not removed
    assert create_results_dir("z", parent=tmp_path, output=given).discard_if_empty()
    assert given.is_dir()


def test_profile_refuses_an_output_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out"
    target.write_text("x")
    assert run(["profile", "--days", "1", "--output", str(target)]) == ExitCode.USAGE
    captured = capsys.readouterr()
    assert captured.err.strip().count("\n") == 0
    assert "is a file" in captured.err
    assert captured.out == ""  # refused before the summary is printed


def test_a_failed_simulation_leaves_no_results_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.simulation

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ConfigurationError("broken on purpose")

    reports = tmp_path / "reports"
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(reports))
    monkeypatch.setattr(harness.simulation, "run_replications", broken)
    assert run(["simulate", str(SCENARIOS_DIR / "ci-smoke.yaml"), "-n", "1"]) == ExitCode.USAGE
    assert list(reports.iterdir()) == []


def test_simulate_with_an_unusable_reports_directory_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "reports").write_text("x")
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))
    assert run(["simulate", str(SCENARIOS_DIR / "ci-smoke.yaml"), "-n", "1"]) == ExitCode.USAGE
    assert "HARNESS_REPORTS_DIR" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "scenarios/ci-smoke.yaml", "--duration", "0"], "--duration must be more"),
        (["run", str(DC_FAILOVER), "--duration", "30s"], "starts at 60 s"),
        (["load", "scenarios/ci-smoke.yaml", "--output", "README.md"], "is a file"),
    ],
)
def test_load_and_run_refuse_bad_input_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))
    result = run_harness(*args, timeout=60)
    assert result.returncode == ExitCode.USAGE, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "reports").exists()


def test_each_command_names_the_sections_it_does_not_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = load_scenario(SCENARIOS_DIR / "supplier-outage.yaml")
    assert unused_sections(scenario, "simulate") == ["load", "calibration"]
    assert unused_sections(scenario, "load") == ["faults", "calibration"]
    assert unused_sections(scenario, "run") == []
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))
    args = ["simulate", str(SCENARIOS_DIR / "ci-smoke.yaml"), "-n", "1", "--no-verdict"]
    assert run([*args, "--output", str(tmp_path / "out")]) == ExitCode.PASS
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if "does not use" in line]
    assert warnings == [
        "warning: simulate does not use these sections of ci-smoke: load, calibration (see "
        "docs/reference/scenario-files.md: which command reads which)"
    ]
    # simulate reads faults: it names each one it cannot place (wall-clock ``at``).
    ignored = [line for line in err if " ignores faults[" in line]
    assert ignored == [
        "warning: simulate ignores faults[0] (kill-worker at 60s): at is wall time of a load; "
        "give at_time (profile time) to place it in the simulated window"
    ]


def test_run_places_at_time_faults_on_the_load_clock_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``at_time`` 08:01 in a window from 08:00 is 60 s of wall time: a 30-s run is refused
    (so the conversion happened before the check), and the fault outside the window is named."""
    import yaml

    data = yaml.safe_load((SCENARIOS_DIR / "ci-smoke.yaml").read_text(encoding="utf-8"))
    data["faults"] = [
        {"kind": "stall-storage", "at_time": "2014-09-01T08:01", "duration": 5},
        {"kind": "stall-storage", "at_time": "2014-10-01T08:00", "duration": 5},
    ]
    data.pop("calibration", None)  # relative to the scenario file; not needed to refuse
    path = tmp_path / "ci-smoke.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))
    result = run_harness("run", str(path), "--duration", "30s", timeout=60)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "faults[0] (stall-storage) starts at 60 s" in result.stderr
    assert "warning: run ignores faults[1] (stall-storage at_time 2014-10-01T08:00)" in (
        result.stderr
    )


def test_the_months_of_run_carry_random_failures_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run --months`` simulates the scenario without its scripted faults, and says so."""
    import harness.simulation.runner as runner
    from harness.run import orchestrate

    seen: list[object] = []

    def fake(scenario: object, months: int, seed: int) -> object:
        seen.append(scenario)
        raise RuntimeError("stop here")

    monkeypatch.setattr(runner, "run_replications", fake)
    scenario = load_scenario(DC_FAILOVER)
    assert scenario.faults
    with pytest.raises(RuntimeError, match="stop here"):
        orchestrate._months(scenario, 2)
    assert seen[0].faults == []  # type: ignore[attr-defined]
