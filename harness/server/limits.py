"""Request limits: header size, body size and the time a client may take to send its body.

A public service must not let one client hold a worker or its memory: headers larger than
``max_header_bytes`` are refused with 431 and URLs longer than :data:`MAX_URL_BYTES` with 414
(here, first of all); bodies larger than the API's limit with 413 (MESH allows 100 MB a
request, every other API ``max_body_bytes``), and a body that has not fully arrived
``request_timeout_s`` after the request started with 408 (a slow-loris client). Bodies are read
by :func:`read_body` — called by the platform only once the caller is authenticated — and handed
to the application whole, so the application never sees a partial or oversized body.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.server.errors import http_error_response
from harness.spine.identifiers import ascii_digits

MESH_MAX_BODY_BYTES = 100 * 1024 * 1024  # "at most 100 MB per request"; chunk anything larger
MAX_URL_BYTES = 8_192  # path and query together; longer URLs are refused (414)
BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class RequestRefused(Exception):
    """A request broke a limit; ``status`` and ``diagnostics`` say which."""

    def __init__(self, status: int, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, when it is a plain number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1")
            return int(text) if text and ascii_digits(text) else None
    return None


async def read_body(scope: Scope, receive: Receive, *, limit: int, timeout_s: float) -> Receive:
    """Read a request's whole body within ``limit`` bytes and ``timeout_s``; return a
    ``receive`` that hands it to the application in one message.

    Raises:
        RequestRefused: 413 when the body is (or is declared) larger than ``limit``, 408 when
            it has not fully arrived in time, 400 when the client went away.
    """
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise RequestRefused(413, f"request body larger than {limit} bytes")
    deadline = time.monotonic() + timeout_s
    parts: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        try:
            # asyncio.timeout, not wait_for: no task per body message.
            async with asyncio.timeout(max(remaining, 0.001)):
                message = await receive()
        except TimeoutError:
            raise RequestRefused(408, f"request body not received within {timeout_s:g} s") from None
        if message["type"] == "http.disconnect":
            raise RequestRefused(400, "client disconnected before sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestRefused(413, f"request body larger than {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _url_bytes(scope: Scope) -> int:
    path = scope.get("raw_path") or scope["path"].encode()
    return len(path) + len(scope.get("query_string", b""))


class LimitsMiddleware:
    """Pure ASGI middleware refusing oversized headers and URLs before anything else runs.

    Bodies are read later, by the platform, once the caller is authenticated
    (:func:`read_body`). Under ``harness serve`` the same header limit is also enforced at the
    socket, before a header is buffered (:mod:`harness.server.transport`); this check covers
    every other server.
    """

    def __init__(self, app: ASGIApp, *, max_header_bytes: int) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        refused: tuple[int, str] | None = None
        if header_bytes > self.max_header_bytes:
            refused = (431, f"request headers larger than {self.max_header_bytes} bytes")
        elif (
            len(scope.get("raw_path") or b"") + len(scope.get("query_string", b"")) > MAX_URL_BYTES
        ):
            refused = (414, f"request URL longer than {MAX_URL_BYTES} bytes")
        if refused is None:
            await self.app(scope, receive, send)
            return
        response = http_error_response(Request(scope), *refused)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
