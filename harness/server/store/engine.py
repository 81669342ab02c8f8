"""The :class:`Store`: an async engine plus the storage-stall gate used by fault injection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from harness.errors import HarnessError
from harness.server.store.schema import metadata

SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers from other workers wait this long for the lock
POSTGRES_POOL_SIZE = 10  # connections per worker process


class StoreUnavailable(HarnessError):
    """The database cannot be reached or is stalled beyond the request's patience."""


class Store:
    """Async access to the database; every transaction first passes the stall gate.

    Args:
        engine: the async engine.
        stall_until: a callable giving the epoch time until which storage is stalled
            (fault injection); transactions wait until then.
        clock: the time source matching ``stall_until``.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        stall_until: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], float],
    ) -> None:
        self.engine = engine
        self._stall_until = stall_until
        self._clock = clock
        self.is_sqlite = engine.dialect.name == "sqlite"

    async def _gate(self) -> None:
        # A stalled store blocks like a real one does: callers wait, they are not refused.
        while (remaining := self._stall_until() - self._clock()) > 0:
            await asyncio.sleep(min(remaining, 0.05))

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed on success and rolled back on error."""
        await self._gate()
        try:
            async with self.engine.begin() as conn:
                yield conn
        except (OperationalError, DBAPIError) as exc:
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                raise StoreUnavailable(f"storage unavailable: {exc.orig}") from exc
            raise

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (autocommit semantics are not assumed)."""
        await self._gate()
        try:
            async with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreUnavailable(f"storage unavailable: {exc.orig}") from exc

    async def ping(self) -> bool:
        """Whether a trivial query succeeds (readiness)."""
        from sqlalchemy import text

        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, OSError):
            return False
        return True

    async def wipe(self) -> None:
        """Delete every row of every table (test-mode reset)."""
        async with self.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(delete(table))

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across process crashes in WAL mode (only power loss can drop commits).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def create_store(
    url: str,
    *,
    clock: Callable[[], float],
    stall_until: Callable[[], float] = lambda: 0.0,
) -> Store:
    """Create a :class:`Store` for a SQLAlchemy async URL (SQLite folders are created)."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_size"] = POSTGRES_POOL_SIZE
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return Store(engine, stall_until=stall_until, clock=clock)
