"""SIGINT and SIGTERM on ``harness load`` 10 s into the window: a partial report, 130 or 143.

Ctrl-C sends SIGINT; CI cancellation and ``timeout`` send SIGTERM. Either must stop the load
within 2 s, stop the server it started, write what was measured marked partial (banner
PARTIAL, never PASS) and exit 128 + the signal's number.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.signals import interrupt

pytestmark = pytest.mark.integration
STOP_S = 2.0  # the load must stop sending within this after the signal


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ten_seconds_in_writes_a_partial_report(
    tmp_path: Path, signum: int, code: int
) -> None:
    out = tmp_path / "out"
    done = interrupt(
        ["load", "scenarios/ci-smoke.yaml", "--output", str(out)],
        ready=lambda line: line.startswith("load: schedule starts"),
        signum=signum,
        delay_s=10,
        ready_within_s=180,
        env={"HARNESS_REPORTS_DIR": str(tmp_path)},
    )
    assert done.returncode == code, done.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["load"]["partial"] is True
    assert document["load"]["generator"]["sent"] > 0
    assert document["slo"]["verdict"] != "pass"
    assert "PARTIAL" in (out / "report.html").read_text(encoding="utf-8")
    text = (out / "load" / "windows.jsonl").read_text(encoding="utf-8")
    windows = [json.loads(line) for line in text.splitlines() if line]
    last_sent_s = max(w["t"] for w in windows if w.get("sent"))
    assert last_sent_s <= done.signalled_s + STOP_S, "requests were still sent after the signal"
    assert not done.survivors(), f"left running: {done.survivors()}"
