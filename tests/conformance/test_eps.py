"""EPS FHIR: the published media type.

Source: NHSDigital/electronic-prescription-service-api at commit
77e80e11f58013e89c6b4f1c3d767373faa8c29d, ``packages/e2e-tests/specs/sandbox/*.spec.ts`` (MIT):
every sandbox interaction is sent and answered with ``Content-Type: application/fhir+json;
fhirVersion=4.0`` (e.g. ``prepare.failures.spec.ts``, ``willRespondWith.headers``). Cited and
restated here, not copied: the rest of those tests' cases (the published example bundles under
``examples/``) are not judged yet, because they name prescribers and pharmacies (A83008,
FCG71, …) that the reference server's directory does not hold (issue 26, open).
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

EPS_MEDIA_TYPE = "application/fhir+json; fhirVersion=4.0"


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
