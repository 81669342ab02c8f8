"""Process settings, read from ``HARNESS_*`` environment variables and an optional ``.env``.

Build one :class:`HarnessSettings` in the CLI (or in a test) and pass it down; nothing in the
package reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from harness.spine.population import DEFAULT_PATIENTS, MAX_PATIENTS

PLACEHOLDER_PREFIX = "change-me"  # secrets shipped in example files start so
ASYNC_DRIVERS = {"sqlite://": "sqlite+aiosqlite://", "postgresql://": "postgresql+asyncpg://"}


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


class ServerSettings(BaseSettings):
    """Settings of the reference Spine server (``harness serve``), from ``HARNESS_*``.

    ``harness serve`` turns its options into these variables before starting uvicorn, so that
    every worker process builds the same settings from its environment.
    """

    model_config = SettingsConfigDict(env_prefix="HARNESS_", extra="ignore")

    data_dir: Path = Field(Path(".harness"), description="default home of the SQLite file")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default sqlite+aiosqlite:///<data_dir>/spine.db"
    )
    organisations: int = Field(20_000, ge=1, le=200_000, description="directory size")
    seed: int = Field(0, ge=0, description="directory seed")
    patients: int = Field(
        DEFAULT_PATIENTS, ge=1, le=MAX_PATIENTS, description="synthetic PDS population size"
    )
    admin_token: str | None = Field(None, description="admin API bearer token; off when unset")
    test_mode: bool = Field(False, description="enables DELETE /admin/reset without a token")
    mesh_shared_key: str = Field("TestKey", description="NHSMESH HMAC shared key")
    mesh_directory: Path | None = Field(None, description="extra mailboxes and workflows (YAML)")
    mesh_password: str = Field("password", description="password of directory mailboxes")
    identity_secret: str = Field(
        "harness-identity-secret", description="derives application API keys from ASIDs"
    )
    workers: int = Field(1, ge=1, le=64, description="server processes sharing the limits")
    rate_limit_per_app_per_minute: int = Field(
        300, ge=1, description="per application per API, rolling minute (5 TPS)"
    )
    spike_arrest_per_s: int = Field(3, ge=1, description="per application on spike routes")
    global_rate_limit_per_s: int = Field(2_000, ge=1, description="all applications together")
    spike_routes: tuple[str, ...] = Field(
        (), description="'METHOD /path' prefixes under spike arrest (default: patient create)"
    )
    rate_limit_sync_s: float = Field(
        0.25,
        ge=0,
        description="how often each worker shares its rate-limit usage through the database "
        "(limits global across workers and replicas); 0: each worker enforces limit / workers",
    )
    run_migrations: bool = Field(True, description="upgrade the schema at startup")
    fault_refresh_s: float = Field(0.25, gt=0, description="how often workers reload faults")
    audit_flush_s: float = Field(0.2, gt=0, description="audit batch interval")
    idempotency_flush_s: float = Field(
        0.02,
        ge=0,
        description="idempotency completions are written in batches this often "
        "(0: each before its response)",
    )
    fast_path: bool = Field(
        True,
        description="the server's speed-ups that reach into FastAPI, SQLAlchemy and uvicorn "
        "(harness.server.fastpath); false: plain FastAPI + SQLAlchemy + uvicorn",
    )
    max_header_bytes: int = Field(
        8_192, ge=1_024, description="request headers larger than this are refused (431)"
    )
    max_body_bytes: int = Field(
        5 * 1024 * 1024, ge=1_024, description="FHIR/admin bodies larger are refused (413)"
    )
    request_timeout_s: float = Field(
        30.0, gt=0, description="a body not fully received by then is refused (408)"
    )
    auth_failures_per_minute: int = Field(
        1_000,
        ge=1,
        description="failed authentications one source address may make in a rolling minute "
        "before its requests are refused (429) unchecked",
    )

    @field_validator("admin_token")
    @classmethod
    def _not_a_placeholder(cls, value: str | None) -> str | None:
        if value is not None and value.lower().startswith(PLACEHOLDER_PREFIX):
            raise ValueError(
                "HARNESS_ADMIN_TOKEN is still a placeholder; set a secret of your own "
                "(for the compose rig, in deploy/compose.env)"
            )
        return value

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``data_dir``.

        The plain driver-less forms are accepted and given the async driver the server uses
        (``sqlite:///`` → ``sqlite+aiosqlite:///``, ``postgresql://`` →
        ``postgresql+asyncpg://``).
        """
        if self.database_url:
            for plain, driver in ASYNC_DRIVERS.items():
                if self.database_url.startswith(plain):
                    return driver + self.database_url.removeprefix(plain)
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'spine.db').resolve()}"
