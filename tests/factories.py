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


def org_code(client: TestClient, org_type: str, n: int = 0) -> str:
    """The ODS code of the ``n``-th organisation of a type in the test directory."""
    orgs = [
        o
        for o in client.app.state.directory.organisations  # type: ignore[attr-defined]
        if str(o.org_type) == org_type
    ]
    return str(orgs[n].ods_code)


def login_as(client: TestClient, ods_code: str, role: str, user: int = 0) -> dict[str, str]:
    """Headers of a session of ``ods_code``'s ``user``-th user in ``role``."""
    response = client.get(f"/admin/credentials/{ods_code}", headers=admin())
    assert response.status_code == 200, response.text
    cred = response.json()
    session = client.post(
        "/authentication/session",
        json={"user_id": cred["users"][user], "role": role},
        headers={"apikey": str(cred["api_key"]), **rid()},
    )
    assert session.status_code == 201, session.text
    body = session.json()
    return {
        "Authorization": f"Bearer {body['access_token']}",
        "NHSD-Session-URID": body["urid"],
    }


def fhir_valid(body: dict[str, object]) -> dict[str, object]:
    """Validate a FHIR body (and every resource it contains) against the R4B models."""
    from fhir.resources.R4B import get_fhir_model_class

    resource_type = body["resourceType"]
    assert isinstance(resource_type, str)
    get_fhir_model_class(resource_type).model_validate(body)
    # Bundle.entry holds resources (List.entry, for one, holds items).
    for entry in (body.get("entry", []) if resource_type == "Bundle" else []) or []:  # type: ignore[attr-defined]
        if "resource" in entry:
            fhir_valid(entry["resource"])
    for parameter in body.get("parameter", []) or []:  # type: ignore[attr-defined]
        if "resource" in parameter:
            fhir_valid(parameter["resource"])
    return body


def outcome_code(response: object) -> str:
    """The Spine code of an OperationOutcome response (validated as FHIR)."""
    body = response.json()  # type: ignore[attr-defined]
    assert body["resourceType"] == "OperationOutcome", body
    fhir_valid(body)
    return str(body["issue"][0]["details"]["coding"][0]["code"])
