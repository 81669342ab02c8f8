"""The :class:`Store`: database access for the services, and the storage-stall gate of faults.

Services see one interface — ``async with store.connect()`` for reads, ``async with
store.begin()`` for a transaction, ``await conn.execute(statement)`` inside — on both backends:

- **PostgreSQL** goes through SQLAlchemy's async engine (asyncpg), as you would expect.
  Reads (``connect``) run in autocommit: a read-only block under READ COMMITTED gains no
  consistency from an explicit transaction (every statement takes its own snapshot), and the
  BEGIN and ROLLBACK around it were two extra round trips per read.
- **SQLite** statements run *synchronously on the event loop thread*. The async driver
  (aiosqlite) hands every statement to a helper thread and back, which costs several times the
  statement itself (figures: the benchmarks page of the docs). A local SQLite statement is a
  few hundred microseconds of CPU, which is no worse than any other CPU work a request does on
  the loop. Two rules keep it safe: readers never wait in WAL mode, and a
  worker runs one write transaction at a time (an :class:`asyncio.Lock`), so a transaction
  that awaits something never leaves another one of the same worker blocked on SQLite's lock
  — which would block the loop and with it the transaction holding the lock. A writer can
  still wait for *another worker's* transaction (``busy_timeout``), which is short because
  it, too, runs without yielding. Nested write transactions in one task are refused loudly.
  Every write of a worker must take this path (the fault board's too, ungated): a write
  through the async engine holds SQLite's lock across awaits, and an on-loop writer of the
  same worker waiting for it would block the very loop that has to finish it. The async
  engine is kept for migrations (run before serving) and the readiness ping (a read).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar, TypeVarTuple, cast, overload

from sqlalchemy import Engine, create_engine, delete, event
from sqlalchemy.engine import Connection, CursorResult, Result, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows

from harness.errors import HarnessError
from harness.server.store.schema import metadata

SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers from other workers wait this long for the lock
POSTGRES_POOL_SIZE = 10  # connections per worker process


class StoreUnavailable(HarnessError):
    """The database cannot be reached or is stalled beyond the request's patience."""


_Ts = TypeVarTuple("_Ts")
AnyRow = tuple[Any, ...]
S = TypeVar("S", bound=Executable)

# The execution option by which a statement opts in to direct reads (the fast path's, see
# harness.server.fastpath.sqlite); SQLAlchemy itself ignores it.
DIRECT_READ_OPTION = "harness_direct_read"


def direct_read(statement: S) -> S:
    """``statement`` opted in to the fast path's direct SQLite read (a hot ``SELECT``)."""
    return statement.execution_options(**{DIRECT_READ_OPTION: True})


class DirectReads(Protocol):
    """Runs an opted-in read itself, or returns ``None`` to leave it to SQLAlchemy."""

    def __call__(
        self, conn: Connection, statement: Executable, parameters: Any
    ) -> Result[Any] | None: ...


class StoreConnection(Protocol):
    """What services may do with a connection: execute statements (results are buffered)."""

    @overload
    async def execute(
        self, statement: TypedReturnsRows[*_Ts], parameters: Any = None
    ) -> CursorResult[*_Ts]: ...

    @overload
    async def execute(
        self, statement: Executable, parameters: Any = None
    ) -> CursorResult[*AnyRow]: ...


class _OnLoop:
    """A synchronous SQLite connection behind the async ``execute`` that services call."""

    __slots__ = ("_conn", "_direct")

    def __init__(self, conn: Connection, direct: DirectReads | None) -> None:
        self._conn = conn
        self._direct = direct

    @overload
    async def execute(
        self, statement: TypedReturnsRows[*_Ts], parameters: Any = None
    ) -> CursorResult[*_Ts]: ...

    @overload
    async def execute(
        self, statement: Executable, parameters: Any = None
    ) -> CursorResult[*AnyRow]: ...

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[*AnyRow]:
        if self._direct is not None:
            fast = self._direct(self._conn, statement, parameters)
            if fast is not None:
                # A plain Result, not a CursorResult: only SELECTs take this path, and their
                # callers use Result's API (first, all, scalars, mappings), never rowcount.
                return cast(CursorResult[*AnyRow], fast)
        return self._conn.execute(statement, parameters)


