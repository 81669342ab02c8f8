"""The FHIR a clinical system sends to PDS, EPS and SCR, and the little it reads back.

A GP system prescribes with a ``prescription-order`` message Bundle (one ``MedicationRequest``
per line item, the short-form prescription id in ``groupIdentifier``, the patient's nominated
pharmacy in ``dispenseRequest.performer``); a pharmacy system releases with a ``Parameters``,
reports what it dispensed with a ``dispense-notification`` Bundle, gives a prescription back or
withdraws a notification with a ``Task`` and claims with a ``Claim``; a GP system uploads the
Summary Care Record as a ``document`` Bundle, and an A&E clinician self-claims a legitimate
relationship with a privacy-alert ``AuditEvent``. Shapes follow the reference server's EPS and
SCR APIs. Everything here is pure: no sockets, no gevent, so tests import it freely.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
PRESCRIPTION_ID_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-number"
PRESCRIPTION_PRODUCT = {
    "system": "http://snomed.info/sct",
    "code": "16076005",
    "display": "Prescription",
}
NO_ENDORSEMENT = {
    "system": "https://fhir.nhs.uk/CodeSystem/medicationdispense-endorsement",
    "code": "NDEC",
    "display": "No Dispenser Endorsement Code",
}
LINE_ITEM_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-item-number"
MESSAGE_EVENT_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-event"
DISPENSE_TYPE_SYSTEM = "https://fhir.nhs.uk/CodeSystem/medicationdispense-type"
GROUP_IDENTIFIER_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-GroupIdentifier"
UUID_SYSTEM = "https://tools.ietf.org/html/rfc4122"
SNOMED = "http://snomed.info/sct"
_CHECK_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+"
_MEDICINES = (
    ("39720311000001101", "Paracetamol 500mg tablets"),
    ("39113611000001102", "Amoxicillin 500mg capsules"),
    ("41946911000001101", "Atorvastatin 20mg tablets"),
    ("39695211000001102", "Omeprazole 20mg gastro-resistant capsules"),
)


@dataclass(frozen=True, slots=True)
class Prescription:
    """What a system remembers about one prescription it issued, released or dispensed."""

    prescription_id: str
    line_ids: tuple[str, ...]
    nhs_number: str
    nominated: str | None = None
    owing: bool = False  # partly dispensed: the owed items are still to be supplied


def check_character(body: str) -> str:
    """ISO/IEC 7064 Mod 37-2 check character of ``body`` (digits and capitals)."""
    total = 0
    for char in body:
        total = (total + int(char, 36)) * 2 % 37
    return _CHECK_CHARS[(38 - total) % 37]


def prescription_id(prescriber_ods: str) -> str:
    """A fresh short-form prescription id, e.g. ``A0548B-A99968-451485``.

    Random from the operating system, not the run's seed: generator processes seeded alike
    must not issue the same prescription twice.
    """
    head, tail = secrets.token_hex(3).upper(), secrets.token_hex(3)[:5].upper()
    body = f"{head}{prescriber_ods.rjust(6, '0')}{tail}"
    return f"{body[:6]}-{body[6:12]}-{body[12:]}{check_character(body)}"


def _message(event: str, resources: list[dict[str, Any]], source_ods: str) -> dict[str, Any]:
    header = {
        "resourceType": "MessageHeader",
        "eventCoding": {"system": MESSAGE_EVENT_SYSTEM, "code": event},
        "source": {"endpoint": f"urn:nhs-uk:addressing:ods:{source_ods}"},
    }
    return {
        "resourceType": "Bundle",
        "type": "message",
        "identifier": {"system": UUID_SYSTEM, "value": str(uuid.uuid4())},
        "entry": [
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r} for r in [header, *resources]
        ],
    }


def _patient(nhs_number: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": NHS, "value": nhs_number}]}


def _identifier(system: str, value: str) -> dict[str, str]:
    return {"system": system, "value": value}


def order(prescriber_ods: str, prescription: Prescription) -> dict[str, Any]:
    """The ``prescription-order`` message of an acute prescription."""
    requests = []
    for number, line_id in enumerate(prescription.line_ids):
        code, display = _MEDICINES[number % len(_MEDICINES)]
        dispense: dict[str, Any] = {"quantity": {"value": 28, "unit": "tablet"}}
        if prescription.nominated:
            dispense["performer"] = {"identifier": _identifier(ODS, prescription.nominated)}
        requests.append(
            {
                "resourceType": "MedicationRequest",
                "identifier": [_identifier(LINE_ITEM_SYSTEM, line_id)],
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {
                    "coding": [{"system": SNOMED, "code": code, "display": display}]
                },
                "subject": {"identifier": _identifier(NHS, prescription.nhs_number)},
                "groupIdentifier": _identifier(
                    PRESCRIPTION_ID_SYSTEM, prescription.prescription_id
                ),
                "courseOfTherapyType": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/"
                            "medicationrequest-course-of-therapy",
                            "code": "acute",
                        }
                    ]
                },
                "dispenseRequest": dispense,
            }
        )
    resources = [_patient(prescription.nhs_number), *requests]
    return _message("prescription-order", resources, prescriber_ods)


def cancel(prescriber_ods: str, prescription: Prescription) -> dict[str, Any]:
    """A ``prescription-order-update`` cancelling the prescription's first line item."""
    request = {
        "resourceType": "MedicationRequest",
        "identifier": [_identifier(LINE_ITEM_SYSTEM, prescription.line_ids[0])],
        "status": "cancelled",
        "statusReason": {"coding": [{"code": "0001", "display": "Prescribing error"}]},
        "intent": "order",
        "medicationCodeableConcept": {"text": _MEDICINES[0][1]},
        "subject": {"identifier": _identifier(NHS, prescription.nhs_number)},
        "groupIdentifier": _identifier(PRESCRIPTION_ID_SYSTEM, prescription.prescription_id),
    }
    resources = [_patient(prescription.nhs_number), request]
    return _message("prescription-order-update", resources, prescriber_ods)


