"""SCR over HTTP: upload and versions, legitimate relationships, permission, emergency access."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from harness.server.pds.population import Person, Population
from harness.server.store.schema import privacy_alerts
from tests import builders
from tests.factories import fhir_valid, login_as, org_code, outcome_code, rid

SCR = "/summary-care-record/FHIR/R4"


@dataclass
class Ward:
    client: TestClient
    patient: Person
    gp: dict[str, str]

    def post(self, path: str, body: Any, headers: dict[str, str]) -> Any:
        return self.client.post(f"{SCR}{path}", json=body, headers={**headers, **rid()})

    def upload(self, headers: dict[str, str] | None = None, replaces: str | None = None) -> Any:
        assert self.patient.gp_ods is not None
        _, body = builders.scr_document(
            self.patient.nhs_number, self.patient.gp_ods, replaces=replaces
        )
        return self.post("/Bundle", body, headers or self.gp)

    def references(self, headers: dict[str, str], **extra: str) -> Any:
        params = {"patient": f"https://fhir.nhs.uk/Id/nhs-number|{self.patient.nhs_number}"}
        params.update({k: v for k, v in extra.items() if k.startswith("_")})
        sent = {**headers, **rid(), **{k: v for k, v in extra.items() if not k.startswith("_")}}
        return self.client.get(f"{SCR}/DocumentReference", params=params, headers=sent)

    def read(self, document_id: str, headers: dict[str, str], **extra: str) -> Any:
        params = {
            "composition.identifier": document_id,
            "composition.subject:Patient.identifier": self.patient.nhs_number,
            **{k: v for k, v in extra.items() if k.startswith("_")},
        }
        sent = {**headers, **rid(), **{k: v for k, v in extra.items() if not k.startswith("_")}}
        return self.client.get(f"{SCR}/Bundle", params=params, headers=sent)

    def permit(self, headers: dict[str, str], code: str = "Yes") -> Any:
        return self.post(
            "/$setPermission", builders.set_permission(self.patient.nhs_number, code), headers
        )


@pytest.fixture
def ward(client: TestClient) -> Ward:
    population: Population = client.app.state.population  # type: ignore[attr-defined]
    patient = next(
        population.person(i)
        for i in range(1, 1_000)
        if population.person(i).pharmacy_ods and not population.person(i).restricted
    )
    assert patient.gp_ods is not None
    return Ward(client, patient, login_as(client, patient.gp_ods, "R8000"))


def created(response: Any) -> dict[str, Any]:
    """The created resource; for an SCR upload (201 without a body, as specified) its id, from
    ``Location``."""
    assert response.status_code == 201, response.text
    if not response.content:
        return {"id": response.headers["Location"].rpartition("composition.identifier=")[2]}
    return fhir_valid(response.json())


def entries(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = fhir_valid(response.json())
    return [e["resource"] for e in body["entry"]]  # type: ignore[attr-defined]


def refused(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert outcome_code(response) == code
    return str(response.json()["issue"][0]["diagnostics"])


def alerts(client: TestClient) -> list[tuple[str, str, str]]:
    async def run() -> list[tuple[str, str, str]]:
        async with client.app.state.store.connect() as conn:  # type: ignore[attr-defined]
            rows = await conn.execute(
                select(
                    privacy_alerts.c.alert_type, privacy_alerts.c.ods_code, privacy_alerts.c.reason
                ).order_by(privacy_alerts.c.at)
            )
            return [(r.alert_type, r.ods_code, r.reason) for r in rows]

    assert client.portal is not None
    return client.portal.call(run)


def test_upload_find_permit_and_read(ward: Ward) -> None:
    stored = created(ward.upload())
    document_id = str(stored["id"])
    [reference] = entries(ward.references(ward.gp))
    assert reference["masterIdentifier"]["value"] == document_id
    assert reference["securityLabel"][0]["coding"][0]["code"] == "Unknown"
    refused(ward.read(document_id, ward.gp), 403, "ACCESS_DENIED")  # no permission to view yet
    assert ward.permit(ward.gp).status_code == 201
    [record] = entries(ward.read(document_id, ward.gp))
    assert record["id"] == document_id
    assert record["entry"][1]["resource"]["code"]["text"] == "Penicillin"
    assert entries(ward.references(ward.gp))[0]["securityLabel"][0]["coding"][0]["code"] == "Yes"
    ward.permit(ward.gp, "No")
    refused(ward.read(document_id, ward.gp), 403, "ACCESS_DENIED")


def test_updates_must_name_the_latest_record(ward: Ward) -> None:
    first = str(created(ward.upload())["id"])
    refused(ward.upload(), 409, "RESOURCE_VERSION_MISMATCH")  # names no predecessor
    second = str(created(ward.upload(replaces=first))["id"])
    refused(ward.upload(replaces=first), 409, "RESOURCE_VERSION_MISMATCH")  # stale
    ward.permit(ward.gp)
    assert entries(ward.read(first, ward.gp)) == []  # a stale UUID gives an empty Bundle
    assert [r["id"] for r in entries(ward.read(second, ward.gp))] == [second]
    assert entries(ward.references(ward.gp))[0]["id"] == second


def test_concurrent_updates_store_exactly_one(ward: Ward) -> None:
    first = str(created(ward.upload())["id"])
    with ThreadPoolExecutor(max_workers=3) as pool:
        statuses = sorted(pool.map(lambda _: ward.upload(replaces=first).status_code, range(3)))
    assert statuses == [201, 409, 409]


def test_only_the_registered_practice_uploads(ward: Ward, client: TestClient) -> None:
    other_gp = next(
        o.ods_code
        for o in client.app.state.directory.of_type("gp-practice")  # type: ignore[attr-defined]
        if o.ods_code != ward.patient.gp_ods
    )
    refused(ward.upload(login_as(client, other_gp, "R8000")), 403, "ACCESS_DENIED")
    assert ward.patient.gp_ods is not None
    nurse = login_as(client, ward.patient.gp_ods, "R8001")
    assert "B0265" in refused(ward.upload(nurse), 403, "ACCESS_DENIED")
    not_a_document = {"resourceType": "Bundle", "type": "collection", "entry": []}
    refused(ward.post("/Bundle", not_a_document, ward.gp), 400, "INVALID_VALUE")


def test_self_claimed_relationship_opens_the_record_and_alerts(
    ward: Ward, client: TestClient
) -> None:
    document_id = str(created(ward.upload())["id"])
    trust = org_code(client, "trust")
    doctor = login_as(client, trust, "R8000")
    assert "legitimate relationship" in refused(ward.references(doctor), 403, "ACCESS_DENIED")
    claim = builders.privacy_alert(ward.patient.nhs_number, "1", "direct-care")
    event = created(ward.post("/AuditEvent", claim, doctor))
    assert event["type"]["code"] == "1"  # type: ignore[index]
    assert alerts(client) == [("1", trust, "direct-care")]
    assert [r["id"] for r in entries(ward.references(doctor))] == [document_id]
    refused(ward.read(document_id, doctor), 403, "ACCESS_DENIED")  # still needs permission
    assert ward.permit(doctor).status_code == 201
    assert entries(ward.read(document_id, doctor))
    # The relationship is the user's own: a colleague at the same trust has none.
    colleague = login_as(client, trust, "R8000", user=1)
    refused(ward.references(colleague), 403, "ACCESS_DENIED")


def test_emergency_access_is_granted_and_alerted(ward: Ward, client: TestClient) -> None:
    document_id = str(created(ward.upload())["id"])
    trust = org_code(client, "trust")
    doctor = login_as(client, trust, "R8000")
    refused(ward.read(document_id, doctor), 403, "ACCESS_DENIED")
    assert alerts(client) == []
    found = entries(ward.references(doctor, **{"NHSD-Emergency-Access": "unconscious-patient"}))
    assert [r["id"] for r in found] == [document_id]
    record = entries(ward.read(document_id, doctor, _emergency="cardiac-arrest"))
    assert record[0]["id"] == document_id
    assert alerts(client) == [
        ("2", trust, "unconscious-patient"),
        ("2", trust, "cardiac-arrest"),
    ]
    listed = entries(client.get(f"{SCR}/AuditEvent", headers={**doctor, **rid()}))
    assert {e["purposeOfEvent"][0]["coding"][0]["code"] for e in listed} == {
        "unconscious-patient",
        "cardiac-arrest",
    }
    # Another organisation's privacy officer does not see them.
    assert ward.patient.gp_ods is not None
    assert entries(client.get(f"{SCR}/AuditEvent", headers={**ward.gp, **rid()})) == []


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("registered-gp-clinician", 200),
        ("registered-gp-nurse", 200),
        ("registered-gp-receptionist", 403),  # a receptionist cannot view an SCR (no B0264)
        ("nominated-pharmacist", 200),  # the nominated pharmacy is a legitimate relationship
        ("other-pharmacist", 403),  # no relationship
    ],
)
def test_who_may_find_the_record(ward: Ward, client: TestClient, who: str, status: int) -> None:
    created(ward.upload())
    assert ward.patient.gp_ods is not None
    assert ward.patient.pharmacy_ods is not None
    other_pharmacy = next(
        o.ods_code
        for o in client.app.state.directory.of_type("community-pharmacy")  # type: ignore[attr-defined]
        if o.ods_code != ward.patient.pharmacy_ods
    )
    ods, role = {
        "registered-gp-clinician": (ward.patient.gp_ods, "R8000"),
        "registered-gp-nurse": (ward.patient.gp_ods, "R8001"),
        "registered-gp-receptionist": (ward.patient.gp_ods, "R8008"),
        "nominated-pharmacist": (ward.patient.pharmacy_ods, "R8003"),
        "other-pharmacist": (other_pharmacy, "R8003"),
    }[who]
    response = ward.references(login_as(client, ods, role))
    assert response.status_code == status, response.text
    if status == 403:
        outcome_code(response)


def test_role_refusals_even_in_an_emergency(ward: Ward, client: TestClient) -> None:
    assert ward.patient.gp_ods is not None
    receptionist = login_as(client, ward.patient.gp_ods, "R8008")
    emergency = {"NHSD-Emergency-Access": "emergency"}
    assert "B0264" in refused(ward.references(receptionist, **emergency), 403, "ACCESS_DENIED")
    pharmacist = login_as(client, org_code(client, "community-pharmacy"), "R8003")
    claim = builders.privacy_alert(ward.patient.nhs_number, "1", "direct-care")
    assert "B8028" in refused(ward.post("/AuditEvent", claim, pharmacist), 403, "ACCESS_DENIED")
    assert alerts(client) == []


def test_alert_and_permission_validation(ward: Ward) -> None:
    bad_type = builders.privacy_alert(ward.patient.nhs_number, "9", "why")
    refused(ward.post("/AuditEvent", bad_type, ward.gp), 400, "INVALID_VALUE")
    unknown_patient = builders.privacy_alert("9111231130", "1", "direct-care")
    refused(ward.post("/AuditEvent", unknown_patient, ward.gp), 404, "RESOURCE_NOT_FOUND")
    refused(ward.permit(ward.gp, "Maybe"), 400, "INVALID_VALUE")


# The published shapes (NHSDigital/summary-care-record-api, specification/components/examples):
# an upload whose Composition.subject references the bundle's Patient, $setPermission as parts
# of one parameter (nhsNumber a valueString; permissionCode Yes, No or Ask), and an AuditEvent
# naming the patient by an agent's NHS number and its reason by subtype.
def test_published_shapes(ward: Ward, client: TestClient) -> None:
    nhs_number = ward.patient.nhs_number
    assert ward.patient.gp_ods is not None
    _, bundle = builders.scr_document(nhs_number, ward.patient.gp_ods)
    composition = bundle["entry"][0]["resource"]
    composition["subject"] = {"reference": "Patient/p1"}
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:p1",
            "resource": {
                "resourceType": "Patient",
                "id": "p1",
                "identifier": [
                    {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}
                ],
            },
        }
    )
    document_id = str(created(ward.post("/Bundle", bundle, ward.gp))["id"])

    def permission(code: str) -> dict[str, Any]:
        parts = [
            {"name": "nhsNumber", "valueString": nhs_number},
            {"name": "permissionCode", "valueCoding": {"code": code}},
        ]
        return {
            "resourceType": "Parameters",
            "parameter": [{"name": "setPermissions", "part": parts}],
        }

    created(ward.post("/$setPermission", permission("Yes"), ward.gp))
    assert [r["id"] for r in entries(ward.read(document_id, ward.gp))] == [document_id]
    created(ward.post("/$setPermission", permission("Ask"), ward.gp))  # ask every time
    assert entries(ward.references(ward.gp))[0]["securityLabel"][0]["coding"][0]["code"] == "Ask"
    refused(ward.read(document_id, ward.gp), 403, "ACCESS_DENIED")

    trust = org_code(client, "trust")
    doctor = login_as(client, trust, "R8000")
    alert = {
        "resourceType": "AuditEvent",
        "type": {"system": "https://fhir.nhs.uk/CodeSystem/SCR-AlertType", "code": "1"},
        "subtype": [{"code": "1", "display": "Access made in the public interest"}],
        "recorded": "2020-11-13T00:00:00+00:00",
        "agent": [
            {
                "who": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/nhs-number",
                        "value": nhs_number,
                    }
                },
                "requestor": False,
            },
            {
                "who": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                        "value": trust,
                    }
                },
                "requestor": False,
            },
        ],
        "entity": [{"what": {"identifier": {"value": "1C03CF4F-D404-4D76-B192-4F81727059F6"}}}],
    }
    created(ward.post("/AuditEvent", alert, doctor))
    assert ("1", trust, "Access made in the public interest") in alerts(client)
    assert [r["id"] for r in entries(ward.references(doctor))] == [document_id]
