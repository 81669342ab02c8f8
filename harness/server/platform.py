"""The platform middleware: what every API request goes through before its service.

In order: echo ``X-Correlation-ID``; for FHIR-style APIs require a UUID ``X-Request-ID`` and
echo it; refuse with 503 during maintenance or an outage of the request's service; apply the
rate limits; inject error and latency faults; de-duplicate retried state-changing requests;
and count the request in the metrics. Health, metrics and admin endpoints skip the API rules.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from harness.server.apis import Api, api_for
from harness.server.domain import BadRequest, MeshProblem, ServiceUnavailable, SpineError
from harness.server.errors import http_error_response, mesh_error_response, spine_error_response
from harness.server.faults import FaultBoard, FaultKind
from harness.server.idempotency import IdempotencyStore, StillRunning, StoredResponse
from harness.server.metrics import Metrics
from harness.server.ratelimit import RateLimiter

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SYNC_WAIT_DEFAULT_S = 10.0  # PDS's async-to-sync wrapper waits 10 s unless told otherwise
SYNC_WAIT_MIN_S, SYNC_WAIT_MAX_S = 0.25, 29.0  # "the proxy resets values <0.25 or >29"
NOT_REPLAYED = frozenset({429, 500, 502, 503, 504})

Next = Callable[[Request], Awaitable[Response]]


def sync_wait_s(request: Request) -> float:
    """The client's ``X-Sync-Wait`` in seconds, clamped as the API platform does."""
    raw = request.headers.get("x-sync-wait")
    try:
        value = float(raw) if raw is not None else SYNC_WAIT_DEFAULT_S
    except ValueError:
        value = SYNC_WAIT_DEFAULT_S
    if not SYNC_WAIT_MIN_S <= value <= SYNC_WAIT_MAX_S:
        value = SYNC_WAIT_DEFAULT_S
    return value


def application_of(
    request: Request, api: Api, asid_of_key: Callable[[str], str | None]
) -> str | None:
    """Who to charge a request to: the application's ASID, or the MESH mailbox."""
    if not api.fhir:
        auth = request.headers.get("authorization", "")
        return auth.partition(" ")[2].split(":", 1)[0] or None
    if key := request.headers.get("apikey"):
        asid = asid_of_key(key)
        return f"asid:{asid}" if asid else f"key:{key[:12]}"
    token = request.headers.get("authorization", "").partition(" ")[2]
    # Session tokens start with the application's ASID, so no storage lookup is needed here.
    return f"asid:{token.split('.', 1)[0]}" if "." in token else None


def _route_template(request: Request) -> str:
    # Routing records the matched route in the (shared) scope; templates keep labels bounded.
    route = request.scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


def _error(request: Request, api: Api, error: SpineError) -> Response:
    if api.fhir:
        return spine_error_response(error)
    kind = "unavailable" if isinstance(error, ServiceUnavailable) else "too-many"
    response = mesh_error_response(
        MeshProblem(kind, str(error.code), error.diagnostics),
        v2="vnd.mesh.v2" in request.headers.get("accept", ""),
    )
    fhir_shaped = spine_error_response(error)
    response.status_code = fhir_shaped.status_code
    if "retry-after" in fhir_shaped.headers:
        response.headers["Retry-After"] = fhir_shaped.headers["retry-after"]
    return response


