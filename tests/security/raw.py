"""Raw-socket tools for attacking a live ``harness serve`` (the security suite and the soak)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import psutil

from tests.conftest import LiveServer


def address(server: LiveServer) -> tuple[str, int]:
    """The server's host and port."""
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def workers_rss(server: LiveServer) -> int:
    """Resident memory of the server and all its worker processes, in bytes."""
    root = psutil.Process(server.process.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def read_status(sock: socket.socket, timeout_s: float) -> int | None:
    """The status of the response waiting on ``sock`` (None if it closed without one)."""
    sock.settimeout(timeout_s)
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n" not in data and (chunk := sock.recv(4096)):
            data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


@contextlib.contextmanager
def trickling(sockets: list[socket.socket]) -> Iterator[None]:
    """Send one more header byte a second on every socket while the block runs."""
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(1.0):
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X")

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        yield
    finally:
        stop.set()
        feeder.join()
