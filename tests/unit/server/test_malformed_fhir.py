"""Bodies that are JSON but not shaped as FHIR expects are the client's error (400), never 500.

Each body here made the server answer 500 before the fix (found by the schemathesis fuzzing in
tests/integration/test_fuzz_openapi.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import login_as, org_code, rid

SCR = "/summary-care-record/FHIR/R4"
DISPENSING = "/fhir-dispensing/FHIR/R4"
CASES = [
    ("gp-practice", "R8000", f"{SCR}/AuditEvent", {"resourceType": "AuditEvent", "type": "1"}),
    ("gp-practice", "R8000", f"{SCR}/$setPermission",
     {"resourceType": "Parameters", "parameter": 331514568}),
    ("gp-practice", "R8000", f"{SCR}/$setPermission",
     {"resourceType": "Parameters",
      "parameter": [{"name": "permissionCode", "valueCoding": "Yes"}]}),
    ("gp-practice", "R8000", f"{SCR}/Bundle",
     {"resourceType": "Bundle", "type": "document", "entry": 2}),
    ("community-pharmacy", "R8003", f"{DISPENSING}/Task/$release",
     {"resourceType": "Parameters", "parameter": 331514568}),
    ("community-pharmacy", "R8003", f"{DISPENSING}/Claim",
     {"resourceType": "Claim", "prescription": "not-an-object"}),
    ("community-pharmacy", "R8003", f"{DISPENSING}/$process-message",
     {"resourceType": "Bundle", "type": "message", "entry": [{"resource": {
         "resourceType": "MessageHeader", "eventCoding": "dispense-notification"}}]}),
]  # fmt: skip


@pytest.mark.parametrize(("org_type", "role", "url", "body"), CASES)
def test_malformed_fhir_is_a_400(
    client: TestClient, org_type: str, role: str, url: str, body: dict[str, Any]
) -> None:
    headers = login_as(client, org_code(client, org_type), role)
    response = client.post(url, json=body, headers={**headers, **rid()})
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
