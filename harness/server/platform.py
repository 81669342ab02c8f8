"""The platform middleware: what every API request goes through before its service.

In order: echo ``X-Correlation-ID``; for FHIR-style APIs (not SDS, which defines none) require a
UUID ``X-Request-ID`` and echo it; refuse with 503 during maintenance or an outage of the
request's service; **authenticate** the caller (API key or session token for the FHIR-style
APIs, the NHSMESH token's signature for MESH); apply the rate limits to the verified caller;
inject error and latency faults; read the body within its limits; de-duplicate retried
state-changing requests under the verified caller; and count the request in the metrics.
Health, metrics and admin endpoints skip the API rules (admin routes check their own token).

Nothing is counted, read or stored for a caller that has not proven who it is: a forged or
missing credential is refused before the rate limits (so it cannot spend another application's
quota), before the body is read (so it cannot make a worker buffer 100 MB), and before
de-duplication (so it can neither read another caller's stored response nor leave one). Failed
authentications are themselves limited per source address (:class:`FailedAuthLimiter`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.server.apis import Api, api_for
from harness.server.domain import (
    BadRequest,
    MeshProblem,
    ServiceUnavailable,
    SpineError,
    TooManyRequests,
)
from harness.server.errors import (
    FHIR_JSON,
    http_error_response,
    mesh_error_response,
    spine_error_response,
)
from harness.server.faults import FaultBoard, FaultKind
from harness.server.idempotency import IdempotencyStore, StillRunning, StoredResponse
from harness.server.identity.service import Caller, IdentityService
from harness.server.limits import BODYLESS, MESH_MAX_BODY_BYTES, RequestRefused, read_body
from harness.server.mesh.service import MeshService
from harness.server.metrics import Metrics
from harness.server.ratelimit import RateLimiter
from harness.spine.contracts import (
    EPS_DISPENSING_BASE,
    EPS_PRESCRIBING_BASE,
    MESH_BASE,
    REFUSAL_HEADER,
    SDS_BASE,
    Refusal,
    api_root,
)

SDS_PREFIX = api_root(SDS_BASE)
EPS_PREFIXES = tuple(api_root(b) + "/" for b in (EPS_PRESCRIBING_BASE, EPS_DISPENSING_BASE))
EPS_FHIR_JSON = f"{FHIR_JSON}; fhirVersion=4.0"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SYNC_WAIT_DEFAULT_S = 10.0  # PDS's async-to-sync wrapper waits 10 s unless told otherwise
SYNC_WAIT_MIN_S, SYNC_WAIT_MAX_S = 0.25, 29.0  # "the proxy resets values <0.25 or >29"
# Answers that say the request did not run (or may have failed before changing anything): a
# retry with the same X-Request-ID must run it, not get these back.
NOT_REPLAYED = frozenset({401, 408, 413, 429, 500, 502, 503, 504})
SLOW_WRITE_RETRY_AFTER_S = 5  # PDS answers a slow update with "Retry-After: 5"
POLL_INTERVAL_S = 5  # Spine's asynchronous pattern: clients poll every 5 s (EPS façade)
POLL_SEGMENT = "_poll"  # {api prefix}/_poll/{X-Request-ID}: the status URL of a 202
MESH_PUBLIC_PATHS = frozenset({f"{MESH_BASE}/_ping"})  # answered without authentication
AUTH_FAILURE_WINDOW_S = 60.0
AUTH_FAILURE_ADDRESSES = 10_000  # source addresses tracked at once; the oldest is forgotten

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


class FailedAuthLimiter:
    """Failed authentications per source address in a rolling minute, bounded in memory.

    The only state the platform keeps for callers that have not proven who they are: an
    address past ``limit`` failures in the window is refused (429) before its credentials are
    even looked up, until its failures age out. At most :data:`AUTH_FAILURE_ADDRESSES`
    addresses are tracked; the least recently failing one is forgotten first.
    """

    def __init__(self, *, limit: int, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - AUTH_FAILURE_WINDOW_S:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def blocked(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or ``None`` when it may now."""
        now = self.clock()
        times = self._recent(address, now)
        if times is None or len(times) < self.limit:
            return None
        return times[0] + AUTH_FAILURE_WINDOW_S - now

    def failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        now = self.clock()
        times = self._recent(address, now)
        if times is None:
            times = self._failures[address] = deque()
            if len(self._failures) > AUTH_FAILURE_ADDRESSES:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(address)
        times.append(now)

    def __len__(self) -> int:
        return len(self._failures)


