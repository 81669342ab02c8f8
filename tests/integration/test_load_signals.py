"""SIGINT and SIGTERM on ``harness load`` 10 s into the window: a partial report, 130 or 143.

Ctrl-C sends SIGINT; CI cancellation and ``timeout`` send SIGTERM. Either must stop the load
within 2 s, stop the server it started, write what was measured marked partial (banner
PARTIAL, never PASS) and exit 128 + the signal's number.
"""

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

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration
STOP_S = 2.0  # the load must stop sending within this after the signal


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ten_seconds_in_writes_a_partial_report(
    tmp_path: Path, signum: int, code: int
) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "load", "scenarios/ci-smoke.yaml", "--output", str(out)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "HARNESS_REPORTS_DIR": str(tmp_path)},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while not any(line.startswith("load: schedule starts") for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the load never started:\n" + "".join(lines)
            time.sleep(0.2)
        children = psutil.Process(process.pid).children(recursive=True)
        time.sleep(10)
        signalled_s = time.time()
        process.send_signal(signum)
        process.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    output = "".join(lines)
    assert process.returncode == code, output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["load"]["partial"] is True
    assert document["load"]["generator"]["sent"] > 0
    assert document["slo"]["verdict"] != "pass"
    assert "PARTIAL" in (out / "report.html").read_text(encoding="utf-8")
    text = (out / "load" / "windows.jsonl").read_text(encoding="utf-8")
    windows = [json.loads(line) for line in text.splitlines() if line]
    last_sent_s = max(w["t"] for w in windows if w.get("sent"))
    assert last_sent_s <= signalled_s + STOP_S, "requests were still sent after the signal"
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left running: {[c.cmdline() for c in alive]}"
