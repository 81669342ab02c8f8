"""Builders shared by the server tests: headers, credentials, sessions, MESH tokens."""

from __future__ import annotations

import time
import uuid

from fastapi.testclient import TestClient

from harness.server.mesh.auth import make_token
from tests.conftest import ADMIN_TOKEN

SHARED_KEY = "TestKey"


def rid() -> dict[str, str]:
    """A fresh X-Request-ID header."""
    return {"X-Request-ID": str(uuid.uuid4())}


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def credentials(client: TestClient, index: int = 0) -> dict[str, object]:
    """Application key, users and roles of the ``index``-th organisation."""
    ods = client.app.state.directory.organisations[index].ods_code  # type: ignore[attr-defined]
    response = client.get(f"/admin/credentials/{ods}", headers=admin())
    assert response.status_code == 200, response.text
    return dict(response.json())


def login(client: TestClient, index: int = 0) -> tuple[dict[str, object], dict[str, str]]:
    """Start a session; return the credentials and headers for user-restricted calls."""
    cred = credentials(client, index)
    users = cred["users"]
    roles = cred["roles"]
    assert isinstance(users, list)
    assert isinstance(roles, list)
    response = client.post(
        "/authentication/session",
        json={"user_id": users[0], "role": roles[0]},
        headers={"apikey": str(cred["api_key"]), **rid()},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return cred, {
        "Authorization": f"Bearer {body['access_token']}",
        "NHSD-Session-URID": body["urid"],
    }


def mesh_auth(
    mailbox: str,
    *,
    password: str = "password",
    nonce: str | None = None,
    count: int = 0,
    at: float | None = None,
) -> dict[str, str]:
    """An NHSMESH Authorization header (a fresh nonce unless one is given)."""
    token = make_token(
        mailbox,
        password,
        shared_key=SHARED_KEY,
        nonce=nonce or str(uuid.uuid4()),
        nonce_count=count,
        now_s=time.time() if at is None else at,
    )
    return {"Authorization": token}


V2 = {"Accept": "application/vnd.mesh.v2+json"}