@dataclass(frozen=True, slots=True)
class Admitted:
    """An API request the platform let through: its API and who sent it."""

    api: Api
    caller: Caller | None  # None for MESH, whose mailbox the route checks in full
    request_id: str | None


def idempotency_key(caller: Caller, method: str, path: str, request_id: str) -> str:
    """The de-duplication key: the verified caller, the operation and the ``X-Request-ID``.

    The operation is hashed so that the key has a fixed length whatever the path's.
    """
    operation = hashlib.sha256(f"{method} {path}".encode()).hexdigest()[:32]
    return f"{caller.key}|{operation}|{request_id}"


def _source(request: Request) -> str:
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


def _route_template(request: Request) -> str:
    # Routing records the matched route in the (shared) scope; templates keep labels bounded.
    route = request.scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


def _error(request: Request, api: Api, error: SpineError) -> Response:
    if api.fhir:
        return spine_error_response(error, request.scope["path"])
    kind = "unavailable" if isinstance(error, ServiceUnavailable) else "too-many"
    response = mesh_error_response(
        MeshProblem(kind, str(error.code), error.diagnostics),
        v2="vnd.mesh.v2" in request.headers.get("accept", ""),
    )
    fhir_shaped = spine_error_response(error, request.scope["path"])
    response.status_code = fhir_shaped.status_code
    for name in ("Retry-After", REFUSAL_HEADER):
        if name in fhir_shaped.headers:
            response.headers[name] = fhir_shaped.headers[name]
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
        identity: IdentityService,
        mesh: MeshService,
        auth_failures: FailedAuthLimiter,
        max_body_bytes: int,
        request_timeout_s: float,
    ) -> None:
        self.identity = identity
        self.mesh = mesh
        self.auth_failures = auth_failures
        self.max_body_bytes = max_body_bytes
        self.request_timeout_s = request_timeout_s
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

    def _unavailable(self, request: Request, api: Api) -> Response | None:
        """503 during maintenance or an outage of the request's service."""
        maintenance = self.faults.active(FaultKind.MAINTENANCE, api.service)
        if maintenance is not None:
            return _error(
                request,
                api,
                ServiceUnavailable(
                    f"{api.service} is down for planned maintenance",
                    retry_at=maintenance.until,
                    refusal=Refusal.MAINTENANCE,
                ),
            )
        outage = self.faults.active(FaultKind.OUTAGE, api.service)
        if outage is not None:
            return _error(
                request,
                api,
                ServiceUnavailable(
                    f"{api.service} is unavailable",
                    retry_after_s=outage.until - self.faults.clock(),
                ),
            )
        return None

    async def _authenticate(self, request: Request, api: Api) -> Caller | Response | None:
        """The verified caller (``None`` for MESH and its public paths), or the refusal."""
        address = _source(request)
        wait_s = self.auth_failures.blocked(address)
        if wait_s is not None:
            return _error(
                request,
                api,
                TooManyRequests(
                    "too many failed authentications from this address",
                    retry_after_s=max(wait_s, 1.0),
                ),
            )
        headers = request.headers
        try:
            if api.fhir:
                return await self.identity.authenticate(
                    apikey=headers.get("apikey"),
                    authorization=headers.get("authorization"),
                    urid=headers.get("nhsd-session-urid"),
                    end_user_ods=headers.get("nhsd-end-user-organisation-ods"),
                )
            if request.scope["path"] not in MESH_PUBLIC_PATHS:
                # The signature only: the route checks the mailbox and spends the nonce.
                self.mesh.verify(headers.get("authorization"))
            return None
        except SpineError as exc:
            self.auth_failures.failed(address)
            return spine_error_response(exc, request.scope["path"])
        except MeshProblem as problem:
            self.auth_failures.failed(address)
            return mesh_error_response(problem, v2="vnd.mesh.v2" in headers.get("accept", ""))

    async def _limit(self, request: Request, api: Api, caller: Caller | None) -> Response | None:
        """Rate limits of the verified caller, then injected errors and latency."""
        try:
            # The per-application quota is the FHIR API platform's; MESH has only the global one.
            self.limiter.check(
                app=caller.key if caller is not None else None,
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
        self, request: Request, call_next: Next, api: Api, request_id: str, caller: Caller
    ) -> Response:
        """Run a state-changing request at most once, within the client's ``X-Sync-Wait``.

        Past the wait the work goes on and the client gets 503 with ``Retry-After`` (its retry
        with the same ``X-Request-ID`` then receives the finished response) — or, if it sent
        ``Prefer: respond-async``, 202 with the status URL to poll in ``Content-Location``.
        """
        key = idempotency_key(caller, request.method, request.scope["path"], request_id)
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
            ),
            request.scope["path"],
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
                ),
                request.scope["path"],
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

    async def admit(self, request: Request) -> Admitted | Response | None:
        """The checks that come before a request's body is read: a response refuses the
        request, :class:`Admitted` lets an API request on, ``None`` marks a platform endpoint
        (health, metrics, admin), to which the API rules do not apply."""
        # The raw ASGI path, not request.url.path, which builds and parses a whole URL.
        api = api_for(request.scope["path"])
        if api is None:
            return None
        request_id = request.headers.get("x-request-id")
        # SDS's specification defines no X-Request-ID (only X-Correlation-Id and apikey).
        if api.fhir and not api.prefix.startswith(SDS_PREFIX):
            if request_id is None:
                return spine_error_response(
                    BadRequest(
                        "Invalid request with error - X-Request-ID header must be supplied "
                        "to access this resource",
                        code="MISSING_VALUE",
                    ),
                    request.scope["path"],
                )
            try:
                uuid.UUID(request_id)
            except ValueError:
                return spine_error_response(
                    BadRequest(
                        f"Invalid value - '{request_id}' in header 'X-Request-ID'",
                        code="INVALID_VALUE",
                    ),
                    request.scope["path"],
                )
        refused = self._unavailable(request, api)
        if refused is not None:
            return refused
        caller = await self._authenticate(request, api)
        if isinstance(caller, Response):
            return caller
        request.state.caller = caller
        refused = await self._limit(request, api, caller)
        if refused is not None:
            return refused
        return Admitted(api, caller, request_id)

    def body_limit(self, admitted: Admitted | None) -> int:
        """The largest body a request may send (MESH: 100 MB a request)."""
        return MESH_MAX_BODY_BYTES if admitted and not admitted.api.fhir else self.max_body_bytes

    async def handle(
        self, request: Request, admitted: Admitted, call_next: Next
    ) -> Response | None:
        """Run an admitted request: de-duplicated when it changes state (its whole response is
        returned), otherwise ``None`` lets it through to the application, streamed."""
        if (
            admitted.caller is not None
            and admitted.request_id is not None
            and request.method in STATE_CHANGING
        ):
            return await self._idempotent(
                request, call_next, admitted.api, admitted.request_id, admitted.caller
            )
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
        # EPS publishes its media type with the FHIR version ("application/fhir+json;
        # fhirVersion=4.0", the electronic-prescription-service-api pact tests); the other APIs
        # publish the bare one.
        eps = scope["path"].startswith(EPS_PREFIXES)

        async def send_echoing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in echoed:
                    headers[name] = value
                if eps and headers.get("content-type") == FHIR_JSON:
                    headers["content-type"] = EPS_FHIR_JSON
            await send(message)

        started = time.perf_counter()
        platform.metrics.in_flight.inc()
        try:
            response, receive = await self._respond(platform, request, receive)
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

    async def _respond(
        self, platform: Platform, request: Request, receive: Receive
    ) -> tuple[Response | None, Receive]:
        """The platform's answer (``None`` lets the application answer) and the ``receive``
        the application reads: a body, when there is one, is read within its limits first."""
        admitted = await platform.admit(request)
        if isinstance(admitted, Response):
            return admitted, receive
        if request.method not in BODYLESS:
            try:
                receive = await read_body(
                    request.scope,
                    receive,
                    limit=platform.body_limit(admitted),
                    timeout_s=platform.request_timeout_s,
                )
            except RequestRefused as refused:
                response = http_error_response(request, refused.status, refused.diagnostics)
                response.headers["Connection"] = "close"
                return response, receive
        if admitted is None:
            return None, receive
        return await platform.handle(
            Request(request.scope, receive), admitted, self._capture
        ), receive


def install_platform(app: FastAPI) -> None:
    """Register the platform middleware (the platform itself is built in the lifespan)."""
    app.add_middleware(PlatformMiddleware)
