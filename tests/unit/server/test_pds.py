"""PDS over HTTP: retrieve, versions and JSON Patch updates, restriction, RBAC, audit."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from harness.server.domain import Conflict, PreconditionFailed
from harness.server.pds.population import Population
from harness.server.pds.service import PdsService, parse_if_match
from harness.server.store.schema import audit
from tests.factories import admin, fhir_valid, login_as, org_code, outcome_code, rid

PDS = "/personal-demographics/FHIR/R4"
HAPPY = "9000000041"  # synthetic patient 4: 9000000009-33 are the published test patients


@pytest.fixture
def gp(client: TestClient) -> dict[str, str]:
    """A GP (R8000) session."""
    return login_as(client, org_code(client, "gp-practice"), "R8000")


def population(client: TestClient) -> Population:
    found: Population = client.app.state.population  # type: ignore[attr-defined]
    return found


def patch(
    client: TestClient,
    headers: dict[str, str],
    ops: Any,
    *,
    etag: str | None = 'W/"1"',
    nhs: str = HAPPY,
    extra: dict[str, str] | None = None,
) -> Any:
    sent = {**headers, **rid(), "Content-Type": "application/json-patch+json", **(extra or {})}
    if etag is not None:
        sent["If-Match"] = etag
    return client.patch(f"{PDS}/Patient/{nhs}", json=ops, headers=sent)


def test_retrieve_returns_a_valid_versioned_patient(client: TestClient, gp: dict[str, str]) -> None:
    response = client.get(f"{PDS}/Patient/{HAPPY}", headers={**gp, **rid()})
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = fhir_valid(response.json())
    assert body["id"] == HAPPY
    assert body["meta"]["versionId"] == "1"  # type: ignore[index]
    person = population(client).person(4)
    assert body["name"][0]["family"] == person.family  # type: ignore[index]
    assert body["birthDate"] == person.birth_date.isoformat()
    # Reads are derived, never stored: the same answer every time.
    again = client.get(f"{PDS}/Patient/{HAPPY}", headers={**gp, **rid()}).json()
    assert again == body


@pytest.mark.parametrize(
    ("nhs", "status", "code"),
    [
        ("9000000000", 400, "INVALID_RESOURCE_ID"),  # bad check digit
        ("900000000", 400, "INVALID_RESOURCE_ID"),  # nine digits
        ("90000000AB", 400, "INVALID_RESOURCE_ID"),
        ("9111231130", 404, "RESOURCE_NOT_FOUND"),  # valid, beyond the population
        ("4010232137", 404, "RESOURCE_NOT_FOUND"),  # valid, a real-world range: never served
    ],
)
def test_retrieve_refusals(
    client: TestClient, gp: dict[str, str], nhs: str, status: int, code: str
) -> None:
    response = client.get(f"{PDS}/Patient/{nhs}", headers={**gp, **rid()})
    assert response.status_code == status
    assert outcome_code(response) == code


def test_population_size_comes_from_the_app(server_settings: Any) -> None:
    from harness.server.app import create_app

    with TestClient(create_app(server_settings, patients=10)) as small:
        headers = login_as(small, org_code(small, "gp-practice"), "R8000")
        last, beyond = population(small).person(9).nhs_number, "9000000114"  # indices 9, 10
        assert small.get(f"{PDS}/Patient/{last}", headers={**headers, **rid()}).status_code == 200
        assert small.get(f"{PDS}/Patient/{beyond}", headers={**headers, **rid()}).status_code == 404


def test_patch_updates_and_bumps_the_version(client: TestClient, gp: dict[str, str]) -> None:
    response = patch(
        client,
        gp,
        [
            {"op": "replace", "path": "/name/0/family", "value": "Featherstonehaugh"},
            {"op": "add", "path": "/telecom/-", "value": {"system": "email", "value": "a@b.uk"}},
        ],
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == 'W/"2"'
    body = fhir_valid(response.json())
    assert body["meta"]["versionId"] == "2"  # type: ignore[index]
    read = client.get(f"{PDS}/Patient/{HAPPY}", headers={**gp, **rid()})
    assert read.headers["ETag"] == 'W/"2"'
    assert read.json()["name"][0]["family"] == "Featherstonehaugh"
    assert read.json()["telecom"][-1]["value"] == "a@b.uk"
    # The wrapped form is accepted too, against the new version.
    wrapped = {"patches": [{"op": "replace", "path": "/gender", "value": "other"}]}
    assert patch(client, gp, wrapped, etag='W/"2"').headers["ETag"] == 'W/"3"'


@pytest.mark.parametrize("etag", [None, "1", 'W/"one"', '"1"', "W/1", "", 'W/"-1"'])
def test_if_match_must_be_a_weak_etag(etag: str | None) -> None:
    with pytest.raises(PreconditionFailed) as refused:
        parse_if_match(etag)
    assert refused.value.code == "PRECONDITION_FAILED"
    assert parse_if_match('W/"12"') == 12


@pytest.mark.parametrize("etag", [None, '"1"'])
def test_patch_needs_a_well_formed_if_match(
    client: TestClient, gp: dict[str, str], etag: str | None
) -> None:
    ops = [{"op": "replace", "path": "/gender", "value": "other"}]
    response = patch(client, gp, ops, etag=etag)
    assert response.status_code == 412
    assert outcome_code(response) == "PRECONDITION_FAILED"


def test_stale_if_match_is_a_version_mismatch(client: TestClient, gp: dict[str, str]) -> None:
    ops = [{"op": "replace", "path": "/gender", "value": "other"}]
    assert patch(client, gp, ops).status_code == 200
    stale = patch(client, gp, ops, etag='W/"1"')
    assert stale.status_code == 409
    assert outcome_code(stale) == "RESOURCE_VERSION_MISMATCH"
    ahead = patch(client, gp, ops, etag='W/"7"')
    assert ahead.status_code == 409


@pytest.mark.parametrize(
    ("ops", "status", "code"),
    [
        # The second operation fails, so the first must not be applied either.
        (
            [
                {"op": "replace", "path": "/gender", "value": "other"},
                {"op": "test", "path": "/gender", "value": "female-ish"},
            ],
            400,
            "INVALID_UPDATE",
        ),
        ([{"op": "replace", "path": "/gender", "value": "robot"}], 400, "INVALID_UPDATE"),
        ([{"op": "remove", "path": "/name/0/family"}], 400, "INVALID_UPDATE"),
        ([{"op": "replace", "path": "/birthDate", "value": "12/01/1980"}], 400, "INVALID_UPDATE"),
        ([{"op": "replace", "path": "/id", "value": "9000000017"}], 400, "INVALID_UPDATE"),
        ([{"op": "replace", "path": "/meta/versionId", "value": "9"}], 400, "INVALID_UPDATE"),
        ([{"op": "move", "from": "/name", "path": "/address"}], 400, "INVALID_UPDATE"),
        ([{"op": "remove", "path": "/name/5"}], 400, "INVALID_UPDATE"),
        ([{"op": "add", "path": "/favouriteColour", "value": "blue"}], 400, "INVALID_UPDATE"),
        (
            [
                {
                    "op": "replace",
                    "path": "/generalPractitioner/0/identifier/value",
                    "value": "Z99999",
                }
            ],
            400,
            "INVALID_UPDATE",
        ),
        ([], 400, "INVALID_UPDATE"),
        ({"op": "replace"}, 400, "INVALID_UPDATE"),
    ],
)
def test_bad_patches_change_nothing(
    client: TestClient, gp: dict[str, str], ops: Any, status: int, code: str
) -> None:
    before = client.get(f"{PDS}/Patient/{HAPPY}", headers={**gp, **rid()}).json()
    response = patch(client, gp, ops)
    assert response.status_code == status, response.text
    assert outcome_code(response) == code
    after = client.get(f"{PDS}/Patient/{HAPPY}", headers={**gp, **rid()})
    assert after.headers["ETag"] == 'W/"1"'
    assert after.json() == before


def test_patch_body_must_be_json(client: TestClient, gp: dict[str, str]) -> None:
    response = client.patch(
        f"{PDS}/Patient/{HAPPY}",
        content=b"{not json",
        headers={**gp, **rid(), "If-Match": 'W/"1"', "Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 400
    assert outcome_code(response) == "INVALID_MESSAGE"


def _restricted_number(client: TestClient) -> str:
    people = population(client)
    return next(people.person(i) for i in range(100_000) if people.person(i).restricted).nhs_number


def test_restricted_records_hide_address_and_gp(client: TestClient, gp: dict[str, str]) -> None:
    nhs = _restricted_number(client)
    body = fhir_valid(client.get(f"{PDS}/Patient/{nhs}", headers={**gp, **rid()}).json())
    assert body["meta"]["security"][0]["code"] == "R"  # type: ignore[index]
    for hidden in ("address", "telecom", "generalPractitioner", "extension"):
        assert hidden not in body
    assert "name" in body
    refused = patch(
        client,
        gp,
        [{"op": "add", "path": "/address", "value": [{"line": ["1 High Street"]}]}],
        nhs=nhs,
    )
    assert refused.status_code == 403
    assert outcome_code(refused) == "FORBIDDEN_UPDATE"
    probe = patch(
        client, gp, [{"op": "test", "path": "/address/0/postalCode", "value": "LS1 1AA"}], nhs=nhs
    )
    assert probe.status_code == 403  # a test would reveal the hidden address
    allowed = patch(
        client, gp, [{"op": "replace", "path": "/name/0/given/0", "value": "Alex"}], nhs=nhs
    )
    assert allowed.status_code == 200
    assert "address" not in allowed.json()
    # An unrestricted record shows them.
    open_body = client.get(f"{PDS}/Patient/{HAPPY}", headers={**gp, **rid()}).json()
    assert "address" in open_body
    assert open_body["meta"]["security"][0]["code"] == "U"


def _concurrent_updates(client: TestClient, expected: int) -> list[object]:
    service: PdsService = client.app.state.pds  # type: ignore[attr-defined]

    async def both() -> list[object]:
        ops = [{"op": "replace", "path": "/gender", "value": "other"}]
        return await asyncio.gather(
            service.update_patient("R8000", HAPPY, f'W/"{expected}"', ops),
            service.update_patient("R8000", HAPPY, f'W/"{expected}"', ops),
            return_exceptions=True,
        )

    assert client.portal is not None
    return client.portal.call(both)


@pytest.mark.parametrize("expected", [1, 2])
def test_two_concurrent_patches_with_one_etag_exactly_one_wins(
    client: TestClient, gp: dict[str, str], expected: int
) -> None:
    if expected == 2:  # the stored-record path (UPDATE … WHERE version = 2)
        first = patch(client, gp, [{"op": "replace", "path": "/gender", "value": "male"}])
        assert first.status_code == 200
    outcomes = _concurrent_updates(client, expected)
    wins = [o for o in outcomes if not isinstance(o, BaseException)]
    losses = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(wins) == 1, outcomes
    assert len(losses) == 1, outcomes
    assert losses[0].code == "RESOURCE_VERSION_MISMATCH"
    read = client.get(f"{PDS}/Patient/{HAPPY}", headers={**gp, **rid()})
    assert read.headers["ETag"] == f'W/"{expected + 1}"'


def test_the_write_itself_is_conditional(client: TestClient) -> None:
    """Even past the version check, a second writer from the same version is refused."""
    service: PdsService = client.app.state.pds  # type: ignore[attr-defined]

    async def race() -> list[str]:
        record = await service.record(HAPPY)
        outcomes = []
        for expected, version in ((1, 2), (1, 2), (2, 3), (2, 3)):
            try:
                await service._write(HAPPY, expected, version, record.resource)
                outcomes.append("ok")
            except Conflict as exc:
                outcomes.append(exc.code)
        return outcomes

    assert client.portal is not None
    mismatch = "RESOURCE_VERSION_MISMATCH"
    assert client.portal.call(race) == ["ok", mismatch, "ok", mismatch]


def test_concurrent_http_patches_exactly_one_wins(client: TestClient, gp: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ops = [{"op": "replace", "path": "/gender", "value": "other"}]
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(lambda _: patch(client, gp, ops).status_code, range(4)))
    assert statuses == [200, 409, 409, 409]


def test_slow_update_answers_503_and_the_retry_completes_once(
    client: TestClient, gp: dict[str, str]
) -> None:
    fault = client.post(
        "/admin/faults", json={"kind": "stall-storage", "duration_s": 1.0}, headers=admin()
    )
    assert fault.status_code == 201
    request_id = str(uuid.uuid4())
    ops = [{"op": "replace", "path": "/name/0/family", "value": "Slowcoach"}]
    same = {"X-Request-ID": request_id}
    started = time.perf_counter()
    slow = patch(client, gp, ops, extra={**same, "X-Sync-Wait": "0.3"})
    assert slow.status_code == 503
    assert slow.headers["Retry-After"] == "5"
    assert outcome_code(slow) == "SERVICE_UNAVAILABLE"
    assert time.perf_counter() - started < 0.9
    time.sleep(1.0)
    retry = patch(client, gp, ops, extra={**same, "X-Sync-Wait": "5"})
    assert retry.status_code == 200, retry.text
    assert retry.headers["ETag"] == 'W/"2"'
    # Retrying again replays the stored answer: the update ran exactly once.
    again = patch(client, gp, ops, extra=same)
    assert again.status_code == 200
    assert again.headers["ETag"] == 'W/"2"'
    read = client.get(f"{PDS}/Patient/{HAPPY}", headers={**gp, **rid()})
    assert read.headers["ETag"] == 'W/"2"'


def test_related_persons(client: TestClient, gp: dict[str, str]) -> None:
    people = population(client)
    # From patient 4 on: 9000000009-33 (patients 0-3) are the published test patients.
    with_relations = next(people.person(i) for i in range(4, 1_000) if people.person(i).related)
    without = next(people.person(i) for i in range(4, 1_000) if not people.person(i).related)
    url = f"{PDS}/Patient/{with_relations.nhs_number}/RelatedPerson"
    body = fhir_valid(client.get(url, headers={**gp, **rid()}).json())
    assert body["total"] == len(with_relations.related)
    entry = body["entry"][0]["resource"]  # type: ignore[index]
    assert entry["patient"]["identifier"]["value"] == with_relations.nhs_number
    related_index = with_relations.related[0][1]
    assert entry["identifier"][0]["value"] == people.person(related_index).nhs_number
    empty_url = f"{PDS}/Patient/{without.nhs_number}/RelatedPerson"
    empty = fhir_valid(client.get(empty_url, headers={**gp, **rid()}).json())
    assert empty["total"] == 0


@pytest.mark.parametrize(
    ("org_type", "role", "read", "update"),
    [
        ("gp-practice", "R8000", 200, 200),  # clinician
        ("gp-practice", "R8001", 200, 403),  # nurse: view only
        ("gp-practice", "R8008", 200, 200),  # receptionist: B0825 includes B0820
        ("community-pharmacy", "R8003", 200, 403),  # a pharmacist cannot amend demographics
        ("community-pharmacy", "R8008", 200, 200),
    ],
)
def test_rbac_on_demographics(
    client: TestClient, org_type: str, role: str, read: int, update: int
) -> None:
    headers = login_as(client, org_code(client, org_type), role)
    assert client.get(f"{PDS}/Patient/{HAPPY}", headers={**headers, **rid()}).status_code == read
    response = patch(client, headers, [{"op": "replace", "path": "/gender", "value": "other"}])
    assert response.status_code == update
    if update == 403:
        assert outcome_code(response) == "ACCESS_DENIED"
        assert "B0825" in response.json()["issue"][0]["diagnostics"]


def test_pds_needs_a_session(client: TestClient) -> None:
    missing = client.get(f"{PDS}/Patient/{HAPPY}", headers=rid())
    assert (missing.status_code, outcome_code(missing)) == (401, "ACCESS_DENIED")


def test_every_access_is_audited(client: TestClient, gp: dict[str, str]) -> None:
    client.get(f"{PDS}/Patient/{HAPPY}", headers={**gp, **rid()})
    client.get(f"{PDS}/Patient/9111231130", headers={**gp, **rid()})
    patch(client, gp, [{"op": "replace", "path": "/gender", "value": "other"}])
    patch(client, gp, [{"op": "replace", "path": "/gender", "value": "other"}])  # stale: 409

    async def rows() -> list[tuple[str, str, int]]:
        await client.app.state.audit.flush()  # type: ignore[attr-defined]
        async with client.app.state.store.connect() as conn:  # type: ignore[attr-defined]
            result = await conn.execute(
                select(audit.c.action, audit.c.resource, audit.c.outcome).order_by(audit.c.id)
            )
            return [(r.action, r.resource, r.outcome) for r in result]

    assert client.portal is not None
    recorded = [r for r in client.portal.call(rows) if r[0].startswith("pds.")]
    assert recorded == [
        ("pds.retrieve", f"Patient/{HAPPY}", 200),
        ("pds.retrieve", "Patient/9111231130", 404),
        ("pds.update", f"Patient/{HAPPY}", 200),
        ("pds.update", f"Patient/{HAPPY}", 409),
    ]


def test_openapi_describes_pds(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    read = paths[f"{PDS}/Patient/{{nhs_number}}"]
    assert read["get"]["responses"]["200"]["content"]["application/fhir+json"]["schema"]
    assert "application/json-patch+json" in read["patch"]["requestBody"]["content"]
    assert {"409", "412"} <= set(read["patch"]["responses"])
    search = paths[f"{PDS}/Patient"]["get"]
    assert {"birthdate", "family", "address-postcode", "_fuzzy-match", "_max-results"} <= {
        p["name"] for p in search["parameters"]
    }
    assert "Patient" in spec["components"]["schemas"]
