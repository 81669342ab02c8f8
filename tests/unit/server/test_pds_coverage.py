"""PDS Coverage: record a patient's insurance (EHIC), search it by subscriber, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from harness.config import ServerSettings
from harness.server.pds.create import created_nhs_number
from tests.factories import fhir_valid, login_as, org_code, outcome_code, rid

PDS = "/personal-demographics/FHIR/R4"
HAPPY = "9000000041"  # synthetic patient 4 (9000000009-33 are the published test patients)
OTHER = "9000000068"  # patient 5
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


@pytest.fixture
def server_settings(server_settings: ServerSettings) -> ServerSettings:
    return server_settings.model_copy(update={"spike_arrest_per_s": 10_000})


def ehic(nhs: str = HAPPY, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Coverage",
        "identifier": [{"system": "https://example.eu/ehic", "value": "80250000000123456789"}],
        "status": "active",
        "beneficiary": {"identifier": {"system": NHS_SYSTEM, "value": nhs}},
        "period": {"start": "2025-01-01", "end": "2029-12-31"},
        "payor": [{"display": "Caisse primaire d'assurance maladie"}],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def post(client: TestClient, headers: dict[str, str], body: Any, version: str = "1") -> Any:
    """POST /Coverage with ``If-Match`` naming the patient's record version (as PDS needs)."""
    return client.post(
        f"{PDS}/Coverage", json=body, headers={**headers, **rid(), "If-Match": f'W/"{version}"'}
    )


def recorded(response: Any) -> dict[str, Any]:
    """The Coverage a 201 names in ``Location`` (the body is the patient's searchset)."""
    assert response.status_code == 201, response.text
    assert fhir_valid(response.json())["type"] == "searchset"
    return {"id": response.headers["Location"].rsplit("/", 1)[-1]}


def search(client: TestClient, headers: dict[str, str], value: str | None) -> Any:
    params = {} if value is None else {"subscriber:identifier": value}
    return client.get(f"{PDS}/Coverage", params=params, headers={**headers, **rid()})


def test_record_then_search_and_read(client: TestClient, gp: dict[str, str]) -> None:
    assert fhir_valid(search(client, gp, HAPPY).json())["total"] == 0
    first = post(client, gp, ehic())
    assert first.status_code == 201, first.text
    bundle = fhir_valid(first.json())  # PDS answers with the patient's coverage, as searched
    assert bundle["total"] == 1
    body = bundle["entry"][0]["resource"]  # type: ignore[index]
    assert body["beneficiary"]["identifier"]["value"] == HAPPY
    assert body["subscriber"]["reference"] == f"{PDS}/Patient/{HAPPY}"
    assert body["meta"]["versionId"] == "1"
    assert first.headers["Location"] == f"http://testserver{PDS}/Coverage/{body['id']}"
    read = client.get(first.headers["Location"], headers={**gp, **rid()})
    assert read.status_code == 200
    assert read.json() == body
    # A second policy (not an EHIC: no type), named by reference; another patient's stays theirs.
    second = post(client, gp, ehic(beneficiary={"reference": f"Patient/{HAPPY}"}, status="draft"))
    second_id = recorded(second)["id"]
    assert post(client, gp, ehic(OTHER)).status_code == 201
    for value in (HAPPY, f"{NHS_SYSTEM}|{HAPPY}"):
        response = search(client, gp, value)
        assert response.status_code == 200
        found = fhir_valid(response.json())
        assert found["total"] == 2
        ids = [e["resource"]["id"] for e in found["entry"]]  # type: ignore[union-attr]
        assert ids == [body["id"], second_id]
    assert fhir_valid(search(client, gp, OTHER).json())["total"] == 1


def test_an_ehic_replaces_the_one_held(client: TestClient, gp: dict[str, str]) -> None:
    card = {"coding": [{"system": "http://terminology.hl7.eu/CodeSystem/v3-ActCode",
                        "code": "EHIC"}]}  # fmt: skip
    recorded(post(client, gp, ehic(type=card)))
    latest = recorded(post(client, gp, ehic(type=card, period={"end": "2031-01-01"})))
    held = fhir_valid(search(client, gp, HAPPY).json())
    assert [e["resource"]["id"] for e in held["entry"]] == [latest["id"]]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("if_match", "status", "code"),
    [(None, 412, "PRECONDITION_FAILED"), ("2", 412, "PRECONDITION_FAILED"),
     ('W/"2"', 409, "RESOURCE_VERSION_MISMATCH")],
)  # fmt: skip
def test_if_match_names_the_patients_version(
    client: TestClient, gp: dict[str, str], if_match: str | None, status: int, code: str
) -> None:
    headers = {**gp, **rid(), **({"If-Match": if_match} if if_match else {})}
    response = client.post(f"{PDS}/Coverage", json=ehic(), headers=headers)
    assert response.status_code == status, response.text
    assert outcome_code(response) == code
    assert search(client, gp, HAPPY).json()["total"] == 0


