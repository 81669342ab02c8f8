"""A ``python -m harness`` child that a test interrupts the way a user or CI would.

The signal tests of ``load`` and ``simulate`` share this: start the command, read its output as
it comes, wait for a line that says it reached the stage to interrupt, send SIGINT or SIGTERM,
and collect the exit code, the output and the children that were alive before the signal (none
may outlive the command).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.conftest import PROJECT_ROOT


@dataclass
class Interrupted:
    """What an interrupted command left: exit code, output, when it was signalled."""

    returncode: int
    output: str
    signalled_s: float  # epoch seconds
    children: list[psutil.Process] = field(default_factory=list)

    def survivors(self) -> list[list[str]]:
        """Command lines of children still running (zombies excepted)."""
        return [
            c.cmdline()
            for c in self.children
            if c.is_running() and c.status() != psutil.STATUS_ZOMBIE
        ]


def interrupt(
    args: list[str],
    *,
    ready: Callable[[str], bool],
    signum: int,
    delay_s: float = 0.0,
    ready_within_s: float = 240,
    env: dict[str, str] | None = None,
    cwd: Path = PROJECT_ROOT,
) -> Interrupted:
    """Run ``harness ARGS``; once a line satisfies ``ready`` (and ``delay_s`` later), signal it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + ready_within_s
        while not any(ready(line) for line in list(lines)):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "never ready:\n" + "".join(lines)
            time.sleep(0.1)
        children = psutil.Process(process.pid).children(recursive=True)
        time.sleep(delay_s)
        signalled_s = time.time()
        process.send_signal(signum)
        process.wait(timeout=120)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    return Interrupted(process.returncode, "".join(lines), signalled_s, children)
