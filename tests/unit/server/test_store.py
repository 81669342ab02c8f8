"""Storage: migrations build exactly the schema the code uses, idempotently."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection

from harness.server.store import HEAD_REVISION, create_store, current_revision, upgrade
from harness.server.store.engine import StoreUnavailable
from harness.server.store.schema import admin_state, metadata
from tests.conftest import PROJECT_ROOT, fresh_postgres_database


def test_migrations_match_the_schema_and_are_idempotent(database_url: str) -> None:
    async def run() -> tuple[str | None, list[object]]:
        store = create_store(database_url, clock=time.time)
        try:
            assert await current_revision(store) is None
            await upgrade(store)
            await upgrade(store)  # a second run (another worker, a restart) changes nothing

            def diff(connection: Connection) -> list[object]:
                return list(compare_metadata(MigrationContext.configure(connection), metadata))

            async with store.engine.connect() as conn:
                differences = await conn.run_sync(diff)
            return await current_revision(store), differences
        finally:
            await store.close()

    revision, differences = asyncio.run(run())
    assert revision == HEAD_REVISION
    assert differences == []


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    async def run() -> str:
        store = create_store(f"sqlite+aiosqlite:///{tmp_path}/wal.db", clock=time.time)
        try:
            async with store.engine.connect() as conn:
                return str((await conn.execute(text("PRAGMA journal_mode"))).scalar_one())
        finally:
            await store.close()

    assert asyncio.run(run()).lower() == "wal"


UPGRADER = """
import asyncio, sys, time
from harness.server.store import create_store, upgrade
from harness.server.store.migrate import _script

_script()  # load Alembic and the revisions before the start line, so all start together

async def main() -> None:
    store = create_store(sys.argv[1], clock=time.time)
    try:
        time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
        await upgrade(store)
    finally:
        await store.close()

