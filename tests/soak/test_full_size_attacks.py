"""The security review's attacks at full size against one ``harness serve`` (``make soak``).

``tests/security/`` runs each attack at a size that keeps ``make test`` fast; this runs them as
the review did and prints, per attack, the requests tried, what they got, and the server's
memory (all worker processes) before and after. Every answer must be the documented refusal,
and ``/health`` must keep answering throughout.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from harness.server.transport import HEADER_TIMEOUT_S
from tests.conftest import (
    MESH_SEED,
    LiveServer,
    live_session_headers,
    start_server,
    stop_server,
)
from tests.factories import mesh_auth
from tests.security.raw import address, read_status, trickling, workers_rss

pytestmark = pytest.mark.soak
PDS = "/personal-demographics/FHIR/R4"
MIB = 1024 * 1024
SLOW_CONNECTIONS = 3_000


def _status(sock: socket.socket, timeout_s: float) -> str:
    return str(read_status(sock, timeout_s) or "closed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp_path = tmp_path_factory.mktemp("attacks")
    seed = tmp_path / "mesh.yaml"
    seed.write_text(MESH_SEED)
    live = start_server(
        tmp_path,
        *("--workers", "2", "--organisations", "200", "--seed", "7", "--test-mode"),
        *("--mesh-directory", str(seed)),
        *("--database-url", f"sqlite+aiosqlite:///{tmp_path / 'attacks.db'}"),
    )
    yield live
    stop_server(live)


RESULTS: list[tuple[str, int, str, int, int]] = []


def _attack(server: LiveServer, name: str, tries: int, one: Callable[[int], str]) -> Counter[str]:
    before = workers_rss(server)
    with ThreadPoolExecutor(16) as pool:
        answers = Counter(pool.map(one, range(tries)))
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    after = workers_rss(server)
    RESULTS.append((name, tries, ", ".join(f"{k}×{v}" for k, v in answers.items()), before, after))
    print(
        f"\n{name}: {tries} tried -> {dict(answers)}; workers' RSS {before / MIB:.0f} -> "
        f"{after / MIB:.0f} MiB"
    )
    return answers


def test_giant_headers(server: LiveServer) -> None:
    def one(_: int) -> str:
        with socket.create_connection(address(server), timeout=30) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
            with contextlib.suppress(OSError):
                for _ in range(200 * MIB // 65_536):  # 200 MiB offered
                    sock.sendall(b"a" * 65_536)
            return _status(sock, 10)

    assert set(_attack(server, "one 200 MiB header, 4 at once", 4, one)) == {"431"}


def test_slow_headers(server: LiveServer) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8_192)), hard))
    sockets = []
    for _ in range(SLOW_CONNECTIONS):
        sock = socket.create_connection(address(server), timeout=10)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        sockets.append(sock)
    with trickling(sockets):
        time.sleep(HEADER_TIMEOUT_S + 5)
    answers = _attack(
        server,
        f"{SLOW_CONNECTIONS:,} heads trickled a byte a second",
        SLOW_CONNECTIONS,
        lambda n: _status(sockets[n], 5),
    )
    for sock in sockets:
        sock.close()
    assert set(answers) == {"408"}


def test_forged_tokens(server: LiveServer) -> None:
    headers = live_session_headers(server.url)
    local = threading.local()  # one keep-alive client per thread: the server is measured

    def one(n: int) -> str:
        if not hasattr(local, "client"):
            # From another loopback address than the genuine client's, as an attacker would be:
            # failed authentications are limited per source address.
            transport = httpx.HTTPTransport(local_address="127.0.0.2")
            local.client = httpx.Client(base_url=server.url, timeout=10, transport=transport)
        forged = {
            "Authorization": f"Bearer {200000000000 + n % 200}.forged",
            "X-Request-ID": str(uuid.uuid4()),
        }
        return str(local.client.get(f"{PDS}/Patient/9000000009", headers=forged).status_code)

    answers = _attack(server, "30,000 forged bearer tokens", 30_000, one)
    assert set(answers) <= {"401", "429"}
    genuine = httpx.get(
        f"{server.url}{PDS}/Patient/9000000009",
        headers={**headers, "X-Request-ID": str(uuid.uuid4())},
        timeout=10,
    )
    assert genuine.status_code == 200


def test_forged_mesh_sends_with_large_bodies(server: LiveServer) -> None:
    body = b"x" * (95 * MIB)

    def one(_: int) -> str:
        headers = {
            **mesh_auth("X26ABC1", password="not-the-password"),
            "Mex-To": "X26ABC2",
            "Mex-WorkflowID": "TEST_WORKFLOW",
            "Content-Type": "application/octet-stream",
        }
        try:
            response = httpx.post(
                f"{server.url}/messageexchange/X26ABC1/outbox",
                content=body,
                headers=headers,
                timeout=60,
            )
        except httpx.HTTPError:
            return "closed"  # refused before the upload finished
        return str(response.status_code)

    answers = _attack(server, "8 forged MESH sends of 95 MiB", 8, one)
    assert set(answers) <= {"403", "closed"}


def test_giant_json_patch(server: LiveServer) -> None:
    headers = live_session_headers(server.url)
    patch = [{"op": "test", "path": "/gender", "value": "male"}] * 60_000

    def one(_: int) -> str:
        response = httpx.patch(
            f"{server.url}{PDS}/Patient/9000000009",
            json=patch,
            headers={**headers, "X-Request-ID": str(uuid.uuid4()), "If-Match": 'W/"1"',
                     "Content-Type": "application/json-patch+json"},
            timeout=30,
        )  # fmt: skip
        return str(response.status_code)

    assert set(_attack(server, "JSON Patch of 60,000 operations", 10, one)) == {"400"}


def test_print_the_table() -> None:
    print("\n| attack | tried | answers | workers' RSS before → after (MiB) |\n|---|---|---|---|")
    for name, tries, answers, before, after in RESULTS:
        print(f"| {name} | {tries:,} | {answers} | {before / MIB:.0f} → {after / MIB:.0f} |")
