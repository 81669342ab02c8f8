"""The server's connections: each request's head bounded in size and time.

**Bounded heads.** httptools buffers a header (and uvicorn the URL) until it is complete, so a
client sending one endless header made a worker hold hundreds of megabytes before any limit
could look at it, and a client trickling header bytes held its connection for ever (uvicorn's
keep-alive timer only runs between requests). :class:`GuardedHttpToolsProtocol` counts the bytes
of each request's head as they arrive and answers 431 and closes the connection once they pass
uvicorn's ``h11_max_incomplete_event_size`` (the limit uvicorn applies to its h11 protocol, here
applied to httptools), and answers 408 and closes when a head has not fully arrived
:data:`HEADER_TIMEOUT_S` after its first byte (or after the connection opened). What is buffered
is at most the limit plus one read from the socket.

This guard is a security bound, not a speed-up: it runs whether or not the fast path
(:mod:`harness.server.fastpath`) is on.
"""

from __future__ import annotations

import asyncio
import json

# uvicorn has no public hook on a request head as it arrives; the protocol class is the one
# place to count it (a security bound, so allowed outside the fast path: see pyproject.toml).
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 10.0  # a request's head must fully arrive within this of its first byte


def _refusal(status: int, reason: str, diagnostics: str) -> bytes:
    body = json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "invalid", "diagnostics": diagnostics}],
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/fhir+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with each request's head bounded in size and time."""

    _in_head = True  # between requests, or reading one's request line and headers
    _head_bytes = 0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._head_timer is None:
                self._arm_head_timer()
            self._head_bytes += len(data)
        super().data_received(data)
        limit = self.config.h11_max_incomplete_event_size
        if self._in_head and limit is not None and self._head_bytes > limit:
            self._refuse(431, "Request Header Fields Too Large", f"request head over {limit} bytes")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and self._head_bytes:
            self._refuse(
                408, "Request Timeout", f"request head not received in {HEADER_TIMEOUT_S:g} s"
            )
        elif self._in_head and self.cycle is None:
            self.transport.close()  # opened and never used

    def _refuse(self, status: int, reason: str, diagnostics: str) -> None:
        self._cancel_head_timer()
        self._in_head = False  # nothing more is read from this connection
        if not self.transport.is_closing():
            self.transport.write(_refusal(status, reason, diagnostics))
            self.transport.close()
