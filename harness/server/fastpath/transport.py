"""One socket write per response: the guarded httptools protocol behind a coalescing transport.

uvicorn writes a response's status line and headers as soon as the application sends
``http.response.start``, and the body with a second ``transport.write`` when it sends
``http.response.body``. uvloop sends each write at once (``TCP_NODELAY``), so every ordinary
response is two ``send`` system calls and two TCP segments. :class:`CoalescingTransport` keeps
the writes made during one turn of the event loop and sends them together at the start of the
next turn (``loop.call_soon``): Starlette sends the start and the body of a response in the same
turn, so they leave in one ``send``. Bytes keep their order, and nothing waits longer than the
rest of the turn. No library offers this for uvicorn, so it is a transport proxy; uvicorn's
protocol code is unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness.server.transport import GuardedHttpToolsProtocol


class CoalescingTransport:
    """A transport proxy that sends the writes of one event-loop turn as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Send what this turn wrote (also called before closing)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(p) for p in self._pending)

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(GuardedHttpToolsProtocol):
    """The guarded httptools protocol, writing through a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        coalescing: Any = CoalescingTransport(transport, self.loop)  # type: ignore[arg-type]
        super().connection_made(coalescing)
