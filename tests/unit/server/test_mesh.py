"""MESH rules through HTTP: authentication, sending, receiving, paging, lifecycle, durability."""

from __future__ import annotations

import gzip
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from harness.config import ServerSettings
from harness.server.app import create_app
from harness.server.mesh.auth import CLOCK_TOLERANCE_S
from tests.factories import V2, admin, mesh_auth

MX = "/messageexchange"


def send(
    client: TestClient,
    sender: str,
    recipient: str,
    body: bytes = b"hello",
    *,
    workflow: str = "TEST_WORKFLOW",
    extra: dict[str, str] | None = None,
) -> object:
    headers = {
        **mesh_auth(sender),
        **V2,
        "Mex-To": recipient,
        "Mex-WorkflowID": workflow,
        "Content-Type": "application/octet-stream",
        **(extra or {}),
    }
    return client.post(f"{MX}/{sender}/outbox", content=body, headers=headers)


def inbox(client: TestClient, mailbox: str, **params: object) -> dict[str, object]:
    response = client.get(
        f"{MX}/{mailbox}/inbox", headers={**mesh_auth(mailbox), **V2}, params=params
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_handshake_and_ping(client: TestClient) -> None:
    assert client.get(f"{MX}/_ping").json()["outcome"] == "Healthy"
    # By POST or GET; v2 clients get an empty 200, v1 clients the mailbox id (as mesh-sandbox).
    response = client.post(f"{MX}/X26ABC1", headers={**mesh_auth("X26ABC1"), **V2})
    assert (response.status_code, response.content) == (200, b"")
    response = client.get(f"{MX}/X26ABC1", headers=mesh_auth("X26ABC1"))
    assert response.status_code == 200
    assert response.json() == {"mailboxId": "X26ABC1"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing Authorization"),
        ({"Authorization": "Basic abc"}, "NHSMESH scheme"),
        ({"Authorization": "NHSMESH X26ABC1:n:0:202401010000"}, "five"),
        (mesh_auth("X26ABC1", password="wrong"), "invalid credentials"),
        (mesh_auth("X26ABC2"), "not for this mailbox"),
        (mesh_auth("NOBODY1"), "unknown mailbox"),
        # Timestamps out of tolerance are made when the test runs, not when it is collected:
        # a long suite would otherwise bring the future one back within tolerance.
        ({"skew_s": -CLOCK_TOLERANCE_S - 600}, "2 hours"),
        ({"skew_s": CLOCK_TOLERANCE_S + 600}, "2 hours"),
    ],
)
def test_bad_credentials_are_refused(
    client: TestClient, headers: dict[str, object], reason: str
) -> None:
    if "skew_s" in headers:
        skew = float(headers["skew_s"])  # type: ignore[arg-type]
        headers = dict(mesh_auth("X26ABC1", at=time.time() + skew))
    response = client.get(f"{MX}/X26ABC1/inbox", headers={**headers, **V2})
    assert response.status_code == 403
    assert reason in response.json()["detail"][0]["msg"]


def test_lower_case_mailbox_in_token_is_refused(client: TestClient) -> None:
    header = mesh_auth("X26ABC1")["Authorization"].replace("X26ABC1", "x26abc1", 1)
    response = client.get(f"{MX}/X26ABC1/inbox", headers={"Authorization": header, **V2})
    assert response.status_code == 403


