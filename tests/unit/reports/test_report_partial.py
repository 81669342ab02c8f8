"""A run cut off while writing ``windows.jsonl`` is a partial run, not an unusable directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.cli.main import run
from harness.cli.output import ExitCode
from harness.reports.render import write_report
from harness.verdict import Verdict
from tests.synthetic import Shape, write_run

TWO_SERVICES = {"pds.retrieve": 0.5, "eps.create": 0.5}


def test_a_truncated_last_window_line_makes_a_partial_report(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    run_dir = write_run(tmp_path / "run", rng, Shape(duration_s=45, mix=TWO_SERVICES))
    windows = run_dir / "load" / "windows.jsonl"
    text = windows.read_text(encoding="utf-8")
    windows.write_text(text[: len(text) - 40], encoding="utf-8")  # cut the last record short
    data = write_report(run_dir)
    assert data.run.partial
    assert data.verdict is Verdict.INVALID
    assert any("cut off" in problem for problem in data.run.problems)
    assert "PARTIAL" in (run_dir / "report.html").read_text(encoding="utf-8")
    assert run(["report", str(run_dir)]) == ExitCode.INVALID_RUN


def test_a_bad_line_before_the_last_is_still_refused(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    run_dir = write_run(tmp_path / "run", rng, Shape(duration_s=10, mix=TWO_SERVICES))
    windows = run_dir / "load" / "windows.jsonl"
    windows.write_text("{not a window}\n" + windows.read_text(encoding="utf-8"), encoding="utf-8")
    assert run(["report", str(run_dir)]) == ExitCode.USAGE
