"""FHIR messages the national-service tests send: EPS prescriptions, dispensing, SCR documents.

Every builder returns a body that is valid FHIR R4B (checked by the tests with
``fhir.resources``), shaped as :mod:`harness.server.eps.messages` documents.
"""

from __future__ import annotations

import uuid
from typing import Any

from harness.load.fhir import claim_items
from harness.server.eps.messages import (
    DISPENSE_TYPE_SYSTEM,
    GROUP_IDENTIFIER_URL,
    LINE_ITEM_SYSTEM,
    MESSAGE_EVENT_SYSTEM,
    PRESCRIPTION_ID_SYSTEM,
    new_prescription_id,
)

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def _message(event: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    header = {
        "resourceType": "MessageHeader",
        "eventCoding": {"system": MESSAGE_EVENT_SYSTEM, "code": event},
        "source": {"endpoint": "urn:nhs-uk:addressing:ods:X26"},
    }
    return {
        "resourceType": "Bundle",
        "type": "message",
        "identifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": str(uuid.uuid4())},
        "entry": [
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r} for r in [header, *resources]
        ],
    }


def _patient(nhs_number: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": NHS, "value": nhs_number}]}


def order(
    prescriber_ods: str,
    nhs_number: str,
    *,
    items: int = 2,
    nominated: str | None = None,
    repeats: int | None = None,
    start: str | None = None,
    prescription_id: str | None = None,
) -> tuple[str, list[str], dict[str, Any]]:
    """A prescription-order message; returns its id, line item ids and the Bundle."""
    prescription_id = prescription_id or new_prescription_id(prescriber_ods)
    line_ids = [str(uuid.uuid4()) for _ in range(items)]
    requests = []
    for line_id in line_ids:
        dispense: dict[str, Any] = {"quantity": {"value": 28, "unit": "tablet"}}
        if nominated:
            dispense["performer"] = {"identifier": {"system": ODS, "value": nominated}}
        if repeats is not None:
            dispense["numberOfRepeatsAllowed"] = repeats
        if start is not None:
            dispense["validityPeriod"] = {"start": start}
        course = "continuous-repeat-dispensing" if repeats is not None else "acute"
        requests.append(
            {
                "resourceType": "MedicationRequest",
                "identifier": [{"system": LINE_ITEM_SYSTEM, "value": line_id}],
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": "39720311000001101",
                            "display": "Paracetamol 500mg tablets",
                        }
                    ]
                },
                "subject": {"identifier": {"system": NHS, "value": nhs_number}},
                "groupIdentifier": {"system": PRESCRIPTION_ID_SYSTEM, "value": prescription_id},
                "courseOfTherapyType": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
                            "code": course,
                        }
                    ]
                },
                "dispenseRequest": dispense,
            }
        )
    return (
        prescription_id,
        line_ids,
        _message("prescription-order", [_patient(nhs_number), *requests]),
    )


def cancel(prescription_id: str, line_id: str, nhs_number: str) -> dict[str, Any]:
    """A prescription-order-update cancelling one line item."""
    request = {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": LINE_ITEM_SYSTEM, "value": line_id}],
        "status": "cancelled",
        "statusReason": {"coding": [{"code": "0001", "display": "Prescribing error"}]},
        "intent": "order",
        "medicationCodeableConcept": {"text": "Paracetamol 500mg tablets"},
        "subject": {"identifier": {"system": NHS, "value": nhs_number}},
        "groupIdentifier": {"system": PRESCRIPTION_ID_SYSTEM, "value": prescription_id},
    }
    return _message("prescription-order-update", [_patient(nhs_number), request])


def release(owner: str, prescription_id: str | None = None) -> dict[str, Any]:
    """A $release Parameters: one prescription, or the nominated batch."""
    parameters: list[dict[str, Any]] = [
        {"name": "owner", "valueIdentifier": {"system": ODS, "value": owner}},
        {"name": "status", "valueCode": "accepted"},
    ]
    if prescription_id is not None:
        parameters.append(
            {
                "name": "group-identifier",
                "valueIdentifier": {"system": PRESCRIPTION_ID_SYSTEM, "value": prescription_id},
            }
        )
    return {"resourceType": "Parameters", "parameter": parameters}


