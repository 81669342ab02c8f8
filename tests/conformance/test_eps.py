"""EPS FHIR: the published media type and the published example requests.

Source: NHSDigital/electronic-prescription-service-api at commit
77e80e11f58013e89c6b4f1c3d767373faa8c29d (MIT, copy under ``published/``):

- ``packages/e2e-tests/specs/sandbox/*.spec.ts``: every sandbox interaction is sent and
  answered with ``Content-Type: application/fhir+json; fhirVersion=4.0`` (e.g.
  ``prepare.failures.spec.ts``, ``willRespondWith.headers``). Cited and restated, not copied.
- ``examples/errors/``: two refusals whose published OperationOutcome is judged issue by issue
  (severity, code, diagnostics, ``expression`` and, where published, the ``details`` coding),
  sent unchanged with a GP's session (the send) and a pharmacist's (the dispense).

Every other published example request — the flows of ``examples/`` on their own prescriptions —
is judged by ``test_eps_examples.py``.
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
    response: str  # the published answer's file

    @property
    def dispensing(self) -> bool:
        return not self.path.startswith(PRESCRIBING)


CASES = [
    Case("send-invalid-intent", f"{PRESCRIBING}/$process-message",
         "examples/errors/4-Process-Request-Send-400_invalid_intent.json", 400,
         "examples/errors/4-Process-Response-Send-400_invalid_intent.json"),
    Case("dispense-invalid-value", f"{DISPENSING}/$process-message",
         "examples/errors/3-Process-Request-Dispense-400_Invalid_Value.json", 400,
         "examples/errors/3-Process-Response-Dispense-400_Invalid_Value.json"),
]  # fmt: skip
LISTED = differences().get("eps", {})


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
    case: Case,
) -> None:
    """A published EPS refusal gets the published answer (source: ``case.request``)."""
    session = pharmacist if case.dispensing else gp_session
    response = _send(server, session, case.path, case.request)
    body = response.json()
    failures = [] if response.status_code == case.status else [f"status {response.status_code}"]
    if response.headers["content-type"] != EPS_MEDIA_TYPE:
        failures.append(f"content-type {response.headers['content-type']!r}")
    fhir_valid(body)
    failures += judge_issues(body, _read(case.response))
    assert not failures, (case.request, failures, response.text[:500])


def test_published_organisations_are_the_examples() -> None:
    """The overlay's EPS organisations are named, with their role, in the cited examples."""
    from harness.spine.published import (
        EPS_REPO,
        published_organisation_source,
        published_organisations,
    )

    organisations = {o.ods_code: o for o in published_organisations()}
    assert {"A83008", "FA565", "VNE51", "VNCEL", "A99968", "Y12345", "RRERP"} <= set(organisations)
    cited = [c for c in organisations if published_organisation_source(c).startswith(EPS_REPO)]
    assert len(cited) >= 13
    for code in cited:
        source = published_organisation_source(code).split(" ", 1)[1]
        assert f'"{code}"' in (SOURCE / source).read_text(), code
    pharmacies = {"VNE51", "VNCEL", "FA565", "FCG71", "FER21", "FH542", "FK994", "FL584"}
    for code in pharmacies | {"FY210", "VN6XW", "VNFKT"}:
        assert organisations[code].org_type == "community-pharmacy", code


def test_the_overlays_eps_patients_are_the_published_records() -> None:
    """Each EPS patient the server serves is its example's Patient resource, unchanged."""
    from harness.spine.published import EPS_SOURCE_FILES, published_patient

    assert len(EPS_SOURCE_FILES) == 11
    for nhs_number, cited in EPS_SOURCE_FILES.items():
        bundle = _read(cited.split(" ", 1)[1])
        (patient,) = [
            e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
        ]
        served = published_patient(nhs_number)
        assert (served["id"], served["meta"]) == (nhs_number, {"versionId": "1"})
        unchanged = {k: v for k, v in patient.items() if k not in ("id", "meta")}
        assert {k: v for k, v in served.items() if k not in ("id", "meta")} == unchanged