def release(owner_ods: str, by_id: str | None = None) -> dict[str, Any]:
    """``$release``: the owner's nominated batch, or one prescription by id (a token)."""
    parameters: list[dict[str, Any]] = [
        {"name": "owner", "valueIdentifier": _identifier(ODS, owner_ods)},
        {"name": "status", "valueCode": "accepted"},
    ]
    if by_id is not None:
        parameters.append(
            {
                "name": "group-identifier",
                "valueIdentifier": _identifier(PRESCRIPTION_ID_SYSTEM, by_id),
            }
        )
    return {"resourceType": "Parameters", "parameter": parameters}


def dispense(dispenser_ods: str, prescription: Prescription, code: str) -> dict[str, Any]:
    """A ``dispense-notification`` giving every line item status ``code`` (0001 dispensed,
    0004 not dispensed - owing)."""
    group = {
        "url": GROUP_IDENTIFIER_URL,
        "extension": [
            {
                "url": "shortForm",
                "valueIdentifier": _identifier(
                    PRESCRIPTION_ID_SYSTEM, prescription.prescription_id
                ),
            }
        ],
    }
    dispenses = [
        {
            "resourceType": "MedicationDispense",
            "status": "completed" if code in ("0001", "0002") else "in-progress",
            "type": {"coding": [{"system": DISPENSE_TYPE_SYSTEM, "code": code}]},
            "medicationCodeableConcept": {"text": _MEDICINES[n % len(_MEDICINES)][1]},
            "subject": {"identifier": _identifier(NHS, prescription.nhs_number)},
            "performer": [{"actor": {"identifier": _identifier(ODS, dispenser_ods)}}],
            "authorizingPrescription": [
                {"identifier": _identifier(LINE_ITEM_SYSTEM, line_id), "extension": [group]}
            ],
        }
        for n, line_id in enumerate(prescription.line_ids)
    ]
    resources = [_patient(prescription.nhs_number), *dispenses]
    return _message("dispense-notification", resources, dispenser_ods)


def task(dispenser_ods: str, prescription: Prescription, action: str) -> dict[str, Any]:
    """A return (``rejected``) or withdrawal (``in-progress``) Task."""
    return {
        "resourceType": "Task",
        "status": "rejected" if action == "return" else "in-progress",
        "intent": "order",
        "groupIdentifier": _identifier(PRESCRIPTION_ID_SYSTEM, prescription.prescription_id),
        "owner": {"identifier": _identifier(ODS, dispenser_ods)},
        "statusReason": {"coding": [{"code": "0002", "display": "Unable to dispense"}]},
    }


def claim(dispenser_ods: str, prescription: Prescription, created: str) -> dict[str, Any]:
    """A reimbursement Claim for a dispensed prescription (``created``: YYYY-MM-DD)."""
    return {
        "resourceType": "Claim",
        "status": "active",
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "pharmacy"}
            ]
        },
        "use": "claim",
        "patient": {"identifier": _identifier(NHS, prescription.nhs_number)},
        "created": created,
        "provider": {"identifier": _identifier(ODS, dispenser_ods)},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "NHS BSA"}}],
        "prescription": {
            "identifier": _identifier(PRESCRIPTION_ID_SYSTEM, prescription.prescription_id)
        },
        "item": claim_items(),
    }


def claim_items() -> list[dict[str, Any]]:
    """A Claim's ``item``: one prescription, one detail, endorsed "no endorsement" (EPS refuses a
    claim without a dispenser endorsement)."""
    return [
        {
            "sequence": 1,
            "productOrService": {"coding": [dict(PRESCRIPTION_PRODUCT)]},
            "detail": [
                {
                    "sequence": 1,
                    "productOrService": {"coding": [dict(PRESCRIPTION_PRODUCT)]},
                    "programCode": [{"coding": [dict(NO_ENDORSEMENT)]}],
                }
            ],
        }
    ]


