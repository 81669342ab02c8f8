"""Process settings, read from ``HARNESS_*`` environment variables and an optional ``.env``.

Build one :class:`HarnessSettings` in the CLI (or in a test) and pass it down; nothing in the
package reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HarnessSettings(BaseSettings):
    """Where the harness keeps its files and state.

    Example::

        HARNESS_REPORTS_DIR=/tmp/out harness profile
    """

    model_config = SettingsConfigDict(env_prefix="HARNESS_", env_file=".env", extra="forbid")

    data_dir: Path = Field(Path(".harness"), description="state: SQLite files, credentials")
    reports_dir: Path = Field(Path("reports"), description="parent of results directories")
    scenarios_dir: Path = Field(Path("scenarios"), description="where `scenarios list` looks")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite file")
