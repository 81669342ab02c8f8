"""PDS FHIR R4: the published sandbox collection's requests, answered as published.

Source: NHSDigital/personal-demographics-service-api at commit
f57f5839b956fedb708555227ef2f9aefcc0cc37,
``postman/patient-demographics-sandbox.postman_collection.json`` (MIT, copy under
``published/``); each case's id is its folder and name in that collection.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.conformance.conftest import PUBLISHED, differences
from tests.conformance.judging import judge, params_of, send
from tests.conformance.postman import Case, load_collection

REPO = "NHSDigital/personal-demographics-service-api"
COMMIT = "f57f5839b956fedb708555227ef2f9aefcc0cc37"
FILE = "postman/patient-demographics-sandbox.postman_collection.json"
BASE = "/personal-demographics/FHIR/R4"

CASES = load_collection(
    PUBLISHED / REPO.replace("/", "+") / COMMIT / FILE, f"{REPO}@{COMMIT}:{FILE}", BASE
)


def test_the_collection_yields_its_cases() -> None:
    # A reader that silently lost cases would make the suite pass by judging nothing.
    assert len(CASES) >= 50
    assert all(case.checks for case in CASES)


@pytest.mark.parametrize("case", params_of(CASES, differences().get("pds", {})))
def test_published_case(server: TestClient, gp_session: dict[str, str], case: Case) -> None:
    if case.method == "POST" and case.path.endswith("/Patient"):
        # PDS's spike arrest (3 creates a second per application) holds here as in the real
        # service; the collection sends its creates back to back, as a person clicking would not.
        time.sleep(0.4)
    response = send(server, case, gp_session)
    failures = judge(response, case)
    assert not failures, f"{case.source}: {failures}\n{response.text[:800]}"


def test_sources_manifest_names_every_copied_file() -> None:
    import yaml

    manifest = yaml.safe_load((PUBLISHED / "SOURCES.yaml").read_text())
    listed = {
        PUBLISHED / entry["repo"].replace("/", "+") / entry["commit"] / name
        for entry in manifest
        for name in [*entry["files"], "LICENSE"]
    }
    copied = {p for p in PUBLISHED.glob("*+*/*/**/*") if p.is_file()}  # <owner>+<repo>/<commit>/
    assert copied == listed
