"""The attack suite runs every in-process case on SQLite and, marked ``postgres``, PostgreSQL."""

from __future__ import annotations

from tests.unit.server.conftest import database_url, gp

__all__ = ["database_url", "gp"]
