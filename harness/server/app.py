"""The application factory: ``create_app(settings)`` builds one server, with no import-time state.

The lifespan opens storage (upgrading the schema unless ``harness serve`` already did), builds
the organisation and MESH directories (the synthetic directory with the published organisations
merged in, :func:`harness.spine.published.served_directory`, as the load driver builds it) and the
synthetic PDS population from the seed, stores the published test patients over it, wires the
national services (PDS, EPS, SCR, SDS/ODS) to them, and starts five background tasks per
worker: reloading faults shared through storage, flushing the audit batch and the idempotency
completions, running the MESH lifecycle (expiry) once a minute, and sharing rate-limit usage
through the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts

from harness import __version__
from harness.config import ServerSettings
from harness.server import fastpath
from harness.server.admin.router import router as admin_router
from harness.server.audit import AuditLog
from harness.server.clock import Clock
from harness.server.eps.router import dispensing as eps_dispensing_router
from harness.server.eps.router import prescribing as eps_prescribing_router
from harness.server.eps.service import EpsService
from harness.server.errors import install_error_handlers
from harness.server.faults import FaultBoard
from harness.server.idempotency import HEARTBEAT_S, IdempotencyStore
from harness.server.identity.router import router as identity_router
from harness.server.identity.service import IdentityService
from harness.server.limits import LimitsMiddleware
from harness.server.mesh.directory import build_mesh_directory
from harness.server.mesh.router import router as mesh_router
from harness.server.mesh.service import MeshService
from harness.server.metrics import Metrics
from harness.server.ods.router import router as ods_router
from harness.server.ods.service import OdsService
from harness.server.openapi import install_openapi
from harness.server.pds.published import store_published
from harness.server.pds.router import router as pds_router
from harness.server.pds.service import PdsService
from harness.server.platform import FailedAuthLimiter, Platform, install_platform
from harness.server.polling import router as polling_router
from harness.server.ratelimit import RateLimiter
from harness.server.ratelimit_ledger import RateLimitLedger
from harness.server.redaction import install_redaction
from harness.server.scr.published import store_published_scrs
from harness.server.scr.router import router as scr_router
from harness.server.scr.service import ScrService
from harness.server.sds.router import router as sds_router
from harness.server.sds.service import SdsService
from harness.server.store import create_store, upgrade
from harness.spine import Directory, OrgType
from harness.spine.contracts import PDS_BASE
from harness.spine.credentials import secret_fingerprint
from harness.spine.population import Population
from harness.spine.published import served_directory

log = logging.getLogger(__name__)
LIFECYCLE_INTERVAL_S = 60.0
# Expired sessions, spent nonces, idle rate-limit keys, dead workers' claims, old responses.
HOUSEKEEPING_INTERVAL_S = 60.0
SHUTDOWN_DRAIN_S = 20.0  # how long shutdown waits for slow writes still running (≤ X-Sync-Wait cap)
SPIKE_ROUTES = (f"POST {PDS_BASE}/Patient",)


async def _every(interval_s: float, job: Callable[[], Awaitable[Any]], name: str) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except Exception:
            log.exception("background job %s failed; will retry", name)


def _population(app: FastAPI, directory: Directory) -> Population:
    settings: ServerSettings = app.state.settings
    size: int = app.state.patients or settings.patients
    return Population(
        size,
        settings.seed,
        gp_practices=[o.ods_code for o in directory.of_type(OrgType.GP_PRACTICE)],
        pharmacies=[o.ods_code for o in directory.of_type(OrgType.COMMUNITY_PHARMACY)],
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ServerSettings = app.state.settings
    clock = Clock()
    board_ref: list[FaultBoard] = []
    store = create_store(
        settings.resolved_database_url(),
        clock=clock.now,
        stall_until=lambda: board_ref[0].stall_until() if board_ref else 0.0,
        direct_reads=fastpath.DirectReads() if settings.fast_path else None,
    )
    if settings.run_migrations:
        await upgrade(store)
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, os.getpid()]))
    board = FaultBoard(store=store, clock=clock, rng=rng)
    board_ref.append(board)
    await board.refresh()
    directory = served_directory(settings.organisations, settings.seed)
    mesh_directory = build_mesh_directory(
        directory, password=settings.mesh_password, seed_file=settings.mesh_directory
    )
    audit = AuditLog(store=store, clock=clock.now, flush_s=settings.audit_flush_s)
    app.state.store = store
    app.state.clock = clock
    app.state.faults = board
    app.state.audit = audit
    app.state.directory = directory
    app.state.mesh = MeshService(
        store=store, directory=mesh_directory, shared_key=settings.mesh_shared_key, clock=clock.now
    )
    app.state.identity = IdentityService(
        directory=directory, store=store, secret=settings.identity_secret, clock=clock.now
    )
    app.state.ods = OdsService(directory)
    app.state.population = _population(app, directory)
    app.state.pds = PdsService(
        store=store, population=app.state.population, directory=directory, clock=clock.now
    )
    # The published test patients go into the store before any service reads a patient.
    await store_published(store, clock.now())
    app.state.eps = EpsService(store=store, pds=app.state.pds, directory=directory, clock=clock.now)
    app.state.scr = ScrService(store=store, pds=app.state.pds, clock=clock.now)
    await store_published_scrs(store, clock.now())
    app.state.sds = SdsService(directory)
    limiter = RateLimiter(
        per_app_per_minute=settings.rate_limit_per_app_per_minute,
        spike_per_s=settings.spike_arrest_per_s,
        global_per_s=settings.global_rate_limit_per_s,
        workers=settings.workers,
        spike_routes=settings.spike_routes or SPIKE_ROUTES,
        clock=clock.now,
        sync_s=settings.rate_limit_sync_s,
    )
    ledger = RateLimitLedger(store=store, limiter=limiter, metrics=app.state.metrics)
    if settings.rate_limit_sync_s:
        await ledger.sync()  # the first requests already see the other workers' usage
    idempotency = IdempotencyStore(
        store=store, clock=clock.now, flush_s=settings.idempotency_flush_s
    )
    app.state.platform = Platform(
        faults=board,
        limiter=limiter,
        idempotency=idempotency,
        metrics=app.state.metrics,
        identity=app.state.identity,
        mesh=app.state.mesh,
        auth_failures=FailedAuthLimiter(limit=settings.auth_failures_per_minute, clock=clock.now),
        max_body_bytes=settings.max_body_bytes,
        request_timeout_s=settings.request_timeout_s,
    )
    tasks = [
        asyncio.create_task(audit.run(), name="audit"),
        asyncio.create_task(
            _every(settings.fault_refresh_s, board.refresh, "faults"), name="faults"
        ),
        asyncio.create_task(
            _every(LIFECYCLE_INTERVAL_S, app.state.mesh.expire, "mesh-lifecycle"), name="lifecycle"
        ),
    ]
    if settings.idempotency_flush_s:
        tasks.append(asyncio.create_task(idempotency.run(), name="idempotency"))
    tasks.append(
        asyncio.create_task(
            _every(HEARTBEAT_S, idempotency.heartbeat, "idempotency-heartbeat"),
            name="idempotency-heartbeat",
        )
    )

    async def housekeeping() -> None:
        limiter.forget_idle()
        await idempotency.clean()
        await app.state.identity.delete_expired()
        await app.state.mesh.forget_nonces()

    tasks.append(
        asyncio.create_task(
            _every(HOUSEKEEPING_INTERVAL_S, housekeeping, "housekeeping"), name="housekeeping"
        )
    )
    if settings.rate_limit_sync_s:
        tasks.append(
            asyncio.create_task(
                _every(settings.rate_limit_sync_s, ledger.sync, "rate-limits"), name="rate-limits"
            )
        )
    try:
        yield
    finally:
        unfinished = await app.state.platform.drain(SHUTDOWN_DRAIN_S)
        if unfinished:
            log.warning("%d slow writes were still running at shutdown", unfinished)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.close()


def create_app(settings: ServerSettings, *, patients: int | None = None) -> FastAPI:
    """Build the reference Spine server for ``settings``.

    Args:
        settings: the server settings.
        patients: size of the synthetic PDS population, overriding ``settings.patients``
            (``HARNESS_PATIENTS`` or ``harness serve --patients``; 1,000,000 by default).
    """
    app = FastAPI(
        title="harness reference Spine",
        version=__version__,
        description=(
            "A reference implementation of NHS Spine's national services (PDS, EPS, SCR, "
            "SDS/ODS, MESH and identity) for load tests and availability checks."
        ),
        lifespan=_lifespan,
        # The server exports Prometheus metrics (harness.server.metrics); FastAPI's native
        # OpenTelemetry, with nothing configured, still looks up the global providers on
        # every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.patients = patients
    install_redaction()
    app.state.metrics = Metrics()
    install_error_handlers(app)
    install_platform(app)
    # Added last, so outermost: limits apply before the platform or any route runs.
    app.add_middleware(LimitsMiddleware, max_header_bytes=settings.max_header_bytes)

    # FastAPI (and the fast path's dispatcher) search the routes in the order they were added:
    # busiest first, by share of the 2014 catalogue (PDS 49 %, MESH 24 %, EPS 18 %, SDS 5 %,
    # identity 3 %), the rarely called platform routes last. The prefixes are disjoint, so the
    # order changes no answer.
    for api_router in (
        pds_router,
        mesh_router,
        eps_dispensing_router,
        eps_prescribing_router,
        sds_router,
        identity_router,
        scr_router,
        ods_router,
        admin_router,
        polling_router,
    ):
        app.include_router(api_router)

    @app.get("/health", tags=["platform"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "pass"}

    @app.get(
        "/harness/directory",
        tags=["platform"],
        summary="The directory this server was started with (load drivers check theirs)",
    )
    async def directory() -> dict[str, object]:
        # Public facts only: the size and seed of the synthetic directory, and a fingerprint
        # of the identity secret (never the secret) from which API keys derive.
        return {
            "organisations": settings.organisations,
            "seed": settings.seed,
            "identity_secret_fingerprint": secret_fingerprint(settings.identity_secret),
        }

    @app.get("/health/ready", tags=["platform"], summary="Readiness: storage reachable")
    async def ready(request: Request) -> Response:
        ok = await request.app.state.store.ping()
        return JSONResponse(
            {"status": "pass" if ok else "fail", "checks": {"storage": ok}},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["platform"], summary="Prometheus metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        registry: Metrics = request.app.state.metrics
        return Response(registry.render(), media_type=registry.content_type)

    install_openapi(app)
    # FastAPI builds the dependency tree of an included router's routes on the first request
    # that reaches the router, inside warnings.catch_warnings(), which is not thread-safe: two
    # apps answering their first requests from two threads (tests' TestClients) could let the
    # pydantic warning it suppresses escape. Build every route's state here, once.
    for _ in iter_route_contexts(app.routes):
        pass
    if settings.fast_path:
        fastpath.install(app)
    return app


def app_from_environment() -> FastAPI:
    """Factory for uvicorn workers: settings from ``HARNESS_*`` variables."""
    return create_app(ServerSettings())
