"""Request limits: header size, body size and the time a client may take to send its body.

A public service must not let one client hold a worker or its memory: headers larger than
``max_header_bytes`` are refused with 431, bodies larger than the API's limit with 413 (MESH
allows 100 MB a request, every other API ``max_body_bytes``), and a body that has not fully
arrived ``request_timeout_s`` after the request started is refused with 408 (a slow-loris
client). The body is read here, within those limits, and handed to the application whole, so
the application never sees a partial or oversized body.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.server.apis import api_for
from harness.server.errors import http_error_response
from harness.spine.identifiers import ascii_digits

MESH_MAX_BODY_BYTES = 100 * 1024 * 1024  # "at most 100 MB per request"; chunk anything larger
BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class _Refused(Exception):
    def __init__(self, status: int, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics


class LimitsMiddleware:
    """Pure ASGI middleware enforcing the limits before anything else runs."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_header_bytes: int,
        max_body_bytes: int,
        request_timeout_s: float,
    ) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.request_timeout_s = request_timeout_s

    def _body_limit(self, path: str) -> int:
        api = api_for(path)
        return MESH_MAX_BODY_BYTES if api is not None and not api.fhir else self.max_body_bytes

    async def _read_body(self, receive: Receive, limit: int, declared: int | None) -> bytes:
        if declared is not None and declared > limit:
            raise _Refused(413, f"request body larger than {limit} bytes")
        deadline = time.monotonic() + self.request_timeout_s
        parts: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                # asyncio.timeout, not wait_for: no task per body message.
                async with asyncio.timeout(max(remaining, 0.001)):
                    message = await receive()
            except TimeoutError:
                raise _Refused(
                    408, f"request body not received within {self.request_timeout_s:g} s"
                ) from None
            if message["type"] == "http.disconnect":
                raise _Refused(400, "client disconnected before sending the body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Refused(413, f"request body larger than {limit} bytes")
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            header_bytes = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
            if header_bytes > self.max_header_bytes:
                raise _Refused(431, f"request headers larger than {self.max_header_bytes} bytes")
            if scope["method"] in BODYLESS:
                await self.app(scope, receive, send)
                return
            declared_text = request.headers.get("content-length")
            declared = int(declared_text) if declared_text and ascii_digits(declared_text) else None
            body = await self._read_body(receive, self._body_limit(scope["path"]), declared)
        except _Refused as refused:
            response = http_error_response(request, refused.status, refused.diagnostics)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
