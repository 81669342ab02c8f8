"""``harness serve``: run the reference Spine server with uvicorn."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from harness.cli.output import ExitCode, make_console
from harness.spine.population import MAX_PATIENTS

if TYPE_CHECKING:
    import socket

LISTEN_BACKLOG = 2048


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, created with ``IPPROTO_TCP`` on purpose.

    uvicorn's own ``bind_socket()`` leaves ``proto`` at 0; accepted sockets inherit it and asyncio
    then never sets TCP_NODELAY, so with ``--workers N`` every keep-alive response waits ~40 ms
    for a delayed ACK (uvicorn issue #3149, open).
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"port {port} on {host} is already in use ({exc.strerror})") from None
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def _export(settings: object) -> None:
    """Put settings into ``HARNESS_*`` variables so every worker builds the same ones."""
    from pydantic import BaseModel

    assert isinstance(settings, BaseModel)
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            os.environ.pop(f"HARNESS_{name.upper()}", None)
            continue
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        os.environ[f"HARNESS_{name.upper()}"] = text


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="Server processes."),
    supervise: bool = typer.Option(
        False, help="Run workers under uvicorn's supervisor even with one (restarts killed ones)."
    ),
    database_url: str | None = typer.Option(
        None, help="SQLAlchemy async URL (default: SQLite file under .harness/)."
    ),
    organisations: int = typer.Option(20_000, min=1, max=200_000, help="Directory size."),
    seed: int = typer.Option(0, min=0, help="Directory seed."),
    patients: int | None = typer.Option(
        None,
        min=1,
        max=MAX_PATIENTS,
        help="Synthetic PDS population size, the same in every worker "
        "(default: HARNESS_PATIENTS or 1,000,000).",
    ),
    mesh_directory: Path | None = typer.Option(None, help="Extra MESH mailboxes and workflows."),
    tls_cert: Path | None = typer.Option(None, help="Server certificate (PEM) for TLS."),
    tls_key: Path | None = typer.Option(None, help="Server private key (PEM)."),
    tls_ca: Path | None = typer.Option(None, help="CA bundle: require client certificates."),
    test_mode: bool = typer.Option(False, help="Allow reset and clock changes without a token."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> int:
    """Run the reference Spine server (MESH, identity, ODS, admin, metrics)."""
    # Imported here, not at the top: `harness load` shares this CLI module and must be able
    # to gevent-patch ssl and asyncio before anything imports them.
    import asyncio
    import ssl
    import tempfile

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from harness.config import ServerSettings
    from harness.errors import ConfigurationError
    from harness.server.limits import MAX_URL_BYTES
    from harness.server.store import create_store, upgrade
    from harness.server.transport import GuardedHttpToolsProtocol

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    if tls_ca is not None and tls_cert is None:
        raise typer.BadParameter("--tls-ca (mutual TLS) needs --tls-cert and --tls-key")
    overrides: dict[str, Any] = {
        "organisations": organisations,
        "seed": seed,
        "workers": workers,
        "test_mode": test_mode,
        "mesh_directory": mesh_directory,
    }
    if database_url is not None:
        overrides["database_url"] = database_url
    if patients is not None:
        overrides["patients"] = patients  # exported as HARNESS_PATIENTS to every worker
    settings = ServerSettings(**overrides)
    try:
        sock = _listen(host, port)
    except OSError as exc:
        raise ConfigurationError(str(exc)) from None

    async def migrate() -> None:
        store = create_store(settings.resolved_database_url(), clock=lambda: 0.0)
        try:
            await upgrade(store)
        finally:
            await store.close()

    try:
        asyncio.run(migrate())
    except (OSError, Exception) as exc:
        raise ConfigurationError(f"cannot open the database: {exc}") from None
    # Workers skip migrations: the parent has just run them once, so none race.
    _export(settings.model_copy(update={"run_migrations": False}))
    if (workers > 1 or supervise) and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="harness-metrics-")
    scheme = "https" if tls_cert else "http"
    make_console().print(
        f"serving the reference Spine on {scheme}://{host}:{port} ({workers} worker(s), "
        f"{settings.resolved_database_url().split('://')[0]})",
        soft_wrap=True,
    )
    config = uvicorn.Config(
        "harness.server.app:app_from_environment",
        factory=True,
        workers=workers,
        log_level=log_level,
        # uvloop and httptools: about a third more throughput on the national mix; only this
        # process runs them, never the gevent-patched load driver.
        loop="uvloop",
        # httptools with each request's head bounded (harness.server.transport)
        http=GuardedHttpToolsProtocol,
        # The most a request's head (request line and headers) may buffer, enforced at the
        # socket by that protocol; the application then applies the exact limits (431, 414).
        h11_max_incomplete_event_size=settings.max_header_bytes + MAX_URL_BYTES,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        ssl_ca_certs=str(tls_ca) if tls_ca else None,
        ssl_cert_reqs=ssl.CERT_REQUIRED if tls_ca else ssl.CERT_NONE,
        timeout_graceful_shutdown=10,
    )
    try:
        if workers > 1 or supervise:
            Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return ExitCode.PASS
