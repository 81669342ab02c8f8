"""Storage: migrations build exactly the schema the code uses, idempotently."""

from __future__ import annotations

import asyncio
import time

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from harness.server.store import HEAD_REVISION, create_store, current_revision, upgrade
from harness.server.store.schema import metadata


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
    from sqlalchemy import text

    async def run() -> str:
        store = create_store(f"sqlite+aiosqlite:///{tmp_path}/wal.db", clock=time.time)
        try:
            async with store.engine.connect() as conn:
                return str((await conn.execute(text("PRAGMA journal_mode"))).scalar_one())
        finally:
            await store.close()

    assert asyncio.run(run()).lower() == "wal"