class Store:
    """Async access to the database; every transaction first passes the stall gate.

    Args:
        engine: the async engine.
        stall_until: a callable giving the epoch time until which storage is stalled
            (fault injection); transactions wait until then.
        clock: the time source matching ``stall_until``.
        on_loop: for SQLite, the synchronous engine that services' statements run on.
        direct_reads: for SQLite, the fast path's runner of opted-in reads (``None``: every
            statement through SQLAlchemy).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        stall_until: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], float],
        on_loop: Engine | None = None,
        direct_reads: DirectReads | None = None,
    ) -> None:
        self.engine = engine
        self._direct = direct_reads
        self._stall_until = stall_until
        self._clock = clock
        self.is_sqlite = engine.dialect.name == "sqlite"
        # Same pool; the isolation level is set on checkout and reset on return (no round trip).
        self._reader = (
            engine if self.is_sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._on_loop = on_loop
        self._writer = asyncio.Lock()  # one write transaction per worker on the loop path
        self._writer_task: asyncio.Task[Any] | None = None
        # The on-loop path's two connections, opened on first use and kept (see _held).
        self._held: dict[str, Connection] = {}

    async def _gate(self) -> None:
        # A stalled store blocks like a real one does: callers wait, they are not refused.
        while (remaining := self._stall_until() - self._clock()) > 0:
            await asyncio.sleep(min(remaining, 0.05))

    @asynccontextmanager
    async def begin(self, *, gated: bool = True) -> AsyncIterator[StoreConnection]:
        """A connection in a transaction, committed on success and rolled back on error.

        Args:
            gated: wait out an injected storage stall first (``False`` only for the fault
                board itself, which must stay writable to end the stall).
        """
        if gated:
            await self._gate()
        try:
            if self._on_loop is None:
                async with self.engine.begin() as conn:
                    yield conn
                return
            task = asyncio.current_task()
            if task is not None and task is self._writer_task:
                raise RuntimeError("nested write transaction on the SQLite store (would deadlock)")
            async with self._writer:
                self._writer_task = task
                try:
                    with self._use("writer") as sync_conn, sync_conn.begin():
                        yield _OnLoop(sync_conn, self._direct)
                finally:
                    self._writer_task = None
        except DBAPIError as exc:
            if (unavailable := _unavailable(exc)) is not None:
                raise unavailable from exc
            raise

    @asynccontextmanager
    async def connect(self, *, gated: bool = True) -> AsyncIterator[StoreConnection]:
        """A connection for reads only (autocommit on PostgreSQL, so nothing written through
        it would be rolled back); ``gated`` as in :meth:`begin`."""
        # A read inside this task's own write transaction must not stop at the stall gate: it
        # would sit there holding SQLite's write lock.
        if gated and (self._writer_task is None or asyncio.current_task() is not self._writer_task):
            await self._gate()
        try:
            if self._on_loop is None:
                async with self._reader.connect() as conn:
                    yield conn
            else:
                with self._use("reader") as sync_conn:
                    yield _OnLoop(sync_conn, self._direct)
        except DBAPIError as exc:
            if (unavailable := _unavailable(exc)) is not None:
                raise unavailable from exc
            raise

    @contextmanager
    def _use(self, role: str) -> Iterator[Connection]:
        """The on-loop path's long-lived connection for ``role`` ("reader" or "writer").

        Checking a pooled connection out and back in (with its reset) for every block cost
        more than the statements of a typical request. Two connections suffice because every
        statement runs synchronously on the loop: the writer is used by one transaction at a
        time (the lock above), and readers' statements never overlap, each in SQLite's
        autocommit mode (pysqlite begins transactions only for writes), so each sees the
        latest commit. A connection that fails is dropped and reopened on next use.
        """
        conn = self._held.get(role)
        if conn is None:
            assert self._on_loop is not None
            conn = self._held[role] = self._on_loop.connect()
        failed = False
        try:
            yield conn
        except BaseException:
            failed = True
            raise
        finally:
            if conn.invalidated:  # SQLAlchemy saw the connection die: open a new one next time
                self._drop(role)
            elif role == "writer" and conn.in_transaction():
                self._drop(role)  # a transaction its block failed to end: never reuse that
            elif role == "reader" and conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                # Something wrote through a read block: pysqlite began a transaction that
                # nothing would end, holding SQLite's write lock. Closing rolls it back.
                self._drop(role)
                if not failed:
                    raise RuntimeError("a write through store.connect(); use store.begin()")

    def _drop(self, role: str) -> None:
        if (conn := self._held.pop(role, None)) is not None:
            conn.close()

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
        """Dispose of the engines' connections."""
        for role in list(self._held):
            self._drop(role)
        if self._on_loop is not None:
            self._on_loop.dispose()
        await self.engine.dispose()


def _unavailable(exc: DBAPIError) -> StoreUnavailable | None:
    """:class:`StoreUnavailable` (a 503) when the database is unreachable or the connection
    died under the request; ``None`` for any other database error (a bug, raised as it is)."""
    if exc.connection_invalidated or isinstance(exc, OperationalError):
        return StoreUnavailable(f"storage unavailable: {exc.orig}")
    return None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _switch_to_wal(cursor)
    # NORMAL is durable across process crashes in WAL mode (only power loss can drop commits).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (a property of the file, kept once set).

    On a new file the switch needs an exclusive lock, and while another process starting at
    the same moment holds a lock SQLite can refuse it at once ("database is locked") instead
    of waiting out ``busy_timeout``: CI saw one of four simultaneous migrations fail so.
    Retried, with a short pause, for as long as ``busy_timeout`` would have waited.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def create_store(
    url: str,
    *,
    clock: Callable[[], float],
    stall_until: Callable[[], float] = lambda: 0.0,
    direct_reads: DirectReads | None = None,
) -> Store:
    """Create a :class:`Store` for a SQLAlchemy async URL (SQLite folders are created);
    ``direct_reads`` is used on SQLite only."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_size"] = POSTGRES_POOL_SIZE
        # No pre-ping: on asyncpg it is a transaction begun and rolled back on every checkout,
        # two round trips per request for a failure that is rare. A
        # connection that died with its server fails the one request that finds it (503 with
        # Retry-After, see begin/connect) and SQLAlchemy then discards the whole pool.
    engine = create_async_engine(url, **kwargs)
    on_loop: Engine | None = None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        on_loop = create_engine(parsed.set(drivername="sqlite+pysqlite"), **kwargs)
        event.listen(on_loop, "connect", _sqlite_pragmas)
    return Store(
        engine,
        stall_until=stall_until,
        clock=clock,
        on_loop=on_loop,
        direct_reads=direct_reads if on_loop is not None else None,
    )
