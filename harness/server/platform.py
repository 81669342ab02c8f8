"""The platform middleware: what every API request goes through before its service.

In order: echo ``X-Correlation-ID``; for FHIR-style APIs require a UUID ``X-Request-ID`` and
echo it; refuse with 503 during maintenance or an outage of the request's service; apply the
rate limits; inject error and latency faults; de-duplicate retried state-changing requests;
and count the request in the metrics. Health, metrics and admin endpoints skip the API rules.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.server.apis import Api, api_for
from harness.server.domain import BadRequest, MeshProblem, ServiceUnavailable, SpineError
from harness.server.errors import (
    FHIR_JSON,
    http_error_response,
    mesh_error_response,
    spine_error_response,
)
from harness.server.faults import FaultBoard, FaultKind
from harness.server.idempotency import IdempotencyStore, StillRunning, StoredResponse
from harness.server.metrics import Metrics
from harness.server.ratelimit import RateLimiter

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SYNC_WAIT_DEFAULT_S = 10.0  # PDS's async-to-sync wrapper waits 10 s unless told otherwise
SYNC_WAIT_MIN_S, SYNC_WAIT_MAX_S = 0.25, 29.0  # "the proxy resets values <0.25 or >29"
NOT_REPLAYED = frozenset({429, 500, 502, 503, 504})
SLOW_WRITE_RETRY_AFTER_S = 5  # PDS answers a slow update with "Retry-After: 5"
POLL_INTERVAL_S = 5  # Spine's asynchronous pattern: clients poll every 5 s (EPS façade)
POLL_SEGMENT = "_poll"  # {api prefix}/_poll/{X-Request-ID}: the status URL of a 202

Next = Callable[[Request], Awaitable[Response]]
"""Runs the rest of the application for a request and returns its whole response."""


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


def prefers_async(request: Request) -> bool:
    """Whether the client asked for Spine's asynchronous pattern (202 + ``Content-Location``)."""
    return "respond-async" in request.headers.get("prefer", "")


def poll_path(api: Api, request_id: str) -> str:
    """The status URL a 202 points at."""
    return f"{api.prefix}/{POLL_SEGMENT}/{request_id}"


