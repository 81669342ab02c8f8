"""NHS England's real ``mesh-client`` against ``harness serve --workers 2`` on 127.0.0.1."""

from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
import trustme
from mesh_client import AuthTokenGenerator, MeshClient, MeshError

from tests.conftest import MESH_SEED, LiveServer, free_port, start_server, stop_server

pytestmark = [
    pytest.mark.integration,
    # mesh-client leaves the pooled socket of a streamed gzip download to the garbage collector.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
KEY = b"TestKey"


def client_for(
    server: LiveServer, mailbox: str, password: str = "password", **kwargs: object
) -> MeshClient:
    return MeshClient(server.url, mailbox, password, shared_key=KEY, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One ``harness serve --workers 2`` for the module's tests (each start costs seconds).

    The tests use their own mailboxes or message ids and count metrics as differences, so
    they do not see each other's messages.
    """
    folder = tmp_path_factory.mktemp("mesh-server")
    seed = folder / "mesh.yaml"
    seed.write_text(MESH_SEED)
    server = start_server(
        folder,
        *("--workers", "2", "--organisations", "200", "--seed", "7"),
        *("--mesh-directory", str(seed), "--test-mode"),
        *("--database-url", f"sqlite+aiosqlite:///{folder / 'live.db'}"),
    )
    yield server
    stop_server(server)


@pytest.fixture
def alice(live_server: LiveServer) -> Iterator[MeshClient]:
    with client_for(live_server, "X26ABC1", max_chunk_size=1024 * 1024) as client:
        yield client


@pytest.fixture
def bob(live_server: LiveServer) -> Iterator[MeshClient]:
    with client_for(live_server, "X26ABC2") as client:
        yield client


def test_handshake_and_ping(alice: MeshClient) -> None:
    assert alice.ping()["outcome"] == "Healthy"
    alice.handshake()


def test_chunked_multi_megabyte_round_trip(alice: MeshClient, bob: MeshClient) -> None:
    data = os.urandom(3 * 1024 * 1024 + 12_345)  # four chunks of at most 1 MiB
    message_id = alice.send_message(
        "X26ABC2",
        data,
        workflow_id="RESTRICTED",
        subject="results",
        local_id="local-1",
        filename="r.bin",
    )
    assert message_id in bob.list_messages()
    message = bob.retrieve_message(message_id)
    assert message.read() == data
    assert (message.sender, message.workflow_id, message.subject, message.local_id) == (
        "X26ABC1",
        "RESTRICTED",
        "results",
        "local-1",
    )
    assert message.mex_header("chunk-range") == "1:4"
    assert alice.track_message(message_id)["status"] == "accepted"
    message.acknowledge()
    assert alice.track_message(message_id)["status"] == "acknowledged"
    with pytest.raises(requests.HTTPError) as gone:
        bob.retrieve_message(message_id)
    assert gone.value.response.status_code == 410


def test_gzip_transparent_compression(alice: MeshClient, bob: MeshClient) -> None:
    text = b"PID|1||9000000009^^^NHS||DOE^JOHN\n" * 20_000
    message_id = alice.send_message("X26ABC2", text, workflow_id="TEST_WORKFLOW", compress=True)
    with bob.retrieve_message(message_id) as message:
        assert message.read() == text


def test_paging_through_more_than_500(live_server: LiveServer) -> None:
    with (
        client_for(live_server, "X26ABC1") as sender,
        client_for(live_server, "X26ABC3") as receiver,
    ):
        sent = [
            sender.send_message("X26ABC3", b"x", workflow_id="TEST_WORKFLOW") for _ in range(510)
        ]
        assert len(receiver.list_messages()) == 500
        assert list(receiver.iterate_message_ids()) == sent
        with pytest.warns(DeprecationWarning, match="deprecated"):
            assert receiver.count_messages() == 510


def test_endpoint_lookup(alice: MeshClient) -> None:
    assert alice.lookup_endpoint("X26", "RESTRICTED") == {
        "results": [{"mailbox_id": "X26ABC2", "mailbox_name": "X26ABC2"}]
    }


def test_error_cases(live_server: LiveServer, alice: MeshClient) -> None:
    with pytest.raises(MeshError, match="Unregistered to address"):
        alice.send_message("NOBODY99", b"x", workflow_id="TEST_WORKFLOW")
    # RESTRICTED goes from X26ABC1 to X26ABC2 only; a workflow no entry restricts is delivered,
    # as MESH and its published emulator do (tests/conformance/test_mesh.py).
    with pytest.raises(MeshError, match="Workflow ID not registered"):
        alice.send_message("X26ABC3", b"x", workflow_id="RESTRICTED")
    assert alice.send_message("X26ABC2", b"x", workflow_id="NOT_A_WORKFLOW")
    with (
        client_for(live_server, "X26ABC1", password="wrong") as intruder,
        pytest.raises(requests.HTTPError) as refused,
    ):
        intruder.list_messages()
    assert refused.value.response.status_code == 403


def test_replayed_nonce_is_refused(live_server: LiveServer) -> None:
    token = AuthTokenGenerator(KEY, "X26ABC1", "password")()
    url = f"{live_server.url}/messageexchange/X26ABC1/inbox"
    headers = {"Authorization": token, "Accept": "application/vnd.mesh.v2+json"}
    assert httpx.get(url, headers=headers).status_code == 200
    # The second worker must refuse it too: nonces are shared through storage.
    assert [httpx.get(url, headers=headers).status_code for _ in range(4)] == [403] * 4


def _pings_counted(server: LiveServer) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("spine_requests_total{") and 'route="/messageexchange/_ping"' in line
    )


def test_metrics_add_up_across_workers(live_server: LiveServer) -> None:
    before = _pings_counted(live_server)  # the module's other tests ping too
    for _ in range(20):
        assert httpx.get(f"{live_server.url}/messageexchange/_ping").status_code == 200
    assert _pings_counted(live_server) - before == 20.0


def test_mutual_tls(tmp_path: Path, mesh_seed: Path) -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("X26ABC1.mesh.test")
    paths = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key", "client")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server_cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    server_cert.private_key_pem.write_to_path(str(paths["key"]))
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(paths["client"]))
    ctx = ssl.create_default_context(cafile=str(paths["ca"]))
    ctx.load_cert_chain(str(paths["client"]))
    server = start_server(
        tmp_path,
        "--organisations",
        "50",
        "--mesh-directory",
        str(mesh_seed),
        "--tls-cert",
        str(paths["cert"]),
        "--tls-key",
        str(paths["key"]),
        "--tls-ca",
        str(paths["ca"]),
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'tls.db'}",
        scheme="https",
        verify=ctx,
    )
    try:
        with MeshClient(
            server.url,
            "X26ABC1",
            "password",
            shared_key=KEY,
            verify=str(paths["ca"]),
            cert=(str(paths["client"]),),
        ) as client:
            client.handshake()
            message_id = client.send_message("X26ABC2", b"over mTLS", workflow_id="TEST_WORKFLOW")
            assert message_id
        # Without a client certificate the TLS handshake itself is refused.
        with pytest.raises(httpx.HTTPError):
            httpx.get(
                f"{server.url}/health", verify=ssl.create_default_context(cafile=str(paths["ca"]))
            )
    finally:
        stop_server(server)


def test_serve_refuses_a_taken_port(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness",
                "serve",
                "--port",
                str(port),
                "--organisations",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            check=False,
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr


def test_serve_refuses_an_unreachable_database(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "serve",
            "--port",
            str(free_port()),
            "--organisations",
            "10",
            "--database-url",
            "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot open the database" in result.stderr


def test_unique_request_ids_are_echoed(live_server: LiveServer) -> None:
    request_id = str(uuid.uuid4())
    response = httpx.get(
        f"{live_server.url}/organisation-data/FHIR/R4/Organization/X26",
        headers={"X-Request-ID": request_id, "X-Correlation-ID": "c-1"},
    )
    assert response.status_code == 401  # no session, but the ids still come back
    assert response.headers["x-request-id"] == request_id
    assert response.headers["x-correlation-id"] == "c-1"
