"""SIGINT and SIGTERM on ``harness simulate``: the finished months are kept, marked partial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from tests.conftest import PROJECT_ROOT

from .test_simulate_verdict import SCENARIO


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_keeps_the_finished_months(tmp_path: Path, signum: int, code: int) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    out = tmp_path / "out"
    args = ["simulate", str(path), "-n", "4000", "--workers", "2", "--output", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not any("months done" in line for line in lines):  # plain lines: not a terminal
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "no progress:\n" + "".join(lines)
            time.sleep(0.1)
        children = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signum)
        process.wait(timeout=120)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    output = "".join(lines)
    assert process.returncode == code, output
    simulation = json.loads((out / "results.json").read_text(encoding="utf-8"))["simulation"]
    assert simulation["partial"] is True
    assert 0 < simulation["replications"] < 4000
    assert f"interrupted: {simulation['replications']} of 4000 months finished" in output
    assert "PARTIAL" in (out / "report.html").read_text(encoding="utf-8")
    assert "PASS" not in (out / "summary.md").read_text(encoding="utf-8").splitlines()[0]
    assert "design verdict: PARTIAL" in output  # the terminal never says PASS either
    assert "design verdict: PASS" not in output
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left running: {[c.cmdline() for c in alive]}"
