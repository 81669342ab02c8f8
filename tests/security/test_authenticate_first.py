"""Authenticate first: nothing is replayed, counted or stored for a caller that has not proven
who it is (findings 1, 2, 7 and 8 of the security review).

Each attacker below knows only public facts: an organisation's ASID (it derives from the
public ODS code) and, for the replays, the victim's ``X-Request-ID`` (which travels in logs
and proxies). Before authentication came first, each of these handed the attacker the
victim's stored response or spent the victim's quota.
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from harness.config import ServerSettings
from harness.server.app import create_app
from tests.factories import admin, credentials, login, rid

PDS = "/personal-demographics/FHIR/R4"
NHS = "9000000041"  # a synthetic patient at version 1 (9000000009 is the published one, at 2)


def _forged(asid: str) -> dict[str, str]:
    """A bearer token that starts with the victim's ASID, as real session tokens do."""
    return {"Authorization": f"Bearer {asid}.forged"}


def test_a_replayed_login_does_not_hand_over_the_victims_token(client: TestClient) -> None:
    cred = credentials(client)
    users, roles = cred["users"], cred["roles"]
    assert isinstance(users, list)
    assert isinstance(roles, list)
    body = {"user_id": users[0], "role": roles[0]}
    request_id = rid()
    genuine = client.post(
        "/authentication/session", json=body, headers={"apikey": str(cred["api_key"]), **request_id}
    )
    assert genuine.status_code == 201
    token = genuine.json()["access_token"]

    replay = client.post(
        "/authentication/session", json=body, headers={**_forged(str(cred["asid"])), **request_id}
    )
    assert replay.status_code == 401
    assert token not in replay.text
    # The victim's own retry is still de-duplicated: same response, no second session.
    retry = client.post(
        "/authentication/session", json=body, headers={"apikey": str(cred["api_key"]), **request_id}
    )
    assert retry.status_code == 201
    assert retry.json()["access_token"] == token


def test_a_replayed_update_does_not_return_the_patient(client: TestClient) -> None:
    cred, headers = login(client)
    current = client.get(f"{PDS}/Patient/{NHS}", headers={**headers, **rid()})
    assert current.status_code == 200
    request_id = rid()
    patch = [{"op": "replace", "path": "/gender", "value": "female"}]
    update_headers = {
        **headers,
        **request_id,
        "If-Match": current.headers["etag"],
        "Content-Type": "application/json-patch+json",
    }
    updated = client.patch(f"{PDS}/Patient/{NHS}", json=patch, headers=update_headers)
    assert updated.status_code == 200
    forged_headers = {**update_headers, **_forged(str(cred["asid"]))}
    del forged_headers["NHSD-Session-URID"]
    replay = client.patch(f"{PDS}/Patient/{NHS}", json=patch, headers=forged_headers)
    assert replay.status_code == 401
    assert "birthDate" not in replay.text
    assert NHS not in replay.text


def test_forged_tokens_cannot_spend_an_applications_quota(
    server_settings: ServerSettings,
) -> None:
    settings = server_settings.model_copy(update={"rate_limit_per_app_per_minute": 20})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        cred, headers = login(client)
        refused = [
            client.get(f"{PDS}/Patient/{NHS}", headers={**_forged(str(cred["asid"])), **rid()})
            for _ in range(40)  # twice the quota
        ]
        assert {r.status_code for r in refused} == {401}
        genuine = client.get(f"{PDS}/Patient/{NHS}", headers={**headers, **rid()})
        assert genuine.status_code == 200
        # The quota still holds for the genuine caller itself.
        statuses = [
            client.get(f"{PDS}/Patient/{NHS}", headers={**headers, **rid()}).status_code
            for _ in range(25)
        ]
        assert 429 in statuses


def test_failed_authentications_are_limited_per_source_address(
    server_settings: ServerSettings,
) -> None:
    settings = server_settings.model_copy(update={"auth_failures_per_minute": 10})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        forged = {"Authorization": "Bearer 200000000001.forged", **rid()}
        statuses = [
            client.get(f"{PDS}/Patient/{NHS}", headers={**forged, **rid()}).status_code
            for _ in range(12)
        ]
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429, 429]


def test_unauthenticated_requests_leave_nothing_behind(client: TestClient) -> None:
    app = client.app
    limiter = app.state.platform.limiter  # type: ignore[attr-defined]
    idempotency = app.state.platform.idempotency  # type: ignore[attr-defined]
    windows_before = len(limiter)
    for n in range(50):
        response = client.post(
            f"{PDS}/Patient",
            json={"resourceType": "Patient"},
            headers={"Authorization": f"Bearer {200000000000 + n}.forged", **rid()},
        )
        assert response.status_code == 401
    assert len(limiter) == windows_before
    assert idempotency.written == 0
    assert client.portal.call(_idempotency_rows, app) == 0  # type: ignore[union-attr]


async def _idempotency_rows(app: object) -> int:
    from sqlalchemy import func, select

    from harness.server.store.schema import idempotency

    async with app.state.store.connect() as conn:  # type: ignore[attr-defined]
        return int((await conn.execute(select(func.count()).select_from(idempotency))).scalar())


def test_a_retry_after_logging_in_again_runs_instead_of_replaying_the_401(
    client: TestClient,
) -> None:
    _, headers = login(client)
    # The session expires (sessions last a working day) ...
    advanced = client.post("/admin/clock", json={"advance_s": 13 * 3600}, headers=admin())
    assert advanced.status_code == 200
    request_id = rid()
    current_etag = 'W/"1"'
    patch = [{"op": "replace", "path": "/gender", "value": "female"}]
    update = {"If-Match": current_etag, "Content-Type": "application/json-patch+json"}
    expired = client.patch(
        f"{PDS}/Patient/{NHS}", json=patch, headers={**headers, **update, **request_id}
    )
    assert expired.status_code == 401
    # ... the client logs in again and retries with the same X-Request-ID, as told to.
    _, fresh = login(client)
    retried = client.patch(
        f"{PDS}/Patient/{NHS}", json=patch, headers={**fresh, **update, **request_id}
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["gender"] == "female"


def test_user_restricted_calls_must_name_the_role_profile(client: TestClient) -> None:
    _, headers = login(client)
    without = {k: v for k, v in headers.items() if k != "NHSD-Session-URID"}
    response = client.get(f"{PDS}/Patient/{NHS}", headers={**without, **rid()})
    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "MISSING_VALUE"


def test_a_long_forged_token_does_not_break_the_rate_limit_ledger(client: TestClient) -> None:
    # A create is under spike arrest, whose counts are always shared through the ledger: a
    # counter keyed by the unverified token would put 500 characters in a 200-character key
    # column, and every later sync of that worker failed on PostgreSQL.
    response = client.post(
        f"{PDS}/Patient",
        json={"resourceType": "Patient"},
        headers={"Authorization": "Bearer " + "9" * 500 + ".x", **rid()},
    )
    assert response.status_code == 401
    time.sleep(1.0)  # four sync intervals
    _, headers = login(client)
    assert client.get(f"{PDS}/Patient/{NHS}", headers={**headers, **rid()}).status_code == 200
    metrics = client.get("/metrics").text
    failures = [
        line
        for line in metrics.splitlines()
        if line.startswith("spine_rate_limit_ledger_failures_total")
    ]
    assert failures == ["spine_rate_limit_ledger_failures_total 0.0"]
