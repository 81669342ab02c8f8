"""Server tests run on SQLite and, marked ``postgres``, on a throwaway PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import fresh_postgres_database
from tests.factories import login_as, org_code


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'spine.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def gp(client: TestClient) -> dict[str, str]:
    """Headers of a GP practice's session in the GP role (R8000)."""
    return login_as(client, org_code(client, "gp-practice"), "R8000")
