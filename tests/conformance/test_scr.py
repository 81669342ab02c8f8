"""SCR FHIR: the specification's example requests and sandbox scenarios, answered as published.

Source: NHSDigital/summary-care-record-api at commit 91bdd2813350613b5fe8f5383532954c4a5c80fd
(MIT, copy under ``published/``): ``specification/summary-care-record.yaml`` (each
operation's "Sandbox test scenarios" table: the request's distinguishing value and the status
it gets) and the example bodies it references, ``specification/components/examples/``
(``UploadScrBundle.json``, ``SetPermission.json``, ``AuditEvent.json``). A scenario that
changes one value of an example body (the NHS number) is the example with that value changed,
as the table says; the other bodies are sent unchanged.

The sandbox needs no credentials and has no access control; the reference server, like the
real service, admits a view only with a legitimate relationship and the patient's permission.
The cases therefore run as one hospital clinician (R8000) who, as environment set-up (not part
of any case), has self-claimed a relationship with the published patients and, for
9000000033, holds the patient's permission to view (the state the sandbox's scenarios assume);
uploads, which only the patient's registered practice may send, run as a GP of 9000000009's
practice as published (Y12345, one of the published organisations in the server's directory).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conformance.conftest import PUBLISHED, differences
from tests.conformance.judging import FHIR_CONTENT_TYPE, params_of
from tests.factories import fhir_valid, login_as, org_code

REPO = "NHSDigital/summary-care-record-api"
COMMIT = "91bdd2813350613b5fe8f5383532954c4a5c80fd"
SPEC = "specification/summary-care-record.yaml"
EXAMPLES = "specification/components/examples/"
BASE = "/summary-care-record/FHIR/R4"
SOURCE = PUBLISHED / REPO.replace("/", "+") / COMMIT
NHS = "https://fhir.nhs.uk/Id/nhs-number"
UNKNOWN = "9111231130"  # the specification's "patient not found" / "no consent" number


def example(name: str) -> dict[str, Any]:
    """A published example body, read from the copy."""
    loaded: dict[str, Any] = json.loads((SOURCE / EXAMPLES / name).read_text())
    return loaded


def _with_patient(body: dict[str, Any], nhs_number: str) -> dict[str, Any]:
    """The upload example with its Patient's NHS number changed, as a scenario row says."""
    changed = json.loads(json.dumps(body))
    for entry in changed["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["identifier"][0]["value"] = nhs_number
    return changed


def _permission_of(nhs_number: str) -> dict[str, Any]:
    changed = example("SetPermission.json")
    changed["parameter"][0]["part"][0]["valueString"] = nhs_number
    return changed


@dataclass(frozen=True)
class Case:
    """One published request and the status (and body kind) its publisher gives it."""

    id: str
    source: str  # the file and the item in it
    method: str
    path: str
    status: int
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    entries: int | None = None  # for a searchset: how many entries
    issue: str | None = None  # for a refusal: the published issue code (severity: error)
    credentials: bool = True  # False: sent without the access token
    by_practice: bool = False  # sent by the patient's registered practice (an upload)


def _cases() -> list[Case]:
    upload = example("UploadScrBundle.json")
    document = "composition.subject:Patient.identifier"
    return [
        Case("upload-happy-path", f"{SPEC} POST /Bundle, {EXAMPLES}UploadScrBundle.json",
             "POST", "/Bundle", 201, upload, by_practice=True),
        Case("upload-no-consent-to-store", f"{SPEC} POST /Bundle scenario 2",
             "POST", "/Bundle", 403, _with_patient(upload, UNKNOWN), by_practice=True),
        Case("document-reference-happy-path", f"{SPEC} GET /DocumentReference scenario 1",
             "GET", "/DocumentReference", 200, params={"patient": f"{NHS}|9000000009"},
             entries=1),
        Case("document-reference-empty-result", f"{SPEC} GET /DocumentReference scenario 2",
             "GET", "/DocumentReference", 200, params={"patient": f"{NHS}|9000000033"},
             entries=0),
        Case("document-reference-invalid", f"{SPEC} GET /DocumentReference scenario 3",
             "GET", "/DocumentReference", 400, params={"patient": "INVALID NHS NUMBER"}),
        Case("bundle-happy-path", f"{SPEC} GET /Bundle scenario 1", "GET", "/Bundle", 200,
             params={"composition.identifier": "FA60BE64-1F34-11EB-A2A8-000C29A364EB",
                     document: f"{NHS}|9000000009"}, entries=1),
        Case("bundle-no-results", f"{SPEC} GET /Bundle scenario 2", "GET", "/Bundle", 200,
             params={"composition.identifier": "81CC2DA0-8882-11EB-B538-0800200C9A66",
                     document: f"{NHS}|9000000033"}, entries=0),
        Case("bundle-invalid", f"{SPEC} GET /Bundle scenario 3", "GET", "/Bundle", 400,
             params={"composition.identifier": "INVALID ID", document: "INVALID NHS NUMBER"}),
        Case("set-permission-happy-path",
             f"{SPEC} POST /$setPermission scenario 1, {EXAMPLES}SetPermission.json",
             "POST", "/$setPermission", 201, example("SetPermission.json")),
        Case("set-permission-patient-not-found", f"{SPEC} POST /$setPermission scenario 2",
             "POST", "/$setPermission", 400, _permission_of(UNKNOWN)),
        Case("audit-event-happy-path",
             f"{SPEC} POST /AuditEvent scenario 1, {EXAMPLES}AuditEvent.json",
             "POST", "/AuditEvent", 201, example("AuditEvent.json")),
    ] + [
        # Each operation's 4XX table: "401 | error | forbidden | Unauthorized, access token
        # missing, invalid or expired"; sent without the access token.
        Case(f"{name}-access-token-missing", f"{SPEC} {method} {path} 4XX table, row 401",
             method, path, 401, body, params, issue="forbidden", credentials=False)
        for name, method, path, body, params in [
            ("upload", "POST", "/Bundle", upload, {}),
            ("bundle", "GET", "/Bundle", None, {"composition.identifier": "x", document: "y"}),
            ("document-reference", "GET", "/DocumentReference", None, {"patient": "x"}),
            ("set-permission", "POST", "/$setPermission", example("SetPermission.json"), {}),
            ("audit-event", "POST", "/AuditEvent", example("AuditEvent.json"), {}),
        ]
    ]  # fmt: skip


CASES = _cases()
LISTED = differences().get("scr", {})


@pytest.fixture(scope="module")
def clinician(server: TestClient) -> dict[str, str]:
    """A hospital clinician with relationships to the published patients (environment set-up:
    self-claims, and 9000000033's permission to view)."""
    session = login_as(server, org_code(server, "trust"), "R8000")
    for nhs_number in ("9000000009", "9000000033"):
        claim = {
            "resourceType": "AuditEvent",
            "type": {"code": "1"},
            "agent": [{"who": {"identifier": {"system": NHS, "value": nhs_number}}}],
            "subtype": [{"code": "6", "display": "Other"}],
        }
        answer = server.post(f"{BASE}/AuditEvent", json=claim, headers=_headers(session))
        assert answer.status_code == 201, answer.text
    permission = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "nhsNumber", "valueString": "9000000033"},
            {"name": "permissionCode", "valueCoding": {"code": "Yes"}},
        ],
    }
    answer = server.post(f"{BASE}/$setPermission", json=permission, headers=_headers(session))
    assert answer.status_code == 201, answer.text
    return session


