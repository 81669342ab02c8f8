"""The command line: exit codes, messages and results directories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.main import run
from harness.cli.output import ExitCode
from tests.conftest import PROJECT_ROOT, SCENARIOS_DIR


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == ExitCode.PASS
    assert capsys.readouterr().out.startswith("harness ")


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["explode"]) == ExitCode.USAGE
    assert "No such command" in capsys.readouterr().err


def test_validate_good_files(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in sorted(SCENARIOS_DIR.glob("*.yaml"))]
    assert run(["scenarios", "validate", *files]) == ExitCode.PASS
    out = capsys.readouterr().out
    assert out.count("ok ") == len(files)


def test_validate_reports_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nseed: -1\ntraffic:\n  scale: huge\n  warp: 9\n")
    good = SCENARIOS_DIR / "ci-smoke.yaml"
    assert run(["scenarios", "validate", str(bad), str(good)]) == ExitCode.USAGE
    captured = capsys.readouterr()
    assert f"{bad}:2:1: seed:" in captured.err
    assert f"{bad}:4:3: traffic.scale: invalid traffic scale 'huge'" in captured.err
    assert f"{bad}:5:3: traffic.warp: unknown key" in captured.err
    assert "3 problems" in captured.err
    # The good file is still checked and reported after the bad one.
    assert f"ok {good}" in captured.out


def test_validate_with_no_files_in_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_SCENARIOS_DIR", str(tmp_path))
    assert run(["scenarios", "validate"]) == ExitCode.USAGE
    assert "no scenario files" in capsys.readouterr().err


def test_list_shows_names_and_validity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.yaml").write_text("name: good\ndescription: fine\n")
    (tmp_path / "bad.yaml").write_text("name: bad\nextra: 1\n")
    assert run(["scenarios", "list", "--dir", str(tmp_path)]) == ExitCode.PASS
    out = capsys.readouterr().out
    assert "good" in out
    assert "yes" in out
    assert "no (1 problems)" in out


def test_schema_prints_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(["scenarios", "schema"]) == ExitCode.PASS
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert "traffic" in schema["properties"]
    target = tmp_path / "schema.json"
    assert run(["scenarios", "schema", "--output", str(target)]) == ExitCode.PASS
    assert json.loads(target.read_text()) == schema


def test_profile_writes_results_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "results"
    plot = tmp_path / "week.png"
    code = run(["profile", "--days", "7", "--output", str(out_dir), "--plot", str(plot)])
    assert code == ExitCode.PASS
    printed = capsys.readouterr().out
    assert "peak minute" in printed
    assert "gp-practice" in printed
    assert "pds" in printed
    assert f"results: {out_dir}" in printed
    results = json.loads((out_dir / "results.json").read_text())
    assert results["schema_version"] == "1.0"
    assert results["command"] == "profile"
    assert results["environment"]["python"]
    profile = results["profile"]
    # A week starting Monday 1 Sep 2014 carries about a quarter of the 400 M month.
    assert 85e6 < profile["messages"] < 115e6
    assert 1_350 < profile["peak_minute_per_s"] < 1_650
    assert sum(profile["by_service"].values()) == pytest.approx(profile["messages"])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out_dir / "figures" / "profile-week.png").stat().st_size > 10_000


def test_profile_refuses_a_non_empty_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("already here")
    assert run(["profile", "--days", "1", "--output", str(tmp_path)]) == ExitCode.USAGE
    assert "is not empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "abc"], "invalid traffic scale 'abc'"),
        (["--scale", "-2"], "invalid traffic scale"),
        (["--start", "not-a-date"], "not an ISO 8601 date"),
        (["--days", "0"], "Invalid value for '--days'"),
    ],
)
def test_profile_bad_arguments_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profile", *args, "--output", str(tmp_path / "out")]) == ExitCode.USAGE
    assert message in capsys.readouterr().err


def test_console_script_and_module_entry_points() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "scenarios", "validate"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ok scenarios/ci-smoke.yaml" in result.stdout
