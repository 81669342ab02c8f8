"""The flush loop of the stores that write in batches off the hot path (audit, idempotency)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def flush_periodically(
    flush: Callable[[], Awaitable[int]], wake: asyncio.Event, interval_s: float, what: str
) -> None:
    """Call ``flush`` every ``interval_s`` (sooner when ``wake`` is set) until cancelled, then
    once more for what is left. A failed flush is logged and retried on the next round; the
    store keeps what it could not write."""
    try:
        while True:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation
            # that arrives while it handles its own timeout (CPython gh-86296), and this loop
            # then never ended, leaving the lifespan's shutdown waiting for it for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await wake.wait()
            wake.clear()
            try:
                await flush()
            except Exception:
                log.exception("%s flush failed; will retry", what)
    finally:
        with contextlib.suppress(Exception):
            await flush()