def scr_document(
    author_ods: str, nhs_number: str, *, replaces: str | None, document_id: str, at: str
) -> dict[str, Any]:
    """An SCR ``document`` Bundle (``at``: an ISO dateTime), naming the SCR it replaces."""
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "identifier": _identifier(UUID_SYSTEM, document_id),
        "status": "final",
        "type": {
            "coding": [{"system": SNOMED, "code": "196981000000101", "display": "GP Summary"}]
        },
        "subject": {"identifier": _identifier(NHS, nhs_number)},
        "date": at,
        "author": [{"identifier": _identifier(ODS, author_ods)}],
        "title": "GP Summary",
    }
    if replaces is not None:
        composition["relatesTo"] = [
            {"code": "replaces", "targetIdentifier": _identifier(UUID_SYSTEM, replaces)}
        ]
    allergy = {
        "resourceType": "AllergyIntolerance",
        "patient": {"identifier": _identifier(NHS, nhs_number)},
        "code": {"text": "Penicillin"},
    }
    return {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": _identifier(UUID_SYSTEM, str(uuid.uuid4())),
        "timestamp": at,
        "entry": [
            {"fullUrl": f"urn:uuid:{document_id}", "resource": composition},
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": allergy},
        ],
    }


def self_claimed_relationship(nhs_number: str, at: str, reason: str) -> dict[str, Any]:
    """The privacy-alert AuditEvent (type 1) by which a clinician claims a relationship."""
    return {
        "resourceType": "AuditEvent",
        "type": {"system": "https://fhir.nhs.uk/CodeSystem/SCR-PrivacyAlertType", "code": "1"},
        "recorded": at,
        "purposeOfEvent": [{"coding": [{"code": reason}]}],
        "agent": [{"requestor": True, "who": {"display": "the treating clinician"}}],
        "source": {"observer": {"display": "an emergency department system"}},
        "entity": [{"what": {"identifier": _identifier(NHS, nhs_number)}}],
    }


def phone_patch(phone: str) -> list[dict[str, Any]]:
    """A JSON Patch changing the patient's first telephone number."""
    return [{"op": "replace", "path": "/telecom/0/value", "value": phone}]


def encode(body: Any) -> bytes:
    """Compact JSON bytes of a body."""
    return json.dumps(body, separators=(",", ":")).encode()


def _value(identifier: Any, system: str) -> str | None:
    candidates = identifier if isinstance(identifier, list) else [identifier]
    for candidate in candidates:
        if isinstance(candidate, dict) and candidate.get("system") == system:
            value = candidate.get("value")
            return str(value) if value else None
    return None


def read_order(bundle: Any) -> Prescription | None:
    """The prescription of a ``prescription-order`` Bundle (``None`` if it is not one)."""
    if not isinstance(bundle, dict):
        return None
    resources = [e.get("resource") for e in bundle.get("entry") or [] if isinstance(e, dict)]
    requests = [
        r for r in resources if isinstance(r, dict) and r.get("resourceType") == "MedicationRequest"
    ]
    if not requests:
        return None
    first = requests[0]
    found = _value(first.get("groupIdentifier"), PRESCRIPTION_ID_SYSTEM)
    nhs = _value((first.get("subject") or {}).get("identifier"), NHS)
    lines = tuple(_value(r.get("identifier"), LINE_ITEM_SYSTEM) or "" for r in requests)
    if not found or not nhs or not all(lines):
        return None
    performer = ((first.get("dispenseRequest") or {}).get("performer") or {}).get("identifier")
    return Prescription(found, lines, nhs, _value(performer, ODS))


def released(answer: bytes) -> list[Prescription]:
    """The prescriptions a ``$release`` answer passed (none for ``NO_MORE_PRESCRIPTIONS``)."""
    try:
        body = json.loads(answer)
    except ValueError:
        return []
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        return []
    found: list[Prescription] = []
    for parameter in body.get("parameter") or []:
        if isinstance(parameter, dict) and parameter.get("name") == "passedPrescriptions":
            for entry in (parameter.get("resource") or {}).get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                prescription = read_order(resource)
                if prescription is not None:
                    found.append(prescription)
    return found


def version_of(answer: bytes, nhs_number: str) -> str | None:
    """The weak ETag of ``nhs_number`` in a PDS search answer (from ``meta.versionId``)."""
    try:
        body = json.loads(answer)
    except ValueError:
        return None
    for entry in body.get("entry") or [] if isinstance(body, dict) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("id") == nhs_number:
            version = (resource.get("meta") or {}).get("versionId")
            return f'W/"{version}"' if version else None
    return None
