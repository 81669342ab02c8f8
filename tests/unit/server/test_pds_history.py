"""PDS search with ``_history=true``: previous family names match; by default they do not."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from harness.config import ServerSettings
from harness.server.pds.population import Population
from harness.server.store.schema import pds_name_history
from tests.factories import fhir_valid, rid

PDS = "/personal-demographics/FHIR/R4"
HAPPY = "9000000041"  # synthetic patient 4: 9000000009-33 are the published test patients


@pytest.fixture
def server_settings(server_settings: ServerSettings) -> ServerSettings:
    return server_settings.model_copy(update={"spike_arrest_per_s": 10_000})


def found(
    client: TestClient, gp: dict[str, str], family: str, born: str, **extra: str
) -> list[str]:
    params = {"family": family, "birthdate": f"eq{born}", "_max-results": "50", **extra}
    response = client.get(f"{PDS}/Patient", params=params, headers={**gp, **rid()})
    assert response.status_code == 200, response.text
    body = fhir_valid(response.json())
    assert body["resourceType"] == "Bundle", body
    return [e["resource"]["id"] for e in body.get("entry", [])]  # type: ignore[attr-defined]


def rename(client: TestClient, gp: dict[str, str], nhs: str, family: str, version: int) -> Any:
    return client.patch(
        f"{PDS}/Patient/{nhs}",
        json=[{"op": "replace", "path": "/name/0/family", "value": family}],
        headers={
            **gp,
            **rid(),
            "If-Match": f'W/"{version}"',
            "Content-Type": "application/json-patch+json",
        },
    )


def history_rows(client: TestClient, nhs: str) -> list[tuple[str, int]]:
    async def rows() -> list[tuple[str, int]]:
        async with client.app.state.store.connect() as conn:  # type: ignore[attr-defined]
            result = await conn.execute(
                select(pds_name_history.c.family, pds_name_history.c.version)
                .where(pds_name_history.c.nhs_number == nhs)
                .order_by(pds_name_history.c.id)
            )
            return [(r.family, r.version) for r in result]

    assert client.portal is not None
    return client.portal.call(rows)


def test_a_previous_family_name_matches_only_with_history(
    client: TestClient, gp: dict[str, str]
) -> None:
    people: Population = client.app.state.population  # type: ignore[attr-defined]
    person = people.person(4)
    old, born = person.family, person.birth_date.isoformat()
    assert HAPPY in found(client, gp, old, born)  # derived: no history needed
    assert rename(client, gp, HAPPY, "Marriedname", 1).status_code == 200
    assert HAPPY not in found(client, gp, old, born)
    assert HAPPY not in found(client, gp, old, born, _history="false")
    assert HAPPY in found(client, gp, old, born, _history="true")
    # The current name matches either way, and a name never held matches neither way.
    assert HAPPY in found(client, gp, "Marriedname", born)
    assert HAPPY in found(client, gp, "Marriedname", born, _history="true")
    assert HAPPY not in found(client, gp, "Nevername", born, _history="true")
    # Wildcards apply to previous names too.
    assert HAPPY in found(client, gp, old[:2] + "*", born, _history="true")
    assert history_rows(client, HAPPY) == [(old, 2)]


def test_every_previous_name_is_kept_and_failed_updates_record_none(
    client: TestClient, gp: dict[str, str]
) -> None:
    created = client.post(
        f"{PDS}/Patient",
        json={
            "name": [{"given": ["Jo"], "family": "Firstname"}],
            "gender": "other",
            "birthDate": "1990-05-06",
            "address": [{"line": ["2 Park Road"], "postalCode": "M1 1AA"}],
        },
        headers={**gp, **rid()},
    )
    assert created.status_code == 201, created.text
    nhs = created.json()["id"]
    assert rename(client, gp, nhs, "Secondname", 1).status_code == 200
    assert rename(client, gp, nhs, "Thirdname", 1).status_code == 409  # stale: rolled back
    assert rename(client, gp, nhs, "Thirdname", 2).status_code == 200
    assert history_rows(client, nhs) == [("Firstname", 2), ("Secondname", 3)]
    for previous in ("Firstname", "Secondname"):
        assert found(client, gp, previous, "1990-05-06") == []
        assert found(client, gp, previous, "1990-05-06", _history="true") == [nhs]
    # A patch that keeps the family name records no history.
    given = [{"op": "replace", "path": "/name/0/given/0", "value": "Joanna"}]
    response = client.patch(
        f"{PDS}/Patient/{nhs}",
        json=given,
        headers={**gp, **rid(), "If-Match": 'W/"3"', "Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 200
    assert len(history_rows(client, nhs)) == 2


def test_openapi_lists_history(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    names = {p["name"] for p in spec["paths"][f"{PDS}/Patient"]["get"]["parameters"]}
    assert "_history" in names


def test_a_previous_email_or_phone_matches_only_with_history(
    client: TestClient, gp: dict[str, str]
) -> None:
    born = "1991-02-03"
    created = client.post(
        f"{PDS}/Patient",
        json={
            "name": [{"given": ["Sam"], "family": "Telecomme"}],
            "gender": "male",
            "birthDate": born,
            "address": [{"line": ["3 Park Road"], "postalCode": "M1 1AB"}],
            "telecom": [
                {"system": "email", "value": "Old@Example.com", "use": "home"},
                {"system": "phone", "value": "0161 000 1111", "use": "home"},
            ],
        },
        headers={**gp, **rid()},
    )
    assert created.status_code == 201, created.text
    nhs = created.json()["id"]
    new = [
        {"system": "email", "value": "new@example.com", "use": "home"},
        {"system": "phone", "value": "0161 000 2222", "use": "home"},
    ]
    patched = client.patch(
        f"{PDS}/Patient/{nhs}",
        json=[{"op": "replace", "path": "/telecom", "value": new}],
        headers={**gp, **rid(), "If-Match": 'W/"1"', "Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    for old in ({"email": "old@example.com"}, {"phone": "01610001111"}):
        assert found(client, gp, "Telecomme", born, **old) == []
        assert found(client, gp, "Telecomme", born, **old, _history="true") == [nhs]
    for current in ({"email": "NEW@example.com"}, {"phone": "01610002222"}):
        assert found(client, gp, "Telecomme", born, **current) == [nhs]
        assert found(client, gp, "Telecomme", born, **current, _history="true") == [nhs]
    assert found(client, gp, "Telecomme", born, email="never@example.com", _history="true") == []


def test_a_published_patient_is_found_by_its_previous_email_only_with_history(
    client: TestClient, gp: dict[str, str]
) -> None:
    # 5900020584 (Sam Smith) had Historic@historic.com before New@new.com, as the sandbox has it.
    query = {"gender": "male", "email": "Historic@historic.com"}
    assert "5900020584" not in found(client, gp, "Smith", "2000-05-05", **query)
    assert found(client, gp, "Smith", "2000-05-05", **query, _history="true") == ["5900020584"]
    assert "5900020584" in found(client, gp, "Smith", "2000-05-05", email="New@new.com")