asyncio.run(main())
"""


def test_concurrent_upgrades_of_one_fresh_database_all_succeed(database_url: str) -> None:
    """Replicas started together all migrate: one upgrades under the lock, the others find head.

    Processes, not threads: Alembic's ``op`` and ``context`` are process-wide proxies.
    """
    start_at = time.time() + 3.0
    upgraders = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADER, database_url, str(start_at)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0].decode(errors="replace") for p in upgraders]
    assert [p.returncode for p in upgraders] == [0] * 4, "\n".join(outputs)

    async def check() -> tuple[str | None, list[object], int]:
        store = create_store(database_url, clock=time.time)
        try:

            def diff(connection: Connection) -> list[object]:
                return list(compare_metadata(MigrationContext.configure(connection), metadata))

            async with store.engine.connect() as conn:
                differences = await conn.run_sync(diff)
                versions = (
                    await conn.execute(text("SELECT count(*) FROM alembic_version"))
                ).scalar_one()
            return await current_revision(store), differences, int(versions)
        finally:
            await store.close()

    revision, differences, versions = asyncio.run(check())
    assert revision == HEAD_REVISION
    assert differences == []
    assert versions == 1


@pytest.mark.postgres
def test_a_connection_killed_under_the_pool_costs_one_503_then_recovers(postgres_url: str) -> None:
    # The pool does not ping on checkout; a dead connection must surface as StoreUnavailable
    # (a 503 with Retry-After), never as an unhandled error, and the next request must work.
    url = fresh_postgres_database(postgres_url, prefix="kill")

    async def kill_backends() -> int:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            killed = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return len(killed)
        finally:
            await conn.close()

    async def run() -> list[str]:
        store = create_store(url, clock=time.time)
        seen = []
        try:
            for opener in (store.connect, store.begin):
                async with opener() as conn:  # a pooled connection, then back to the pool
                    await conn.execute(text("SELECT 1"))
                assert await kill_backends() >= 1
                with pytest.raises(StoreUnavailable):
                    async with opener() as conn:
                        await conn.execute(text("SELECT 1"))
                async with opener() as conn:
                    seen.append(str((await conn.execute(text("SELECT 'ok'"))).scalar_one()))
        finally:
            await store.close()
        return seen

    assert asyncio.run(run()) == ["ok", "ok"]


@pytest.mark.postgres
def test_reads_on_postgresql_run_without_begin_and_rollback(postgres_url: str) -> None:
    # In autocommit every statement is its own transaction, so its transaction start time
    # (now()) is about its own start time; inside BEGIN ... it is the BEGIN's, 20 ms earlier.
    url = fresh_postgres_database(postgres_url, prefix="read")

    async def run() -> tuple[float, float]:
        store = create_store(url, clock=time.time)
        check = text("SELECT extract(epoch FROM statement_timestamp() - now())")
        try:
            async with store.connect() as conn:
                await conn.execute(text("SELECT 1"))
                await asyncio.sleep(0.02)
                read = float((await conn.execute(check)).scalar_one())
            async with store.begin() as conn:
                await conn.execute(text("SELECT 1"))
                await asyncio.sleep(0.02)
                written = float((await conn.execute(check)).scalar_one())
        finally:
            await store.close()
        return read, written

    read_s, written_s = asyncio.run(run())
    assert read_s < 0.01
    assert written_s >= 0.02


def test_wal_switch_retries_a_locked_new_file_and_raises_other_errors() -> None:
    """SQLite can refuse the WAL switch at once while another process holds a lock on a new
    file; the switch is retried (CI saw one of four simultaneous migrations fail without)."""
    import sqlite3

    from harness.server.store.engine import _switch_to_wal

    class Cursor:
        def __init__(self, errors: list[str]) -> None:
            self.errors, self.calls = errors, 0

        def execute(self, sql: str) -> None:
            self.calls += 1
            if self.errors:
                raise sqlite3.OperationalError(self.errors.pop(0))

    locked = Cursor(["database is locked", "database is locked"])
    _switch_to_wal(locked)
    assert locked.calls == 3
    broken = Cursor(["disk I/O error"])
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _switch_to_wal(broken)
    assert broken.calls == 1


def test_sqlite_on_loop_connections_are_kept_see_commits_and_refuse_writes_in_reads(
    tmp_path: object,
) -> None:
    """The on-loop path keeps one reader and one writer connection (no pool checkout per
    block); the reader sees what the writer committed, a failed transaction leaves the writer
    usable, and a write slipped into a read block is refused, not left holding the lock."""

    class AbortError(Exception):
        pass

    async def run() -> None:
        store = create_store(f"sqlite+aiosqlite:///{tmp_path}/kept.db", clock=time.time)
        count = select(func.count()).select_from(admin_state)

        async def write(key: str, *, abort: bool = False) -> object:
            async with store.begin() as conn:
                await conn.execute(insert(admin_state).values(key=key, value="{}", version=1))
                if abort:
                    raise AbortError
                return conn._conn  # type: ignore[attr-defined]

        async def write_in_read(key: str) -> None:
            async with store.connect() as conn:
                await conn.execute(insert(admin_state).values(key=key, value="{}", version=1))

        async def read_count() -> tuple[int, object]:
            async with store.connect() as conn:
                return (await conn.execute(count)).scalar_one(), conn._conn  # type: ignore[attr-defined]

        try:
            await upgrade(store)
            assert (await read_count())[0] == 0
            writer = await write("a")
            rows, reader = await read_count()
            assert rows == 1  # the reader sees the writer's commit
            with pytest.raises(AbortError):
                await write("b", abort=True)
            assert await write("c") is writer  # the same connection, usable after a rollback
            assert await read_count() == (2, reader)  # "b" was rolled back; the same reader
            with pytest.raises(RuntimeError, match=r"store\.begin"):
                await write_in_read("d")
            await write("e")  # SQLite's write lock is free: the stray write was rolled back
            async with store.connect() as conn:
                keys = (await conn.execute(select(admin_state.c.key))).scalars().all()
            assert sorted(keys) == ["a", "c", "e"]
        finally:
            await store.close()

    asyncio.run(run())