def test_replayed_token_is_refused_but_retry_after_429_is_not(
    server_settings: ServerSettings,
) -> None:
    settings = server_settings.model_copy(update={"global_rate_limit_per_s": 2})
    with TestClient(create_app(settings)) as client:
        header = mesh_auth("X26ABC1", nonce=str(uuid.uuid4()), count=3)
        assert client.get(f"{MX}/X26ABC1/inbox", headers={**header, **V2}).status_code == 200
        replay = client.get(f"{MX}/X26ABC1/inbox", headers={**header, **V2})
        assert replay.status_code == 403
        assert "already used" in replay.json()["detail"][0]["msg"]
        # Exhaust the global limit, then resend one header after its 429, as mesh-client does.
        fresh = mesh_auth("X26ABC1", nonce=str(uuid.uuid4()), count=0)
        limited = client.get(f"{MX}/X26ABC1/inbox", headers={**fresh, **V2})
        assert limited.status_code == 429
        time.sleep(1.05)
        assert client.get(f"{MX}/X26ABC1/inbox", headers={**fresh, **V2}).status_code == 200


@pytest.mark.parametrize(
    ("recipient", "workflow", "body", "extra", "code"),
    [
        ("NOBODY1", "TEST_WORKFLOW", b"x", {}, "12"),
        ("X26ABC3", "RESTRICTED", b"x", {}, "17"),  # recipient not registered for it
        ("X26ABC2", "TEST_WORKFLOW", b"", {}, "02"),
        ("X26ABC2", "TEST_WORKFLOW", b"x", {"Mex-Chunk-Range": "2:1"}, "06"),
        ("X26ABC2", "TEST_WORKFLOW", b"x", {"Mex-Chunk-Range": "one"}, "06"),
        ("X26ABC2", "TEST_WORKFLOW", b"x", {"Mex-Chunk-Range": "2:3"}, "06"),
    ],
)
def test_send_rejections_carry_mesh_codes(
    client: TestClient, recipient: str, workflow: str, body: bytes, extra: dict[str, str], code: str
) -> None:
    response = send(client, "X26ABC1", recipient, body, workflow=workflow, extra=extra)
    assert response.status_code == 417  # type: ignore[attr-defined]
    assert response.json()["detail"][0]["code"] == code  # type: ignore[attr-defined]


def test_a_workflow_no_entry_restricts_is_delivered(client: TestClient) -> None:
    response = send(client, "X26ABC1", "X26ABC2", b"x", workflow="NO_SUCH_WORKFLOW")
    assert response.status_code == 202, response.text  # type: ignore[attr-defined]


def test_sender_not_allowed_on_restricted_workflow(client: TestClient) -> None:
    response = send(client, "X26ABC3", "X26ABC2", workflow="RESTRICTED")
    assert response.status_code == 417  # type: ignore[attr-defined]
    assert response.json()["detail"][0]["code"] == "16"  # type: ignore[attr-defined]


def test_missing_recipient_header(client: TestClient) -> None:
    headers = {**mesh_auth("X26ABC1"), **V2, "Mex-WorkflowID": "TEST_WORKFLOW"}
    response = client.post(f"{MX}/X26ABC1/outbox", content=b"x", headers=headers)
    assert response.status_code == 417
    assert response.json()["detail"][0]["code"] == "08"


