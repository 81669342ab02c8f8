"""Negative security tests: credentials, RBAC over HTTP, MESH isolation, admin, limits.

Routes are enumerated from the application itself, so a new endpoint is covered (or this test
fails) without anyone remembering to add it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from harness.config import ServerSettings
from harness.server.app import create_app
from harness.server.identity.rbac import INTERACTION_ACTIVITY, ROLE_ACTIVITIES
from harness.server.limits import RequestRefused, read_body
from harness.server.mesh.auth import CLOCK_TOLERANCE_S
from tests import builders
from tests.conftest import ADMIN_TOKEN
from tests.factories import V2, admin, login_as, mesh_auth, org_code, rid

PUBLIC = frozenset(
    {"/health", "/health/ready", "/metrics", "/messageexchange/_ping", "/openapi.json", "/docs",
     "/docs/oauth2-redirect", "/redoc", "/harness/directory"}
)  # fmt: skip
PATH_VALUES = {
    "mailbox_id": "X26ABC1",
    "message_id": "20240101000000000_ABCDEF",
    "chunk_number": "2",
    "ods_code": "X26",
    "workflow_id": "TEST_WORKFLOW",
    "nhs_number": "9000000009",
    "fault_id": "abcdef",
    "coverage_id": "0b9e4c1e-5a52-4d53-8a4e-2f7c1d1a0c11",
    "request_id": "5f0c7a52-2c3e-4a55-9d0e-6b1f0c3d9e21",
}
NHS = "9000000009"


def _kind(path: str) -> str:
    if path.startswith("/admin"):
        return "admin"
    if path.startswith("/messageexchange"):
        return "mesh"
    if path.startswith(("/spine-directory", "/authentication")):
        return "apikey"
    return "session"


def _routes() -> list[tuple[str, str]]:
    # FastAPI wraps included routers, so the routes are read from the document the app
    # builds from all of them (every route here is in the schema).
    app = create_app(ServerSettings(organisations=10, admin_token=ADMIN_TOKEN))
    found = []
    for path, operations in app.openapi()["paths"].items():
        if path not in PUBLIC:
            found.extend((method.upper(), path) for method in sorted(operations))
    return found


ROUTES = _routes()
BAD_CREDENTIALS: dict[str, dict[str, Any]] = {
    "session": {
        "missing": {},
        "malformed": {"Authorization": "Token not-a-bearer"},
        "forged": {"Authorization": "Bearer 200000000001.forged-token-value"},
    },
    "apikey": {
        "missing": {},
        "malformed": {"apikey": " "},
        "forged": {"apikey": "f" * 32},
    },
    "mesh": {
        "missing": {},
        "malformed": {"Authorization": "NHSMESH X26ABC1:only:three"},
        "forged": lambda: mesh_auth("X26ABC1", password="not-the-password"),
        "expired": lambda: mesh_auth("X26ABC1", at=time.time() - CLOCK_TOLERANCE_S - 600),
    },
    "admin": {
        "missing": {},
        "malformed": {"Authorization": f"Token {ADMIN_TOKEN}"},
        "forged": {"Authorization": "Bearer not-the-admin-token"},
    },
}
CASES = [
    (method, path, variant) for method, path in ROUTES for variant in BAD_CREDENTIALS[_kind(path)]
]


@pytest.fixture
def strict_client(server_settings: ServerSettings) -> Iterator[TestClient]:
    """Not in test mode: every admin endpoint needs the token."""
    settings = server_settings.model_copy(update={"test_mode": False})
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_routes_are_enumerated() -> None:
    kinds = {_kind(path) for _, path in ROUTES}
    assert kinds == {"admin", "mesh", "apikey", "session"}
    assert len(ROUTES) >= 40


@pytest.mark.parametrize(
    ("method", "path", "variant"), CASES, ids=[f"{m} {p} {v}" for m, p, v in CASES]
)
def test_every_endpoint_refuses_bad_credentials(
    strict_client: TestClient, method: str, path: str, variant: str
) -> None:
    credentials = BAD_CREDENTIALS[_kind(path)][variant]
    headers = dict(credentials() if callable(credentials) else credentials)
    url = path.format(**PATH_VALUES)
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    response = strict_client.request(method, url, headers={**rid(), **headers}, **body)
    assert response.status_code in (401, 403), (response.status_code, response.text)


def test_an_expired_session_is_refused(client: TestClient) -> None:
    headers = login_as(client, org_code(client, "gp-practice"), "R8000")
    url = f"/personal-demographics/FHIR/R4/Patient/{NHS}"
    assert client.get(url, headers={**headers, **rid()}).status_code == 200
    advanced = client.post("/admin/clock", json={"advance_s": 13 * 3600}, headers=admin())
    assert advanced.status_code == 200, advanced.text
    deadline = time.monotonic() + 5
    while client.app.state.faults.clock_offset_s == 0 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    response = client.get(url, headers={**headers, **rid()})
    assert response.status_code == 401, response.text


def test_a_session_cannot_claim_another_role_or_organisation(client: TestClient) -> None:
    headers = login_as(client, org_code(client, "gp-practice"), "R8008")
    url = f"/personal-demographics/FHIR/R4/Patient/{NHS}"
    other = login_as(client, org_code(client, "gp-practice"), "R8000")
    for forged in (
        {"NHSD-Session-URID": other["NHSD-Session-URID"]},
        {"NHSD-End-User-Organisation-ODS": org_code(client, "gp-practice", 1)},
    ):
        response = client.get(url, headers={**headers, **forged, **rid()})
        assert response.status_code == 403, response.text


@pytest.mark.parametrize("number", ["\u0660\u0661", "0\u0661"])
def test_a_user_number_in_other_scripts_digits_is_not_a_registered_user(
    client: TestClient, number: str
) -> None:
    """Arabic-Indic digits pass str.isdigit(), int() and a Unicode ``\\d``; users are ASCII."""
    ods = org_code(client, "gp-practice")
    cred = client.get(f"/admin/credentials/{ods}", headers=admin()).json()
    response = client.post(
        "/authentication/session",
        json={"user_id": f"{ods}-{number}", "role": "R8000"},
        headers={"apikey": str(cred["api_key"]), **rid()},
    )
    assert response.status_code == 400, response.text  # it used to log in (201)
    coding = response.json()["issue"][0]["details"]["coding"][0]
    assert coding["code"] == "INVALID_VALUE"


# ---------------------------------------------------------------- RBAC through HTTP
def _interaction_request(
    client: TestClient, interaction: str, ods: str
) -> tuple[str, str, dict[str, Any]]:
    """(method, url, request kwargs) of a well-formed request for ``interaction``."""
    pid, lines, bundle = builders.order(ods, NHS)
    prescribing, dispensing = "/fhir-prescribing/FHIR/R4", "/fhir-dispensing/FHIR/R4"
    scr = "/summary-care-record/FHIR/R4"
    table: dict[str, tuple[str, str, dict[str, Any]]] = {
        "pds.retrieve": ("GET", f"/personal-demographics/FHIR/R4/Patient/{NHS}", {}),
        "pds.search": (
            "GET",
            "/personal-demographics/FHIR/R4/Patient",
            {"params": {"family": "Smith", "birthdate": "eq2010-10-22"}},
        ),
        "pds.update": (
            "PATCH",
            f"/personal-demographics/FHIR/R4/Patient/{NHS}",
            {
                "json": [{"op": "replace", "path": "/gender", "value": "female"}],
                "headers": {"If-Match": 'W/"1"', "Content-Type": "application/json-patch+json"},
            },
        ),
        "eps.prepare": ("POST", f"{prescribing}/$prepare", {"json": bundle}),
        "eps.create": ("POST", f"{prescribing}/$process-message", {"json": bundle}),
        "eps.cancel": (
            "POST",
            f"{prescribing}/$process-message",
            {"json": builders.cancel(pid, lines[0], NHS)},
        ),
        "eps.release": ("POST", f"{dispensing}/Task/$release", {"json": builders.release(ods)}),
        "eps.dispense-notification": (
            "POST",
            f"{dispensing}/$process-message",
            {"json": builders.dispense(pid, {lines[0]: "0001"}, NHS, ods)},
        ),
        "eps.return": ("POST", f"{dispensing}/Task", {"json": builders.task(pid, "return", ods)}),
        "eps.withdraw": (
            "POST",
            f"{dispensing}/Task",
            {"json": builders.task(pid, "withdraw", ods)},
        ),
        "eps.claim": ("POST", f"{dispensing}/Claim", {"json": builders.claim(pid, NHS, ods)}),
        "scr.view": ("GET", f"{scr}/DocumentReference", {"params": {"patient": NHS}}),
        "scr.upload": ("POST", f"{scr}/Bundle", {"json": builders.scr_document(NHS, ods)}),
    }
    return table[interaction]


ROLE_HOMES = {"R8000": "gp-practice", "R8001": "gp-practice", "R8003": "community-pharmacy",
              "R8008": "gp-practice"}  # fmt: skip


@pytest.mark.parametrize("role", sorted(ROLE_ACTIVITIES))
def test_rbac_cannot_be_bypassed_over_http(client: TestClient, role: str) -> None:
    ods = org_code(client, ROLE_HOMES[role])
    session = login_as(client, ods, role)
    wrong = []
    for interaction, activity in sorted(INTERACTION_ACTIVITY.items()):
        method, url, kwargs = _interaction_request(client, interaction, ods)
        headers = {**session, **rid(), **kwargs.pop("headers", {})}
        response = client.request(method, url, headers=headers, **kwargs)
        denied_for_role = response.status_code == 403 and activity in response.text
        if (activity in ROLE_ACTIVITIES[role]) == denied_for_role:
            wrong.append((interaction, response.status_code, response.text[:160]))
    assert not wrong, wrong


# ---------------------------------------------------------------- MESH isolation
MX = "/messageexchange"
TO_X26ABC2 = {"Mex-To": "X26ABC2", "Mex-WorkflowID": "TEST_WORKFLOW"}


def test_a_mailbox_cannot_read_acknowledge_or_track_another_mailboxs_messages(
    client: TestClient,
) -> None:
    sent = client.post(
        f"{MX}/X26ABC1/outbox",
        content=b"for X26ABC2 only",
        headers={
            **mesh_auth("X26ABC1"),
            **V2,
            "Mex-To": "X26ABC2",
            "Mex-WorkflowID": "TEST_WORKFLOW",
        },
    )
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["message_id"]
    intruder = "X26ABC3"
    attempts = [
        ("GET", f"{MX}/{intruder}/inbox/{message_id}"),
        ("HEAD", f"{MX}/{intruder}/inbox/{message_id}"),
        ("GET", f"{MX}/{intruder}/inbox/{message_id}/1"),
        ("PUT", f"{MX}/{intruder}/inbox/{message_id}/status/acknowledged"),
        ("GET", f"{MX}/{intruder}/outbox/tracking?messageID={message_id}"),
    ]
    for method, url in attempts:
        response = client.request(method, url, headers={**mesh_auth(intruder), **V2})
        assert response.status_code == 404, (method, url, response.status_code)
        # The intruder's token for the real recipient's or sender's path is refused outright.
        for owner in ("X26ABC2", "X26ABC1"):
            spoofed = url.replace(f"/{intruder}/", f"/{owner}/")
            response = client.request(method, spoofed, headers={**mesh_auth(intruder), **V2})
            assert response.status_code == 403, (method, spoofed, response.status_code)
    listed = client.get(f"{MX}/{intruder}/inbox", headers={**mesh_auth(intruder), **V2})
    assert message_id not in listed.json()["messages"]
    # The recipient may not track it (tracking is the sender's), but still receives it intact.
    tracked = client.get(
        f"{MX}/X26ABC2/outbox/tracking",
        params={"messageID": message_id},
        headers={**mesh_auth("X26ABC2"), **V2},
    )
    assert tracked.status_code == 404
    got = client.get(f"{MX}/X26ABC2/inbox/{message_id}", headers={**mesh_auth("X26ABC2"), **V2})
    assert got.status_code == 200
    assert got.content == b"for X26ABC2 only"


def test_a_replayed_nhsmesh_nonce_is_refused(client: TestClient) -> None:
    header = mesh_auth("X26ABC1", nonce="replayed-nonce")
    first = client.get(f"{MX}/X26ABC1/inbox", headers={**header, **V2})
    assert first.status_code == 200
    again = client.get(f"{MX}/X26ABC1/inbox", headers={**header, **V2})
    assert again.status_code == 403
    assert "already used" in again.json()["detail"][0]["msg"]


@pytest.mark.parametrize("skew_s", [-CLOCK_TOLERANCE_S - 120, CLOCK_TOLERANCE_S + 120])
def test_an_out_of_tolerance_timestamp_is_refused(client: TestClient, skew_s: int) -> None:
    header = mesh_auth("X26ABC1", at=time.time() + skew_s)
    response = client.get(f"{MX}/X26ABC1/inbox", headers={**header, **V2})
    assert response.status_code == 403


# ---------------------------------------------------------------- admin
def test_admin_is_unreachable_without_the_token_and_disabled_without_one(
    server_settings: ServerSettings,
) -> None:
    settings = server_settings.model_copy(update={"admin_token": None, "test_mode": False})
    with TestClient(create_app(settings), raise_server_exceptions=False) as off:
        for method, path in ROUTES:
            if _kind(path) == "admin":
                url = path.format(**PATH_VALUES)
                response = off.request(method, url, headers={"Authorization": "Bearer "})
                assert response.status_code == 404, (method, url, response.status_code)


# ---------------------------------------------------------------- limits
def _limited(server_settings: ServerSettings, **limits: Any) -> TestClient:
    return TestClient(
        create_app(server_settings.model_copy(update=limits)), raise_server_exceptions=False
    )


def test_an_oversized_body_is_refused_with_413(server_settings: ServerSettings) -> None:
    with _limited(server_settings, max_body_bytes=4096) as limited:
        headers = login_as(limited, org_code(limited, "gp-practice"), "R8000")
        pid, _, bundle = builders.order(org_code(limited, "gp-practice"), NHS)
        bundle["padding"] = "x" * 8000
        response = limited.post(
            "/fhir-prescribing/FHIR/R4/$process-message",
            json=bundle,
            headers={**headers, **rid()},
        )
        assert response.status_code == 413
        assert response.json()["resourceType"] == "OperationOutcome"
        tracked = limited.get(
            "/fhir-prescribing/FHIR/R4/Task",
            params={"focus:identifier": pid},
            headers={**headers, **rid()},
        )
        assert tracked.status_code == 404, tracked.text  # the refused order was never stored


def test_oversized_headers_are_refused_with_431(client: TestClient) -> None:
    response = client.get(
        f"/personal-demographics/FHIR/R4/Patient/{NHS}",
        headers={**rid(), "X-Filler": "x" * 10_000},
    )
    assert response.status_code == 431
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_mesh_message_over_the_mesh_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    monkeypatch.setattr("harness.server.platform.MESH_MAX_BODY_BYTES", 1024)
    response = client.post(
        f"{MX}/X26ABC1/outbox",
        content=b"x" * 2048,
        headers={
            **mesh_auth("X26ABC1"),
            **V2,
            "Mex-To": "X26ABC2",
            "Mex-WorkflowID": "TEST_WORKFLOW",
        },
    )
    assert response.status_code == 413
    assert "detail" in response.json()


def test_a_slow_body_is_refused_with_408() -> None:
    async def slow_receive() -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"type": "http.request", "body": b"x", "more_body": True}  # never ends

    scope = {"type": "http", "method": "POST", "path": "/personal-demographics/FHIR/R4/Patient",
             "headers": [], "query_string": b"", "app": None}  # fmt: skip
    started = time.monotonic()
    with pytest.raises(RequestRefused) as refused:
        # The application is only handed a receive once the whole body has arrived.
        asyncio.run(read_body(scope, slow_receive, limit=10_000, timeout_s=0.3))
    assert time.monotonic() - started < 2
    assert refused.value.status == 408