class Platform:
    """The collaborators the middleware needs, held on ``app.state.platform``."""

    def __init__(
        self,
        *,
        faults: FaultBoard,
        limiter: RateLimiter,
        idempotency: IdempotencyStore,
        metrics: Metrics,
        asid_of_key: Callable[[str], str | None],
    ) -> None:
        self.asid_of_key = asid_of_key
        self.faults = faults
        self.limiter = limiter
        self.idempotency = idempotency
        self.metrics = metrics

    async def _guard(self, request: Request, api: Api) -> Response | None:
        """Maintenance, outages, limits and injected errors; a response refuses the request."""
        now = self.faults.clock()
        maintenance = self.faults.active(FaultKind.MAINTENANCE, api.service)
        if maintenance is not None:
            return _error(
                request,
                api,
                ServiceUnavailable(
                    f"{api.service} is down for planned maintenance", retry_at=maintenance.until
                ),
            )
        outage = self.faults.active(FaultKind.OUTAGE, api.service)
        if outage is not None:
            return _error(
                request,
                api,
                ServiceUnavailable(
                    f"{api.service} is unavailable", retry_after_s=outage.until - now
                ),
            )
        try:
            # The per-application quota is the FHIR API platform's; MESH has only the global one.
            self.limiter.check(
                app=application_of(request, api, self.asid_of_key) if api.fhir else None,
                api=api.prefix,
                method=request.method,
                path=request.url.path,
            )
        except SpineError as exc:
            return _error(request, api, exc)
        errors = self.faults.active(FaultKind.ERRORS, api.service)
        if errors is not None and self.faults.fails(errors):
            return http_error_response(request, errors.status, "injected fault")
        latency = self.faults.active(FaultKind.LATENCY, api.service)
        if latency is not None:
            await asyncio.sleep(self.faults.latency_s(latency))
        return None

    async def _idempotent(
        self, request: Request, call_next: Next, request_id: str, api: Api
    ) -> Response:
        app = application_of(request, api, self.asid_of_key)
        key = f"{app}|{request.method}|{request.url.path}|{request_id}"
        try:
            stored = await self.idempotency.claim(key, wait_s=sync_wait_s(request))
        except StillRunning:
            return spine_error_response(
                ServiceUnavailable(
                    "the original request with this X-Request-ID is still being processed",
                    retry_after_s=1,
                )
            )
        if stored is not None:
            return Response(stored.body, stored.status_code, headers=dict(stored.headers))
        try:
            response = await call_next(request)
            chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
            body = b"".join(chunks)
        except BaseException:
            await self.idempotency.release(key)
            raise
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        if response.status_code in NOT_REPLAYED:
            await self.idempotency.release(key)
        else:
            await self.idempotency.complete(
                key, StoredResponse(response.status_code, headers, body)
            )
        return Response(body, response.status_code, headers=dict(headers))

    async def handle(self, request: Request, call_next: Next) -> Response:
        """Run one request through the platform rules."""
        api = api_for(request.url.path)
        if api is None:
            return await call_next(request)
        request_id = request.headers.get("x-request-id")
        if api.fhir:
            if request_id is None:
                return spine_error_response(
                    BadRequest("X-Request-ID header must be supplied", code="MISSING_VALUE")
                )
            try:
                uuid.UUID(request_id)
            except ValueError:
                return spine_error_response(
                    BadRequest(f"X-Request-ID {request_id!r} is not a UUID", code="INVALID_VALUE")
                )
        refused = await self._guard(request, api)
        if refused is not None:
            return refused
        if api.fhir and request.method in STATE_CHANGING and request_id is not None:
            return await self._idempotent(request, call_next, request_id, api)
        return await call_next(request)


def install_platform(app: FastAPI) -> None:
    """Register the platform middleware (the platform itself is built in the lifespan)."""

    @app.middleware("http")
    async def _platform(request: Request, call_next: Next) -> Response:
        platform: Platform | None = getattr(request.app.state, "platform", None)
        if platform is None:
            return await call_next(request)
        started = time.perf_counter()
        platform.metrics.in_flight.inc()
        status = 500
        try:
            response = await platform.handle(request, call_next)
            status = response.status_code
        finally:
            platform.metrics.in_flight.dec()
            platform.metrics.observe(
                route=_route_template(request),
                method=request.method,
                status=status,
                seconds=time.perf_counter() - started,
            )
        if request_id := request.headers.get("x-request-id"):
            response.headers["X-Request-ID"] = request_id
        if correlation := request.headers.get("x-correlation-id"):
            response.headers["X-Correlation-ID"] = correlation
        return response
