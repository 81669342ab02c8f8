"""Serve a bare app exactly as ``harness serve`` serves ours (same socket, same supervisor).

``python -m tests.benchmarks.bare_server PORT WORKERS [APP]``; APP defaults to the bare FastAPI
app, ``tests.benchmarks.bare_app:asgi`` is the framework-free one.
"""

from __future__ import annotations

import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from harness.cli.serve import _listen

if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    target = sys.argv[3] if len(sys.argv) > 3 else "tests.benchmarks.bare_app:app"
    # The same loop and HTTP parser as harness serve.
    config = uvicorn.Config(
        target, workers=workers, log_level="warning", loop="uvloop", http="httptools"
    )
    sock = _listen("127.0.0.1", port)
    Multiprocess(config, sockets=[sock]).run()
