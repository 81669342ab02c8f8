"""Server tests run on SQLite and, marked ``postgres``, on a throwaway PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'spine.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))
