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
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns normally when the
            # event it waits on was set by the time a cancellation reaches it, so a shutdown
            # that met a wake-up (a full batch) was swallowed and this loop never ended.
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
