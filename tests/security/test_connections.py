"""Bounded connections on a real ``harness serve`` (findings 3, 6, 10 and 11).

Each test talks to the server over raw sockets on 127.0.0.1, at sizes that keep the suite fast
(MiB, tens of connections); the full-size attacks run in ``make soak``.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from harness.server.transport import HEADER_TIMEOUT_S
from tests.conftest import LiveServer, start_server, stop_server
from tests.factories import SHARED_KEY, mesh_auth
from tests.security.raw import address, read_status, trickling, workers_rss

pytestmark = pytest.mark.integration
MX = "/messageexchange"


@pytest.fixture
def one_worker(tmp_path: Path, mesh_seed: Path) -> Iterator[LiveServer]:
    """One worker in test mode: the shape under which finding 11 wedged the store."""
    server = start_server(
        tmp_path,
        *("--workers", "1", "--organisations", "200", "--seed", "7", "--test-mode"),
        *("--mesh-directory", str(mesh_seed)),
        *("--database-url", f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"),
        env={"HARNESS_MESH_SHARED_KEY": SHARED_KEY},
    )
    yield server
    stop_server(server)


def test_a_giant_header_is_refused_at_the_socket_before_it_is_buffered(
    one_worker: LiveServer,
) -> None:
    before = workers_rss(one_worker)
    sent = 0
    with socket.create_connection(address(one_worker), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        chunk = b"a" * 65_536
        with contextlib.suppress(OSError):  # the server closes as soon as the head is too big
            while sent < 32 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        status = read_status(sock, 10)
    assert status == 431
    assert sent < 4 * 1024 * 1024, f"the server read {sent} bytes of one header"
    assert workers_rss(one_worker) - before < 32 * 1024 * 1024
    assert httpx.get(f"{one_worker.url}/health", timeout=5).status_code == 200


def test_slow_headers_are_cut_off_and_the_server_keeps_answering(one_worker: LiveServer) -> None:
    sockets = []
    for _ in range(30):
        sock = socket.create_connection(address(one_worker), timeout=5)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)
    try:
        with trickling(sockets):
            assert httpx.get(f"{one_worker.url}/health", timeout=5).status_code == 200
            time.sleep(HEADER_TIMEOUT_S + 2)
        statuses = [read_status(sock, 2) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert statuses == [408] * len(sockets)
    assert httpx.get(f"{one_worker.url}/health", timeout=5).status_code == 200


def test_a_mesh_body_is_not_read_before_the_token_is_checked(one_worker: LiveServer) -> None:
    forged = mesh_auth("X26ABC1", password="not-the-password")["Authorization"]
    head = (
        f"POST {MX}/X26ABC1/outbox HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {forged}\r\nMex-To: X26ABC2\r\nMex-WorkflowID: TEST_WORKFLOW\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {90 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection(address(one_worker), timeout=10) as sock:
        sock.sendall(head.encode())
        # Not one byte of the 90 MiB body is sent: the answer must come without it.
        status = read_status(sock, 10)
    assert status == 403


def test_reset_send_ledger_and_lifecycle_together_never_lock_the_store(
    one_worker: LiveServer,
) -> None:
    # A published MESH test suite resets before every case and then sends; the rate-limit
    # ledger and the MESH lifecycle run in the same worker meanwhile.
    duration_s = 60.0
    deadline = time.monotonic() + duration_s
    statuses: dict[str, list[int]] = {"reset": [], "send": [], "lifecycle": [], "inbox": []}

    def loop(kind: str) -> None:
        with httpx.Client(base_url=one_worker.url, timeout=45) as client:
            while time.monotonic() < deadline:
                if kind == "reset":
                    response = client.delete("/admin/reset")
                elif kind == "lifecycle":
                    response = client.post("/admin/mesh/lifecycle")
                elif kind == "send":
                    response = client.post(
                        f"{MX}/X26ABC1/outbox",
                        content=b"hello",
                        headers={
                            **mesh_auth("X26ABC1"),
                            "Mex-To": "X26ABC2",
                            "Mex-WorkflowID": "TEST_WORKFLOW",
                            "Content-Type": "application/octet-stream",
                            "Mex-LocalID": str(uuid.uuid4()),
                        },
                    )
                else:
                    response = client.get(f"{MX}/X26ABC2/inbox", headers=mesh_auth("X26ABC2"))
                statuses[kind].append(response.status_code)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(loop, statuses))
    assert "database is locked" not in one_worker.log()
    for kind, seen in statuses.items():
        assert seen, kind
        assert all(status < 500 for status in seen), (kind, sorted(set(seen)))
    assert len(statuses["reset"]) >= 20
