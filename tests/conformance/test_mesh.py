"""MESH: the published emulator's own tests, against the reference server's MESH API.

Source: NHSDigital/mesh-sandbox at commit 422c7d93ce4c94328423900a0016c93fe76e8ecd (MIT, copy
under ``published/``), ``src/mesh_sandbox/tests/handshake.py`` (the ``full`` authentication
mode, which is the one the reference server has: every ``test_handshake_full_auth_*`` case)
and ``src/mesh_sandbox/tests/outbox.py`` (``test_memory_send_message_with_local_id``: a
workflow id no directory entry restricts, ``TEST_MATT_WORKFLOW``, is accepted and delivered
with its headers). Restated here with the emulator's mailboxes X26ABC1/X26ABC2 (password
``password``, shared key ``TestKey``), which the conformance server's MESH directory holds.
The outbox test's first step (the recipient's inbox is empty) is a fresh emulator's state,
not a rule, and is left out: the module's server is shared by the cases.
"""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient

from harness.server.mesh.auth import make_token

MX = "/messageexchange"
APP_JSON, V1, V2 = (
    "application/json",
    "application/vnd.mesh.v1+json",
    "application/vnd.mesh.v2+json",
)
CLIENT = {"Mex-ClientVersion": "1.0", "Mex-OSName": "bob", "Mex-OSVersion": "latest"}


def token(mailbox: str, password: str = "password", key: str = "TestKey") -> str:
    """``generate_auth_token`` of the emulator's tests/helpers.py, with the same defaults."""
    return make_token(
        mailbox, password, shared_key=key, nonce=uuid.uuid4().hex, nonce_count=1, now_s=time.time()
    )


@pytest.mark.parametrize("mailbox", ["X26ABC1", "X26ABC2"])
@pytest.mark.parametrize("accept", [APP_JSON, V1, V2])
def test_handshake_full_auth_mailbox_exists(server: TestClient, mailbox: str, accept: str) -> None:
    headers = {"Accept": accept, **CLIENT, "Authorization": token(mailbox)}
    response = server.get(f"{MX}/{mailbox}", headers=headers)
    assert response.status_code == 200, response.text
    if accept == V2:
        assert response.text == ""
    else:
        assert response.json()["mailboxId"] == mailbox


@pytest.mark.parametrize(
    ("password", "key"),
    [("password", "TestKey"), ("bad-password", "TestKey"), ("password", "BadKey")],
    ids=["mailbox_does_not_exist", "mailbox_bad_password", "mailbox_bad_key"],
)
def test_handshake_full_auth_refused(server: TestClient, password: str, key: str) -> None:
    mailbox = uuid.uuid4().hex  # as published: a mailbox nobody has
    headers = {**CLIENT, "Authorization": token(mailbox, password, key)}
    assert server.get(f"{MX}/{mailbox}", headers=headers).status_code == 403


@pytest.mark.parametrize("accept", [V1, V2])
def test_memory_send_message_with_local_id(server: TestClient, accept: str) -> None:
    sender, recipient = "X26ABC1", "X26ABC2"
    local_id, workflow_id = uuid.uuid4().hex, "TEST_MATT_WORKFLOW"
    sent = server.post(
        f"{MX}/{sender}/outbox",
        content=f"test{uuid.uuid4().hex}".encode(),
        headers={
            "Authorization": token(sender),
            "Accept": accept,
            "Content-Type": "application/octet-stream",
            "Mex-From": sender,
            "Mex-To": recipient,
            "Mex-WorkflowID": workflow_id,
            "Mex-LocalID": local_id,
        },
    )
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["messageID" if accept == V1 else "message_id"]
    assert message_id
    head = server.head(
        f"{MX}/{recipient}/inbox/{message_id}",
        headers={"Authorization": token(recipient), "Accept": accept},
    )
    assert head.status_code == 200
    assert head.headers["Mex-From"] == sender
    assert head.headers["Mex-To"] == recipient
    assert head.headers["Mex-LocalID"] == local_id
    assert head.headers["Mex-WorkflowID"] == workflow_id
