"""EPS FHIR: the published media type and the published example requests.

Source: NHSDigital/electronic-prescription-service-api at commit
77e80e11f58013e89c6b4f1c3d767373faa8c29d (MIT, copy under ``published/``):

- ``packages/e2e-tests/specs/sandbox/*.spec.ts``: every sandbox interaction is sent and
  answered with ``Content-Type: application/fhir+json; fhirVersion=4.0`` (e.g.
  ``prepare.failures.spec.ts``, ``willRespondWith.headers``). Cited and restated, not copied.
- ``examples/``: request bodies with the answer their file name (``…-200_OK``) or paired
  response file (``…-Response-…``) gives them: releases whose ``owner`` is an Organization
  resource, a dispense notification whose ``authorizingPrescription`` references a contained
  MedicationRequest, a claim naming its prescription by extension, and two refusals whose
  published OperationOutcome is judged issue by issue (severity, code, diagnostics,
  ``expression`` and, where published, the ``details`` coding). The bodies are sent unchanged,
  prescribing requests with a GP's session and dispensing ones with a pharmacist's.

The release, dispense and claim examples act on the examples' own prescriptions, which the
sandbox holds and the server must be sent: as environment set-up (not a case), the published
prescription-order of each example folder (``1-Process-Request-Send-200_OK.json``) is sent by
a GP of its prescriber (A83008, A99968), and the flow's requests are then sent, in the
published order, by a pharmacist of the releasing pharmacy they name (VNE51), each judged as
its own case. Prescribers, pharmacies and patients are the published ones the server serves
(``harness.spine.published``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conformance.conftest import PUBLISHED, differences
from tests.conformance.judging import params_of
from tests.factories import fhir_valid, login_as, org_code

EPS_MEDIA_TYPE = "application/fhir+json; fhirVersion=4.0"
REPO = "NHSDigital/electronic-prescription-service-api"
COMMIT = "77e80e11f58013e89c6b4f1c3d767373faa8c29d"
SOURCE = PUBLISHED / REPO.replace("/", "+") / COMMIT
PRESCRIBING = "/fhir-prescribing/FHIR/R4"
DISPENSING = "/fhir-dispensing/FHIR/R4"
PRIMARY = "examples/primary-care/acute/nominated-pharmacy/medical-prescriber/"
HOMECARE = "examples/secondary-care/homecare/acute/nominated-pharmacy/clinical-practitioner/"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/fhir-prescribing/FHIR/R4/$prepare", 400),  # an empty body: an OperationOutcome
        ("/fhir-dispensing/FHIR/R4/Task/$release", 403),  # a GP may not dispense
    ],
)
def test_answers_carry_the_published_media_type(
    server: TestClient, gp_session: dict[str, str], path: str, status: int
) -> None:
    response = server.post(
        path,
        content=b"{}",
        headers={
            **gp_session,
            "X-Request-ID": str(uuid.uuid4()),
            "Content-Type": EPS_MEDIA_TYPE,
        },
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == EPS_MEDIA_TYPE
    assert response.json()["resourceType"] == "OperationOutcome"


@dataclass(frozen=True)
class Case:
    """A published example request and the answer its publisher gives it."""

    id: str
    path: str  # the operation's path under its API's base
    request: str  # the request body's file in the repository
    status: int
    response: str | None = None  # the published answer's file, for refusals
    flow: bool = False  # acts on a published prescription: sent in the published flow

    @property
    def dispensing(self) -> bool:
        return not self.path.startswith(PRESCRIBING)


CASES = [
    Case("release-owner-organization", f"{DISPENSING}/Task/$release",
         f"{PRIMARY}1-Task-Request-Release-200_OK.json", 200, flow=True),
    Case("release-homecare", f"{DISPENSING}/Task/$release",
         f"{HOMECARE}1-Task-Request-Release-200_OK.json", 200, flow=True),
    Case("dispense-contained-medication-request", f"{DISPENSING}/$process-message",
         f"{HOMECARE}1-Process-Request-Dispense-200_OK.json", 200, flow=True),
    Case("claim-by-group-identifier-extension", f"{DISPENSING}/Claim",
         f"{HOMECARE}1-Claim-Request-200_OK.json", 200, flow=True),
    Case("send-invalid-intent", f"{PRESCRIBING}/$process-message",
         "examples/errors/4-Process-Request-Send-400_invalid_intent.json", 400,
         "examples/errors/4-Process-Response-Send-400_invalid_intent.json"),
    Case("dispense-invalid-value", f"{DISPENSING}/$process-message",
         "examples/errors/3-Process-Request-Dispense-400_Invalid_Value.json", 400,
         "examples/errors/3-Process-Response-Dispense-400_Invalid_Value.json"),
]  # fmt: skip
LISTED = differences().get("eps", {})
# The published prescription-orders (prescriber, file), sent as environment set-up.
PRESCRIPTIONS = [
    ("A83008", f"{PRIMARY}1-Process-Request-Send-200_OK.json"),  # 24F5DA-A83008-7EFE6Z
    ("A99968", f"{HOMECARE}1-Process-Request-Send-200_OK.json"),  # A0548B-A99968-451485
]
RELEASING_PHARMACY = "VNE51"  # the owner of the published releases


def _read(name: str) -> Any:
    return json.loads((SOURCE / name).read_text())


@pytest.fixture(scope="module")
def pharmacist(server: TestClient) -> dict[str, str]:
    """A community pharmacy's pharmacist (R8003)."""
    return login_as(server, org_code(server, "community-pharmacy"), "R8003")


