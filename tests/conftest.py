"""Shared fixtures: settings pointing at a temporary folder and a seeded random generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.config import HarnessSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"


@pytest.fixture
def settings(tmp_path: Path) -> HarnessSettings:
    """Settings whose writable folders live under the test's temporary directory."""
    return HarnessSettings(
        data_dir=tmp_path / "data",
        reports_dir=tmp_path / "reports",
        scenarios_dir=SCENARIOS_DIR,
    )


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed, so failures reproduce."""
    return np.random.default_rng(20140822)


# ---------------------------------------------------------------- reference server fixtures
import contextlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from harness.config import ServerSettings  # noqa: E402
from harness.server.app import create_app  # noqa: E402

ADMIN_TOKEN = "test-admin-token"
MESH_SEED = """\
mailboxes:
  - {id: X26ABC1, password: password, ods_code: X26}
  - {id: X26ABC2, password: password, ods_code: X26}
  - {id: X26ABC3, password: password, ods_code: X26}
workflows:
  - {id: RESTRICTED, senders: [X26ABC1], receivers: [X26ABC2]}
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mesh_seed(tmp_path: Path) -> Path:
    path = tmp_path / "mesh.yaml"
    path.write_text(MESH_SEED)
    return path


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite by default; tests parametrised over backends override this."""
    return f"sqlite+aiosqlite:///{tmp_path / 'spine.db'}"


@pytest.fixture
def server_settings(tmp_path: Path, mesh_seed: Path, database_url: str) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path,
        database_url=database_url,
        organisations=200,
        seed=7,
        admin_token=ADMIN_TOKEN,
        test_mode=True,
        mesh_directory=mesh_seed,
        fault_refresh_s=0.05,
        audit_flush_s=0.05,
    )


@pytest.fixture
def client(server_settings: ServerSettings) -> Iterator[TestClient]:
    """The app in-process (lifespan run), errors returned as responses, not raised."""
    with TestClient(create_app(server_settings), raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class LiveServer:
    """A real ``harness serve`` process on 127.0.0.1."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    scheme: str = "http",
    verify: object = True,
) -> LiveServer:
    """Start ``harness serve`` and wait until ``/health`` answers (at most 60 s: a busy
    two-core machine has taken over 30 s to start two workers)."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    full_env = {**os.environ, "HARNESS_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})}
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=tmp_path,
        )
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(f"{url}/health", timeout=1, verify=verify)  # type: ignore[arg-type]
                if response.status_code == 200:
                    return LiveServer(url, process, log_path)
            time.sleep(0.2)
        raise RuntimeError(f"server did not become ready:\n{log_path.read_text()}")
    except BaseException:
        # Never leave a server behind, whatever went wrong while waiting for it.
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        raise


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


def run_harness(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m harness ARGS`` in a child process from the project root (output captured).

    Load commands import Locust, which patches a process with gevent: never in the test process.
    """
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_small_server(
    tmp_path: Path, database_url: str, *args: str, env: dict[str, str] | None = None
) -> LiveServer:
    """``harness serve --workers 2`` of 200 organisations (seed 7) on ``database_url``."""
    return start_server(
        tmp_path,
        *("--workers", "2", "--organisations", "200", "--seed", "7"),
        *("--database-url", database_url, *args),
        env=env,
    )


def start_unlimited_server(tmp_path: Path, database: str) -> LiveServer:
    """A 2-worker server of 200 organisations (seed 7) without quotas, for load-driver tests."""
    return start_small_server(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / database}",
        env={
            "HARNESS_RATE_LIMIT_PER_APP_PER_MINUTE": "100000000",
            "HARNESS_GLOBAL_RATE_LIMIT_PER_S": "1000000",
        },
    )


@pytest.fixture
def live_server(tmp_path: Path, mesh_seed: Path) -> Iterator[LiveServer]:
    """``harness serve --workers 2`` with the test MESH directory, in test mode."""
    server = start_server(
        tmp_path,
        "--workers",
        "2",
        "--organisations",
        "200",
        "--seed",
        "7",
        "--mesh-directory",
        str(mesh_seed),
        "--test-mode",
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'live.db'}",
    )
    yield server
    stop_server(server)


# ---------------------------------------------------------------- throwaway PostgreSQL
def _pg_bindir() -> Path | None:
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            )
            candidate = Path(out.stdout.strip())
            if (candidate / "initdb").exists():
                return candidate
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL cluster in a temporary directory for the session (skips if not installed).

    PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` user.
    """
    bindir = _pg_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries are missing in CI (.ci/run installs postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    # Not under pytest's tmp folder: its parents are private to root, and the cluster may run
    # as another user.
    root = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    data = root / "data"
    port = free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(data / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def fresh_postgres_database(base_url: str, *, prefix: str = "t") -> str:
    """Create an empty database on the throwaway cluster and return its SQLAlchemy URL."""
    import asyncio
    import uuid

    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(base_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return base_url.rsplit("/", 1)[0] + "/" + name


def live_session_headers(
    base_url: str, *, organisations: int = 200, seed: int = 7, org_type: str | None = None,
    role: str | None = None,
) -> dict[str, str]:  # fmt: skip
    """``Authorization`` of a session on a live server: the first user of the first organisation
    (of ``org_type``, if given) in ``role`` (default: the user's first role)."""
    from harness.spine import build_directory

    org = next(
        o
        for o in build_directory(organisations, seed).organisations
        if org_type is None or o.org_type == org_type
    )
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    cred = httpx.get(f"{base_url}/admin/credentials/{org.ods_code}", headers=admin).json()
    session = httpx.post(
        f"{base_url}/authentication/session",
        json={"user_id": cred["users"][0], "role": role or cred["roles"][0]},
        headers={"apikey": cred["api_key"], "X-Request-ID": str(uuid.uuid4())},
    )
    assert session.status_code == 201, session.text
    body = session.json()
    return {"Authorization": f"Bearer {body['access_token']}", "NHSD-Session-URID": body["urid"]}