def test_send_list_download_acknowledge_and_track(client: TestClient) -> None:
    sent = send(
        client, "X26ABC1", "X26ABC2", b"payload", extra={"Mex-Subject": "s", "Mex-LocalID": "L-1"}
    )
    assert sent.status_code == 202  # type: ignore[attr-defined]
    message_id = sent.json()["message_id"]  # type: ignore[attr-defined]
    listed = inbox(client, "X26ABC2")
    assert listed["messages"] == [message_id]
    assert listed["approx_inbox_count"] == 1
    v1 = client.get(
        f"{MX}/X26ABC2/inbox", headers={**mesh_auth("X26ABC2"), "Accept": "application/json"}
    )
    assert v1.json() == {"messages": [message_id]}
    # Nobody else can read, acknowledge or track it.
    assert (
        client.get(f"{MX}/X26ABC3/inbox/{message_id}", headers=mesh_auth("X26ABC3")).status_code
        == 404
    )
    assert (
        client.put(
            f"{MX}/X26ABC3/inbox/{message_id}/status/acknowledged", headers=mesh_auth("X26ABC3")
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"{MX}/X26ABC3/outbox/tracking",
            params={"messageID": message_id},
            headers=mesh_auth("X26ABC3"),
        ).status_code
        == 404
    )
    head = client.head(f"{MX}/X26ABC2/inbox/{message_id}", headers=mesh_auth("X26ABC2"))
    assert head.status_code == 200
    assert head.headers["mex-from"] == "X26ABC1"
    got = client.get(f"{MX}/X26ABC2/inbox/{message_id}", headers=mesh_auth("X26ABC2"))
    assert got.status_code == 200
    assert got.content == b"payload"
    assert got.headers["mex-subject"] == "s"
    assert got.headers["mex-localid"] == "L-1"
    assert got.headers["mex-workflowid"] == "TEST_WORKFLOW"
    track = client.get(
        f"{MX}/X26ABC1/outbox/tracking",
        params={"messageID": message_id},
        headers={**mesh_auth("X26ABC1"), **V2},
    ).json()
    assert track["status"] == "accepted"
    assert track["status_success"] is True
    assert track["local_id"] == "L-1"
    ack = client.put(
        f"{MX}/X26ABC2/inbox/{message_id}/status/acknowledged",
        headers={**mesh_auth("X26ABC2"), **V2},
    )
    assert ack.status_code == 200
    gone = client.get(f"{MX}/X26ABC2/inbox/{message_id}", headers=mesh_auth("X26ABC2"))
    assert gone.status_code == 410
    assert inbox(client, "X26ABC2")["messages"] == []
    track = client.get(
        f"{MX}/X26ABC1/outbox/tracking",
        params={"messageID": message_id},
        headers={**mesh_auth("X26ABC1"), **V2},
    ).json()
    assert track["status"] == "acknowledged"
    assert track["status_success"] is True


def test_chunked_upload_is_delivered_only_when_complete(client: TestClient) -> None:
    parts = [b"a" * 1000, b"b" * 1000, b"c" * 10]
    first = send(client, "X26ABC1", "X26ABC2", parts[0], extra={"Mex-Chunk-Range": "1:3"})
    message_id = first.json()["message_id"]  # type: ignore[attr-defined]
    assert inbox(client, "X26ABC2")["messages"] == []
    for number, part in enumerate(parts[1:], start=2):
        headers = {**mesh_auth("X26ABC1"), "Mex-Chunk-Range": f"{number}:3"}
        response = client.post(
            f"{MX}/X26ABC1/outbox/{message_id}/{number}", content=part, headers=headers
        )
        assert response.status_code == 202
        # A retried chunk is harmless.
        retry = client.post(
            f"{MX}/X26ABC1/outbox/{message_id}/{number}",
            content=part,
            headers={**headers, **mesh_auth("X26ABC1")},
        )
        assert retry.status_code == 202
    assert inbox(client, "X26ABC2")["messages"] == [message_id]
    chunks = []
    for number in (1, 2, 3):
        path = f"{MX}/X26ABC2/inbox/{message_id}" + (f"/{number}" if number > 1 else "")
        response = client.get(path, headers=mesh_auth("X26ABC2"))
        assert response.status_code == (206 if number < 3 else 200)
        assert response.headers["mex-chunk-range"] == f"{number}:3"
        chunks.append(response.content)
    assert chunks == parts
    assert (
        client.get(f"{MX}/X26ABC2/inbox/{message_id}/4", headers=mesh_auth("X26ABC2")).status_code
        == 404
    )


def test_gzip_content_is_passed_through(client: TestClient) -> None:
    raw = b"line of text\n" * 500
    sent = send(
        client, "X26ABC1", "X26ABC2", gzip.compress(raw), extra={"Content-Encoding": "gzip"}
    )
    message_id = sent.json()["message_id"]  # type: ignore[attr-defined]
    got = client.get(f"{MX}/X26ABC2/inbox/{message_id}", headers=mesh_auth("X26ABC2"))
    assert got.headers["content-encoding"] == "gzip"
    assert got.content == raw  # the test client decodes, as mesh-client does


