"""FHIR shapes of EPS answers: the ``$prepare`` digest, released prescriptions, tracker Tasks."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from harness.server.datatypes import NHS_NUMBER_SYSTEM, ods_reference
from harness.server.eps import status
from harness.server.eps.messages import (
    DISPENSE_TYPE_SYSTEM,
    LINE_ITEM_SYSTEM,
    PRESCRIPTION_ID_SYSTEM,
)

if TYPE_CHECKING:
    from harness.server.eps.records import Row

BUSINESS_STATUS_SYSTEM = "https://fhir.nhs.uk/CodeSystem/EPS-task-business-status"


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="seconds")


def prepare_parameters(bundle: Any, now: float) -> dict[str, Any]:
    """``$prepare``'s answer: the digest a prescriber signs, with its timestamp and algorithm."""
    canonical = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
    digest = base64.b64encode(hashlib.sha256(canonical).digest()).decode()
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "digest", "valueString": digest},
            {"name": "timestamp", "valueString": _iso(now)},
            {"name": "algorithm", "valueString": "RS1"},
        ],
    }


def release_parameters(released: list[Row]) -> dict[str, Any]:
    """``$release``'s answer: the released prescriptions, and none failed."""
    passed = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(released),
        "entry": [{"resource": row.resource} for row in released],
    }
    failed = {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "passedPrescriptions", "resource": passed},
            {"name": "failedPrescriptions", "resource": failed},
        ],
    }


def task_resource(row: Row, issue: status.Issue) -> dict[str, Any]:
    """One issue as the tracker shows it: a Task with the Spine status as businessStatus."""
    display, task_status = status.STATUS[issue.status]
    prescription = {"system": PRESCRIPTION_ID_SYSTEM, "value": row.prescription_id}
    task: dict[str, Any] = {
        "resourceType": "Task",
        # FHIR ids allow [A-Za-z0-9-.]; a Mod 37-2 check character may be "+".
        "id": f"{row.prescription_id.replace('+', 'P')}-{row.issue_no}",
        "status": task_status,
        "intent": "order",
        "businessStatus": {
            "coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": issue.status, "display": display}]
        },
        "groupIdentifier": prescription,
        "description": f"issue {row.issue_no} of {row.issues_total}",
        "focus": {"identifier": prescription},
        "for": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": row.nhs_number}},
        "requester": ods_reference(row.prescriber_ods),
        "output": [
            {
                "type": {
                    "coding": [
                        {
                            "system": DISPENSE_TYPE_SYSTEM,
                            "code": code,
                            "display": status.ITEM_STATUS[code],
                        }
                    ]
                },
                "valueReference": {"identifier": {"system": LINE_ITEM_SYSTEM, "value": item}},
            }
            for item, code in issue.items.items()
        ],
    }
    owner = issue.dispenser or row.nominated_ods
    if owner is not None:
        task["owner"] = ods_reference(owner)
    if issue.cancel_pending:
        task["statusReason"] = {"text": f"{issue.cancel_pending}: marked for cancellation"}
    return task
