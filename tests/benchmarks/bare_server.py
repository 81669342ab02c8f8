"""Serve the bare app exactly as ``harness serve`` serves ours (same socket, same supervisor)."""

from __future__ import annotations

import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from harness.cli.serve import _listen

if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    config = uvicorn.Config("tests.benchmarks.bare_app:app", workers=workers, log_level="warning")
    sock = _listen("127.0.0.1", port)
    Multiprocess(config, sockets=[sock]).run()
