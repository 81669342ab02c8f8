"""Serve the reference server as ``harness serve --workers 2`` does, with a chosen HTTP protocol.

``python -m tests.benchmarks.fast_path_server PORT PROTOCOL`` with PROTOCOL ``coalescing`` (the
fast path's one-write transport) or ``guarded`` (uvicorn's httptools protocol with the head
guard only); every other setting comes from ``HARNESS_*`` variables, ``HARNESS_FAST_PATH``
included, so the fast path's in-app parts and its transport can be measured apart.
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
from harness.server.fastpath.transport import CoalescingHttpToolsProtocol
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
    port, protocol = int(sys.argv[1]), sys.argv[2]
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
        http=CoalescingHttpToolsProtocol if protocol == "coalescing" else GuardedHttpToolsProtocol,
        h11_max_incomplete_event_size=settings.max_header_bytes + MAX_URL_BYTES,
        # A worker slow to answer the supervisor's ping on a loaded machine is not restarted
        # mid-measurement (its CPU would leave the count).
        timeout_worker_healthcheck=120,
    )
    sock = _listen("127.0.0.1", port)
    Multiprocess(config, sockets=[sock]).run()