def test_paging_past_500(client: TestClient) -> None:
    ids = [send(client, "X26ABC1", "X26ABC3").json()["message_id"] for _ in range(520)]  # type: ignore[attr-defined]
    first = inbox(client, "X26ABC3")
    assert len(first["messages"]) == 500  # type: ignore[arg-type]
    assert first["approx_inbox_count"] == 520
    next_link = first["links"]["next"]  # type: ignore[index]
    second = client.get(next_link, headers={**mesh_auth("X26ABC3"), **V2}).json()
    assert len(second["messages"]) == 20
    assert "next" not in second["links"]
    assert first["messages"] + second["messages"] == ids  # type: ignore[operator]
    count = client.get(f"{MX}/X26ABC3/count", headers={**mesh_auth("X26ABC3"), **V2}).json()
    assert count == {"count": 520}
    small = inbox(client, "X26ABC3", max_results=10, workflow_filter="TEST_WORKFLOW")
    assert len(small["messages"]) == 10  # type: ignore[arg-type]
    assert (
        client.get(
            f"{MX}/X26ABC3/inbox", params={"max_results": 501}, headers=mesh_auth("X26ABC3")
        ).status_code
        == 400
    )


def test_the_inbox_count_is_right_on_both_sides_of_a_full_page(client: TestClient) -> None:
    # A page shorter than max_results is the whole inbox (no count query); a full one is not.
    count = client.get(f"{MX}/X26ABC3/count", headers={**mesh_auth("X26ABC3"), **V2}).json()
    assert count == {"count": 0}
    for _ in range(3):
        send(client, "X26ABC1", "X26ABC3")
    for page in (1, 2, 3, 4, 500):
        listed = inbox(client, "X26ABC3", max_results=page)
        assert len(listed["messages"]) == min(page, 3)  # type: ignore[arg-type]
        assert listed["approx_inbox_count"] == 3, page
    count = client.get(f"{MX}/X26ABC3/count", headers={**mesh_auth("X26ABC3"), **V2}).json()
    assert count == {"count": 3}


def test_endpoint_lookup_and_workflow_search(client: TestClient) -> None:
    found = client.get(
        f"{MX}/endpointlookup/X26/RESTRICTED", headers={**mesh_auth("X26ABC1"), **V2}
    ).json()
    assert found == {"results": [{"mailbox_id": "X26ABC2", "mailbox_name": "X26ABC2"}]}
    open_flow = client.get(
        f"{MX}/endpointlookup/X26/TEST_WORKFLOW", headers={**mesh_auth("X26ABC1"), **V2}
    ).json()
    assert {r["mailbox_id"] for r in open_flow["results"]} == {"X26ABC1", "X26ABC2", "X26ABC3"}
    org = client.app.state.directory.organisations[0]  # type: ignore[attr-defined]
    mine = client.get(
        f"{MX}/endpointlookup/{org.ods_code}/GP2GP", headers={**mesh_auth("X26ABC1"), **V2}
    ).json()
    assert mine["results"][0]["mailbox_id"] == org.mesh_mailbox
    search = client.get(
        f"{MX}/workflowsearch/RESTRICTED", headers={**mesh_auth("X26ABC1"), **V2}
    ).json()
    assert [r["mailbox_id"] for r in search["results"]] == ["X26ABC2"]
    assert client.get(f"{MX}/endpointlookup/X26/RESTRICTED").status_code == 403


def test_every_directory_organisation_has_a_mailbox(client: TestClient) -> None:
    org = client.app.state.directory.organisations[-1]  # type: ignore[attr-defined]
    response = client.post(
        f"{MX}/{org.mesh_mailbox}", headers={**mesh_auth(org.mesh_mailbox), **V2}
    )
    assert response.status_code == 200