def _send(server: TestClient, session: dict[str, str], path: str, request: str) -> Any:
    return server.post(
        path,
        content=(SOURCE / request).read_bytes(),
        headers={**session, "X-Request-ID": str(uuid.uuid4()), "Content-Type": EPS_MEDIA_TYPE},
    )


@pytest.fixture(scope="module")
def flow(server: TestClient) -> dict[str, Any]:
    """The answers to the flow's cases (case id -> response), sent in the published order
    after the published prescriptions (environment set-up)."""
    for prescriber, request in PRESCRIPTIONS:
        sent = _send(
            server,
            login_as(server, prescriber, "R8000"),
            f"{PRESCRIBING}/$process-message",
            request,
        )
        assert sent.status_code == 200, (request, sent.text[:500])
    pharmacist = login_as(server, RELEASING_PHARMACY, "R8003")
    return {c.id: _send(server, pharmacist, c.path, c.request) for c in CASES if c.flow}


def judge_issues(body: dict[str, Any], published: dict[str, Any]) -> list[str]:
    """Where the answer's issues differ from the published OperationOutcome's."""
    failures = []
    answered = body.get("issue") or []
    for n, issue in enumerate(published["issue"]):
        mine = answered[n] if n < len(answered) else {}
        failures.extend(
            f"issue {n} {key}: {mine.get(key)!r}, published {issue[key]!r}"
            for key in ("severity", "code", "diagnostics", "expression")
            if key in issue and mine.get(key) != issue[key]
        )
        wanted = [(c.get("system"), c["code"]) for c in issue.get("details", {}).get("coding", [])]
        codings = [
            (c.get("system"), c.get("code")) for c in mine.get("details", {}).get("coding", [])
        ]
        failures += [f"issue {n} details coding {w} missing" for w in wanted if w not in codings]
    return failures


@pytest.mark.parametrize("case", params_of(CASES, LISTED))
def test_published_example(
    server: TestClient,
    gp_session: dict[str, str],
    pharmacist: dict[str, str],
    flow: dict[str, Any],
    case: Case,
) -> None:
    """A published EPS example request gets the published answer (source: ``case.request``)."""
    if case.flow:
        response = flow[case.id]
    else:
        session = pharmacist if case.dispensing else gp_session
        response = _send(server, session, case.path, case.request)
    body = response.json()
    failures = [] if response.status_code == case.status else [f"status {response.status_code}"]
    if response.headers["content-type"] != EPS_MEDIA_TYPE:
        failures.append(f"content-type {response.headers['content-type']!r}")
    fhir_valid(body)
    if case.response is not None:
        failures += judge_issues(body, _read(case.response))
    assert not failures, (case.request, failures, response.text[:500])


def test_every_listed_difference_is_a_case() -> None:
    assert set(LISTED) <= {c.id for c in CASES}


def test_published_organisations_are_the_examples() -> None:
    """The overlay's EPS organisations are named, with their role, in the cited examples."""
    from harness.spine.published import published_organisation_source, published_organisations

    organisations = {o.ods_code: o for o in published_organisations()}
    assert {"A83008", "FA565", "VNE51", "VNCEL", "A99968", "Y12345"} <= set(organisations)
    for code in ("VNE51", "VNCEL"):
        source = published_organisation_source(code).split(" ", 1)[1]
        assert code in (SOURCE / source).read_text()
        assert organisations[code].org_type == "community-pharmacy"
