"""Schema migrations with Alembic, run programmatically (no ``alembic.ini`` or ``env.py``).

``harness serve`` upgrades the schema once in the parent process before it starts workers, so
that the workers of one replica never race. Replicas started together against one database
would (measured: of four upgrades of a fresh database started at once, three failed with
"table alembic_version already exists" on SQLite and a duplicate ``pg_type`` key on
PostgreSQL), so the whole upgrade runs in one transaction that first takes a lock:

- **PostgreSQL:** ``pg_advisory_xact_lock`` on :data:`MIGRATION_LOCK_KEY`, held by the
  migration's own transaction (released at commit or rollback, or when its connection dies).
  The next upgrader then reads the committed ``alembic_version`` and has nothing left to do.
- **SQLite:** ``BEGIN IMMEDIATE`` takes the database's write lock before Alembic reads the
  version. Python's sqlite3 module would otherwise run the DDL outside any transaction (it
  opens one only before DML), so the upgrade uses its own engine that emits the ``BEGIN``
  itself; other upgraders wait on the busy timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from harness.server.store.engine import SQLITE_BUSY_TIMEOUT_MS, Store, _sqlite_pragmas
from harness.server.store.schema import metadata

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
HEAD_REVISION = "0005"
MIGRATION_LOCK_KEY = 0x6861726E65737331  # "harness1": a fixed 64-bit advisory lock key


def _script() -> tuple[Config, ScriptDirectory]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config, ScriptDirectory.from_config(config)


def _upgrade_sync(connection: Connection) -> None:
    config, script = _script()

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs("head", revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev="head") as env:
        env.configure(connection=connection, target_metadata=metadata)
        with env.begin_transaction():
            env.run_migrations()


def _sqlite_begin_immediate(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    # No implicit transactions from the driver: the "begin" listener below opens them.
    dbapi_connection.isolation_level = None


async def _upgrade_sqlite(store: Store) -> None:
    engine = create_async_engine(
        store.engine.url,
        poolclass=NullPool,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine.sync_engine, "connect", _sqlite_begin_immediate)
    event.listen(engine.sync_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_sync)
    finally:
        await engine.dispose()


async def upgrade(store: Store) -> None:
    """Bring the schema up to the newest revision (idempotent; safe to run concurrently)."""
    if store.engine.dialect.name == "sqlite":
        await _upgrade_sqlite(store)
        return
    async with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        await conn.run_sync(_upgrade_sync)


async def current_revision(store: Store) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with store.engine.connect() as conn:
        return await conn.run_sync(read)