def test_lifecycle_expiry_reports_and_deletes(client: TestClient) -> None:
    message_id = send(client, "X26ABC1", "X26ABC2").json()["message_id"]  # type: ignore[attr-defined]
    assert client.post("/admin/clock", json={"advance_s": 5 * 86_400 + 60}).status_code == 200
    assert client.post("/admin/mesh/lifecycle").json() == {"undeliverable": 1, "deleted": 0}
    # Running it again (another worker) changes nothing and sends no second report.
    assert client.post("/admin/mesh/lifecycle").json() == {"undeliverable": 0, "deleted": 0}
    assert inbox_at(client, "X26ABC2") == []
    assert (
        client.get(
            f"{MX}/X26ABC2/inbox/{message_id}",
            headers=mesh_auth("X26ABC2", at=client.app.state.clock.now()),
        ).status_code
        == 410
    )  # type: ignore[attr-defined]
    reports = inbox_at(client, "X26ABC1")
    assert len(reports) == 1
    report = client.get(
        f"{MX}/X26ABC1/inbox/{reports[0]}",
        headers=mesh_auth("X26ABC1", at=client.app.state.clock.now()),
    )  # type: ignore[attr-defined]
    assert report.headers["mex-messagetype"] == "REPORT"
    assert report.headers["mex-statuscode"] == "14"
    assert report.headers["mex-linkedmsgid"] == message_id
    track = client.get(
        f"{MX}/X26ABC1/outbox/tracking",
        params={"messageID": message_id},
        headers={**mesh_auth("X26ABC1", at=client.app.state.clock.now()), **V2},  # type: ignore[attr-defined]
    ).json()
    assert track["status"] == "undeliverable"
    assert track["status_success"] is False
    client.post("/admin/clock", json={"advance_s": 26 * 86_400})
    assert client.post("/admin/mesh/lifecycle").json()["deleted"] == 1


def inbox_at(client: TestClient, mailbox: str) -> list[str]:
    """Inbox ids, authenticating with the server's (shifted) clock."""
    now = client.app.state.clock.now()  # type: ignore[attr-defined]
    response = client.get(f"{MX}/{mailbox}/inbox", headers={**mesh_auth(mailbox, at=now), **V2})
    return list(response.json()["messages"])


def test_accepted_messages_survive_a_restart(server_settings: ServerSettings) -> None:
    with TestClient(create_app(server_settings)) as first:
        message_id = send(first, "X26ABC1", "X26ABC2", b"durable").json()["message_id"]  # type: ignore[attr-defined]
    with TestClient(create_app(server_settings)) as second:
        got = second.get(f"{MX}/X26ABC2/inbox/{message_id}", headers=mesh_auth("X26ABC2"))
        assert got.status_code == 200
        assert got.content == b"durable"


def test_mesh_errors_use_mesh_shapes(client: TestClient) -> None:
    v1 = client.get(f"{MX}/X26ABC1/inbox", headers={"Accept": "application/json"})
    assert v1.status_code == 403
    assert "errorDescription" in v1.json()
    unknown = client.get(
        f"{MX}/X26ABC1/nothing/here/at/all", headers={**V2, **mesh_auth("X26ABC1")}
    )
    assert unknown.status_code == 404
    assert "detail" in unknown.json()
    # Authentication comes first: without a valid token the caller learns nothing of paths.
    assert client.get(f"{MX}/X26ABC1/nothing/here/at/all", headers=V2).status_code == 403


def test_admin_reset_requires_test_mode_or_token(server_settings: ServerSettings) -> None:
    settings = server_settings.model_copy(update={"test_mode": False})
    with TestClient(create_app(settings)) as client:
        assert client.delete("/admin/reset").status_code == 401
        send(client, "X26ABC1", "X26ABC2")
        assert client.delete("/admin/reset", headers=admin()).status_code == 200
        assert inbox(client, "X26ABC2")["messages"] == []