def accepted(api: Api, request_id: str) -> Response:
    """202: the request is still running; poll ``Content-Location`` for its response."""
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "information",
                "code": "informational",
                "diagnostics": "the request is being processed; poll Content-Location for its "
                "response",
            }
        ],
    }
    return Response(
        json.dumps(outcome),
        202,
        headers={
            "Content-Location": poll_path(api, request_id),
            "Retry-After": str(POLL_INTERVAL_S),
        },
        media_type=FHIR_JSON,
    )


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
        self._background: set[asyncio.Future[Response]] = set()
        self.faults = faults
        self.limiter = limiter
        self.idempotency = idempotency
        self.metrics = metrics

    async def drain(self, timeout_s: float) -> int:
        """Let writes still running past their client's wait finish (at shutdown).

        They were accepted (202) or are owed to a retry (503): stopping the store under them
        would lose them. Returns how many were still unfinished after ``timeout_s``.
        """
        if not self._background:
            return 0
        _, pending = await asyncio.wait(set(self._background), timeout=timeout_s)
        return len(pending)

    async def _guard(self, request: Request, api: Api, app: str | None) -> Response | None:
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
                app=app,
                api=api.prefix,
                method=request.method,
                path=request.scope["path"],
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
        self, request: Request, call_next: Next, api: Api, request_id: str, app: str | None
    ) -> Response:
        """Run a state-changing request at most once, within the client's ``X-Sync-Wait``.

        Past the wait the work goes on and the client gets 503 with ``Retry-After`` (its retry
        with the same ``X-Request-ID`` then receives the finished response) — or, if it sent
        ``Prefer: respond-async``, 202 with the status URL to poll in ``Content-Location``.
        """
        key = f"{app}|{request.method}|{request.scope['path']}|{request_id}"
        wait_s = sync_wait_s(request)
        claimed = asyncio.Event()
        task = asyncio.ensure_future(self._execute_once(request, call_next, key, wait_s, claimed))
        done, _ = await asyncio.wait({task}, timeout=wait_s)
        if task in done:
            return task.result()
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if prefers_async(request) and claimed.is_set():
            # Accepted only once its claim is stored: a poll (on any worker) then finds it.
            return accepted(api, request_id)
        return spine_error_response(
            ServiceUnavailable(
                f"the request is taking longer than X-Sync-Wait ({wait_s:g} s); retry with the "
                "same X-Request-ID to get its result",
                retry_after_s=SLOW_WRITE_RETRY_AFTER_S,
            )
        )

    async def _execute_once(
        self, request: Request, call_next: Next, key: str, wait_s: float, claimed: asyncio.Event
    ) -> Response:
        try:
            stored = await self.idempotency.claim(key, wait_s=wait_s)
        except StillRunning:
            return spine_error_response(
                ServiceUnavailable(
                    "the original request with this X-Request-ID is still being processed",
                    retry_after_s=SLOW_WRITE_RETRY_AFTER_S,
                )
            )
        if stored is not None:
            return Response(stored.body, stored.status_code, headers=dict(stored.headers))
        claimed.set()
        try:
            response = await call_next(request)
        except BaseException:
            await self.idempotency.release(key)
            raise
        body = bytes(response.body)
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        if response.status_code in NOT_REPLAYED:
            await self.idempotency.release(key)
        else:
            await self.idempotency.complete(
                key, StoredResponse(response.status_code, headers, body)
            )
        return Response(body, response.status_code, headers=dict(headers))

    async def handle(self, request: Request, call_next: Next) -> Response | None:
        """Apply the platform rules: a response refuses or answers the request; ``None`` lets
        it through to the application untouched (streamed, not buffered)."""
        # The raw ASGI path, not request.url.path: that builds and parses a whole URL (12.4 µs
        # against 1.0) to give the same path back, with only "?", "#" and backslash escaped.
        api = api_for(request.scope["path"])
        if api is None:
            return None
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
        # Who the request is charged to: computed once for the quota and the de-duplication key.
        app = application_of(request, api, self.asid_of_key) if api.fhir else None
        refused = await self._guard(request, api, app)
        if refused is not None:
            return refused
        if api.fhir and request.method in STATE_CHANGING and request_id is not None:
            return await self._idempotent(request, call_next, api, request_id, app)
        return None


class PlatformMiddleware:
    """Pure ASGI middleware around :class:`Platform` (no per-request task or buffering).

    Starlette's ``BaseHTTPMiddleware`` cost about half of a small request's throughput here,
    so this is written against ASGI directly: ordinary requests stream straight through, and
    only de-duplicated state-changing requests are captured whole so they can be stored.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _capture(self, request: Request) -> Response:
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(request.scope, request.receive, keep)
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        response = Response(body, start["status"])
        response.raw_headers = [
            (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
        ] + [(b"content-length", str(len(body)).encode())]
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        platform: Platform | None = getattr(scope["app"].state, "platform", None)
        if scope["type"] != "http" or platform is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        echoed = [
            (name, value)
            for name in ("X-Request-ID", "X-Correlation-ID")
            if (value := request.headers.get(name)) is not None
        ]
        status = 500

        async def send_echoing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in echoed:
                    headers[name] = value
            await send(message)

        started = time.perf_counter()
        platform.metrics.in_flight.inc()
        try:
            response = await platform.handle(request, self._capture)
            if response is None:
                await self.app(scope, receive, send_echoing)
            else:
                await response(scope, receive, send_echoing)
        finally:
            platform.metrics.in_flight.dec()
            platform.metrics.observe(
                route=_route_template(request),
                method=request.method,
                status=status,
                seconds=time.perf_counter() - started,
            )


def install_platform(app: FastAPI) -> None:
    """Register the platform middleware (the platform itself is built in the lifespan)."""
    app.add_middleware(PlatformMiddleware)
