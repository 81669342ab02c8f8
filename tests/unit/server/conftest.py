"""Server tests run on SQLite and, marked ``postgres``, on a throwaway PostgreSQL database."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'spine.db'}"
    base: str = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(base.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return base.rsplit("/", 1)[0] + "/" + name