@pytest.fixture(scope="module")
def practice(server: TestClient) -> dict[str, str]:
    """A GP of 9000000009's registered practice as published, Y12345 (a published
    organisation of the server's directory): only the patient's practice may upload."""
    return login_as(server, "Y12345", "R8000")


def _headers(session: dict[str, str]) -> dict[str, str]:
    """The specification's required headers (X-Request-ID, Content-Type) and the session."""
    return {**session, "X-Request-ID": str(uuid.uuid4()), "Content-Type": FHIR_CONTENT_TYPE}


def judge(response: Any, case: Case) -> list[str]:
    """How the answer breaks the case's published expectations (empty when it meets them)."""
    failures = []
    if response.status_code != case.status:
        failures.append(f"status {response.status_code}, published {case.status}")
    if not response.content:
        return failures
    body = response.json()
    if not response.headers.get("content-type", "").startswith(FHIR_CONTENT_TYPE):
        failures.append(f"content-type {response.headers.get('content-type')!r}")
    try:
        fhir_valid(body)
    except Exception as exc:
        failures.append(f"not valid FHIR R4B: {str(exc)[:300]}")
    if case.status >= 400 and body.get("resourceType") != "OperationOutcome":
        failures.append("a refusal without an OperationOutcome")
    issue = (body.get("issue") or [{}])[0]
    if case.issue is not None and (issue.get("severity"), issue.get("code")) != (
        "error",
        case.issue,
    ):
        failures.append(
            f"issue {issue.get('severity')}/{issue.get('code')}, published error/{case.issue}"
        )
    if case.entries is not None and len(body.get("entry") or []) != case.entries:
        failures.append(f"{len(body.get('entry') or [])} entries, published {case.entries}")
    return failures


@pytest.mark.parametrize("case", params_of(CASES, LISTED))
def test_published_scenario(
    server: TestClient, clinician: dict[str, str], practice: dict[str, str], case: Case
) -> None:
    """A published SCR request gets the published answer (source: ``case.source``)."""
    session = practice if case.by_practice else clinician
    response = server.request(
        case.method,
        f"{BASE}{case.path}",
        params=case.params,
        headers=_headers(session if case.credentials else {}),
        content=json.dumps(case.body).encode() if case.body is not None else None,
    )
    failures = judge(response, case)
    assert not failures, (case.source, failures, response.text[:500])


def test_every_listed_difference_is_a_case() -> None:
    assert set(LISTED) <= {c.id for c in CASES}
