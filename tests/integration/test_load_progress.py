"""``harness load`` prints a status line every 5 s of its window, not nothing until the end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.load.progress import LoadProgress
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration
STATUS = re.compile(r"^load: (\d+)/(\d+) s, drawn [\d.]+/s, sent [\d.]+/s, in flight \d+, bad \d+")


def test_a_status_line_every_five_seconds(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "harness", "load", "scenarios/ci-smoke.yaml"]
    process = subprocess.Popen(
        [*command, "--duration", "16s", "--output", str(tmp_path / "out")],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "HARNESS_REPORTS_DIR": str(tmp_path)},
    )
    seen: list[tuple[float, str]] = []
    assert process.stdout is not None
    with process.stdout:
        seen.extend((time.monotonic(), line) for line in process.stdout)
    process.wait(timeout=60)
    start = next(t for t, line in seen if line.startswith("load: schedule starts"))
    statuses = [(t, STATUS.match(line)) for t, line in seen]
    statuses = [(t, m) for t, m in statuses if m is not None]
    output = "".join(line for _, line in seen)
    assert len(statuses) >= 2, output
    first_at, first = statuses[0]
    assert first_at - start < 10.0, "the first status came late"
    assert first.group(2) == "16"
    elapsed = [int(m.group(1)) for _, m in statuses]
    assert elapsed == sorted(elapsed)


def test_the_status_line_reads_as_the_issue_asks() -> None:
    line = LoadProgress(5.2, 120.0, 101.4, 100.8, 7, 1, 12.34).line()
    assert line == (
        "load: 5/120 s, drawn 101.4/s, sent 100.8/s, in flight 7, bad 1, lag p99 12.3 ms"
    )
