"""Server settings: database URL forms and secrets that are still placeholders."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.config import ServerSettings


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ("sqlite:////tmp/spine.db", "sqlite+aiosqlite:////tmp/spine.db"),
        ("sqlite+aiosqlite:////tmp/spine.db", "sqlite+aiosqlite:////tmp/spine.db"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
    ],
)
def test_plain_database_urls_get_the_async_driver(given: str, resolved: str) -> None:
    assert ServerSettings(database_url=given).resolved_database_url() == resolved


@pytest.mark.parametrize("token", ["change-me", "CHANGE-ME-please"])
def test_a_placeholder_admin_token_is_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        ServerSettings(admin_token=token)


def test_a_real_admin_token_is_kept() -> None:
    assert ServerSettings(admin_token="s3cret-of-my-own").admin_token == "s3cret-of-my-own"
