"""``CoalescingTransport`` sends one event-loop turn's writes as one, in order, and loses none."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from harness.server.fastpath.transport import CoalescingHttpToolsProtocol, CoalescingTransport
from tests.conftest import free_port


class Recording:
    """A transport that records what it is asked to send."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write_eof(self) -> None:
        self.writes.append(b"<eof>")

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A private event loop the tests turn by hand."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def real() -> Recording:
    return Recording()


@pytest.fixture
def transport(real: Recording, loop: asyncio.AbstractEventLoop) -> CoalescingTransport:
    return CoalescingTransport(real, loop)  # type: ignore[arg-type]


def _turn(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_the_writes_of_one_turn_leave_as_one_in_order(
    loop: asyncio.AbstractEventLoop, real: Recording, transport: CoalescingTransport
) -> None:
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"")
    transport.writelines([b"body-", bytearray(b"1")])
    assert real.writes == []
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody-1")
    _turn(loop)
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody-1"]
    transport.write(b"next")
    _turn(loop)
    assert real.writes[-1] == b"next"
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is proxied


def test_close_and_eof_send_what_is_pending_first(
    loop: asyncio.AbstractEventLoop, real: Recording, transport: CoalescingTransport
) -> None:
    transport.write(b"last words")
    transport.write_eof()
    transport.close()
    assert real.writes == [b"last words", b"<eof>"]
    assert real.closed
    transport.write(b"too late")
    _turn(loop)  # dropped, as a closing transport drops it: no error
    assert real.writes == [b"last words", b"<eof>"]


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for n in range(3):
            await send({"type": "http.response.body", "body": f"part{n};".encode(),
                        "more_body": True})  # fmt: skip
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"end", "more_body": False})
        return
    status = 204 if path == "/empty" else 200
    body = b"" if status == 204 else b"x" * (int(path.strip("/") or 0))
    headers = [(b"content-length", str(len(body)).encode())] if status == 200 else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


SENT: list[bytes] = []  # what the sockets of the servers below were asked to send


class _Counted:
    """Stands between uvicorn's protocol and the socket's transport, recording each write."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        SENT.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CountedCoalescing(CoalescingHttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(_Counted(transport))


class CountedPlain(HttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(_Counted(transport))


def _serve(protocol: type[asyncio.Protocol]) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, loop="uvloop", http=protocol,
        log_level="warning", lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served() -> Iterator[str]:
    yield from _serve(CountedCoalescing)


@pytest.fixture
def served_plain() -> Iterator[str]:
    yield from _serve(CountedPlain)


def test_uvicorn_serves_whole_responses_through_it(served: str) -> None:
    with httpx.Client(base_url=served) as client:  # one kept-alive connection
        for size in (0, 10, 300_000, 7):
            response = client.get(f"/{size}")
            assert response.status_code == 200
            assert response.content == b"x" * size
        assert client.get("/stream").content == b"part0;part1;part2;end"
        assert client.get("/empty").status_code == 204
        head = client.head("/10")
        assert head.status_code == 200
        assert head.content == b""
        assert client.get("/3").content == b"xxx"


@pytest.mark.parametrize("coalescing", [True, False])
def test_a_response_is_one_write_instead_of_two(
    coalescing: bool, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("served" if coalescing else "served_plain")
    with httpx.Client(base_url=url) as client:
        client.get("/1")  # the connection is open and warm
        SENT.clear()
        assert client.get("/5").content == b"xxxxx"
    response = b"".join(SENT)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"\r\n\r\nxxxxx")
    assert len(SENT) == (1 if coalescing else 2)  # uvicorn alone writes the head, then the body