def dispense(
    prescription_id: str, line_codes: dict[str, str], nhs_number: str, dispenser: str
) -> dict[str, Any]:
    """A dispense-notification: line item id → status (0001 dispensed … 0004 owing)."""
    dispenses = [
        {
            "resourceType": "MedicationDispense",
            "status": "completed" if code in ("0001", "0002") else "in-progress",
            "type": {"coding": [{"system": DISPENSE_TYPE_SYSTEM, "code": code}]},
            "medicationCodeableConcept": {"text": "Paracetamol 500mg tablets"},
            "subject": {"identifier": {"system": NHS, "value": nhs_number}},
            "performer": [{"actor": {"identifier": {"system": ODS, "value": dispenser}}}],
            "authorizingPrescription": [
                {
                    "identifier": {"system": LINE_ITEM_SYSTEM, "value": line_id},
                    "extension": [
                        {
                            "url": GROUP_IDENTIFIER_URL,
                            "extension": [
                                {
                                    "url": "shortForm",
                                    "valueIdentifier": {
                                        "system": PRESCRIPTION_ID_SYSTEM,
                                        "value": prescription_id,
                                    },
                                }
                            ],
                        }
                    ],
                }
            ],
        }
        for line_id, code in line_codes.items()
    ]
    return _message("dispense-notification", [_patient(nhs_number), *dispenses])


def task(prescription_id: str, action: str, owner: str) -> dict[str, Any]:
    """A return (``rejected``) or withdraw (``in-progress``) Task."""
    return {
        "resourceType": "Task",
        "status": "rejected" if action == "return" else "in-progress",
        "intent": "order",
        "groupIdentifier": {"system": PRESCRIPTION_ID_SYSTEM, "value": prescription_id},
        "owner": {"identifier": {"system": ODS, "value": owner}},
        "statusReason": {"coding": [{"code": "0002", "display": "Unable to dispense"}]},
    }


def claim(prescription_id: str, nhs_number: str, dispenser: str) -> dict[str, Any]:
    """A reimbursement Claim for a prescription."""
    return {
        "resourceType": "Claim",
        "status": "active",
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "pharmacy"}
            ]
        },
        "use": "claim",
        "patient": {"identifier": {"system": NHS, "value": nhs_number}},
        "created": "2026-01-01",
        "provider": {"identifier": {"system": ODS, "value": dispenser}},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "NHS BSA"}}],
        "prescription": {
            "identifier": {"system": PRESCRIPTION_ID_SYSTEM, "value": prescription_id}
        },
        "item": claim_items(),
    }


def scr_document(
    nhs_number: str, author_ods: str, *, replaces: str | None = None, allergy: str = "Penicillin"
) -> tuple[str, dict[str, Any]]:
    """An SCR document Bundle; returns its composition id and the Bundle."""
    composition_id = str(uuid.uuid4())
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "identifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": composition_id},
        "status": "final",
        "type": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "196981000000101",
                    "display": "GP Summary",
                }
            ]
        },
        "subject": {"identifier": {"system": NHS, "value": nhs_number}},
        "date": "2026-01-01T09:00:00+00:00",
        "author": [{"identifier": {"system": ODS, "value": author_ods}}],
        "title": "GP Summary",
    }
    if replaces is not None:
        composition["relatesTo"] = [
            {
                "code": "replaces",
                "targetIdentifier": {
                    "system": "https://tools.ietf.org/html/rfc4122",
                    "value": replaces,
                },
            }
        ]
    allergy_resource = {
        "resourceType": "AllergyIntolerance",
        "patient": {"identifier": {"system": NHS, "value": nhs_number}},
        "code": {"text": allergy},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": str(uuid.uuid4())},
        "timestamp": "2026-01-01T09:00:00+00:00",
        "entry": [
            {"fullUrl": f"urn:uuid:{composition_id}", "resource": composition},
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": allergy_resource},
        ],
    }
    return composition_id, bundle


def set_permission(nhs_number: str, code: str) -> dict[str, Any]:
    """A $setPermission Parameters."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "nhsNumber", "valueIdentifier": {"system": NHS, "value": nhs_number}},
            {
                "name": "permissionCode",
                "valueCoding": {
                    "system": "https://fhir.nhs.uk/CodeSystem/SCR-ACS-Permission",
                    "code": code,
                },
            },
        ],
    }


def privacy_alert(nhs_number: str, alert_type: str, reason: str) -> dict[str, Any]:
    """A privacy-alert AuditEvent (type 1 creates a self-claimed legitimate relationship)."""
    return {
        "resourceType": "AuditEvent",
        "type": {
            "system": "https://fhir.nhs.uk/CodeSystem/SCR-PrivacyAlertType",
            "code": alert_type,
        },
        "recorded": "2026-01-01T09:00:00+00:00",
        "purposeOfEvent": [{"coding": [{"code": reason}]}],
        "agent": [{"requestor": True, "who": {"display": "a clinician"}}],
        "source": {"observer": {"display": "a clinical system"}},
        "entity": [{"what": {"identifier": {"system": NHS, "value": nhs_number}}}],
    }
