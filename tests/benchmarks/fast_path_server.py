"""Serve the reference server as ``harness serve --workers 2`` does, for a CPU measurement.

``python -m tests.benchmarks.fast_path_server PORT``; settings come from ``HARNESS_*``
variables, ``HARNESS_FAST_PATH`` included. Unlike ``harness serve``, a worker slow to answer
the supervisor's health ping on a loaded machine is not restarted mid-measurement.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile

import uvicorn
from uvicorn.supervisors import Multiprocess

from harness.cli.serve import _listen
from harness.config import ServerSettings
from harness.server.limits import MAX_URL_BYTES
from harness.server.store import create_store, upgrade
from harness.server.transport import GuardedHttpToolsProtocol


async def _migrate(url: str) -> None:
    store = create_store(url, clock=lambda: 0.0)
    try:
        await upgrade(store)
    finally:
        await store.close()


if __name__ == "__main__":
    port = int(sys.argv[1])
    settings = ServerSettings()
    asyncio.run(_migrate(settings.resolved_database_url()))
    os.environ["HARNESS_RUN_MIGRATIONS"] = "false"
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-metrics-"))
    config = uvicorn.Config(
        "harness.server.app:app_from_environment",
        factory=True,
        workers=2,
        log_level="warning",
        loop="uvloop",
        http=GuardedHttpToolsProtocol,
        h11_max_incomplete_event_size=settings.max_header_bytes + MAX_URL_BYTES,
        timeout_worker_healthcheck=120,  # a restarted worker's CPU would leave the count
    )
    sock = _listen("127.0.0.1", port)
    Multiprocess(config, sockets=[sock]).run()