def test_a_created_patient_can_hold_coverage(client: TestClient, gp: dict[str, str]) -> None:
    patient = client.post(
        f"{PDS}/Patient",
        json={
            "name": [{"given": ["Zoe"], "family": "Visitor"}],
            "gender": "female",
            "birthDate": "1985-07-07",
            "address": [{"line": ["3 Dock Street"], "postalCode": "L1 1AA"}],
        },
        headers={**gp, **rid()},
    )
    assert patient.status_code == 201
    nhs = patient.json()["id"]
    assert post(client, gp, ehic(nhs)).status_code == 201
    assert search(client, gp, nhs).json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (ehic(status=None), 400, "MISSING_VALUE"),
        (ehic(payor=None), 400, "MISSING_VALUE"),
        (ehic(payor=[]), 400, "MISSING_VALUE"),
        (ehic(beneficiary=None), 400, "MISSING_VALUE"),
        (ehic(beneficiary={"display": "someone"}), 400, "MISSING_VALUE"),
        (ehic(status="lapsed"), 400, "INVALID_VALUE"),
        (ehic("9000000000"), 400, "INVALID_VALUE"),  # bad check digit
        (ehic(beneficiary={"reference": "Practitioner/9000000009"}), 400, "INVALID_VALUE"),
        (
            ehic(beneficiary={"identifier": {"system": "urn:other", "value": HAPPY}}),
            400,
            "INVALID_VALUE",
        ),
        (ehic(period={"start": "2030-01-01", "end": "2029-01-01"}), 400, "INVALID_VALUE"),
        (ehic(period={"start": "soon"}), 400, "INVALID_VALUE"),
        (ehic(resourceType="Patient"), 400, "INVALID_VALUE"),
        (ehic(id="mine"), 400, "ADDITIONAL_PROPERTIES"),
        (ehic(premium=100), 400, "ADDITIONAL_PROPERTIES"),
        (ehic("9111231130"), 404, "RESOURCE_NOT_FOUND"),  # valid, nobody has it
        (ehic(subscriber={"identifier": {"value": "9111231130"}}), 404, "RESOURCE_NOT_FOUND"),
        (["a", "list"], 400, "INVALID_VALUE"),
    ],
)
def test_refusals(
    client: TestClient, gp: dict[str, str], body: Any, status: int, code: str
) -> None:
    response = post(client, gp, body)
    assert response.status_code == status, response.text
    assert outcome_code(response) == code
    assert search(client, gp, HAPPY).json()["total"] == 0


@pytest.mark.parametrize(
    ("value", "status", "code"),
    [
        (None, 400, "MISSING_VALUE"),
        ("", 400, "MISSING_VALUE"),
        ("9000000000", 400, "INVALID_VALUE"),
        ("urn:other|9000000009", 400, "INVALID_VALUE"),
        ("9111231130", 404, "RESOURCE_NOT_FOUND"),
        (created_nhs_number(7), 404, "RESOURCE_NOT_FOUND"),  # never allocated
    ],
)
def test_search_refusals(
    client: TestClient, gp: dict[str, str], value: str | None, status: int, code: str
) -> None:
    response = search(client, gp, value)
    assert response.status_code == status, response.text
    assert outcome_code(response) == code


def test_an_unknown_coverage_is_not_found(client: TestClient, gp: dict[str, str]) -> None:
    response = client.get(f"{PDS}/Coverage/no-such-id", headers={**gp, **rid()})
    assert response.status_code == 404
    assert outcome_code(response) == "RESOURCE_NOT_FOUND"


def test_recording_needs_amend_and_searching_needs_view(client: TestClient) -> None:
    nurse = login_as(client, org_code(client, "gp-practice"), "R8001")
    refused = post(client, nurse, ehic())
    assert refused.status_code == 403
    assert outcome_code(refused) == "ACCESS_DENIED"
    assert "B0825" in refused.json()["issue"][0]["diagnostics"]
    assert search(client, nurse, HAPPY).status_code == 200
    receptionist = login_as(client, org_code(client, "gp-practice"), "R8008")
    assert post(client, receptionist, ehic()).status_code == 201


def test_openapi_describes_coverage(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    coverage = paths[f"{PDS}/Coverage"]
    assert "subscriber:identifier" in {p["name"] for p in coverage["get"]["parameters"]}
    body = coverage["post"]["requestBody"]["content"]["application/fhir+json"]["schema"]
    assert {"status", "beneficiary", "payor"} <= set(body["required"])
    assert coverage["post"]["responses"]["201"]["content"]["application/fhir+json"]["schema"]
    assert f"{PDS}/Coverage/{{coverage_id}}" in paths
