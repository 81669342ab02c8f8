"""Schema migrations with Alembic, run programmatically (no ``alembic.ini`` or ``env.py``).

``harness serve`` upgrades the schema once in the parent process before it starts workers, so
that several workers never race to create the same tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from harness.server.store.engine import Store
from harness.server.store.schema import metadata

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
HEAD_REVISION = "0004"


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


async def upgrade(store: Store) -> None:
    """Bring the schema up to the newest revision (idempotent)."""
    async with store.engine.begin() as conn:
        await conn.run_sync(_upgrade_sync)


async def current_revision(store: Store) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with store.engine.connect() as conn:
        return await conn.run_sync(read)
