"""Sending a published case to the reference server and judging the answer.

Every answer is judged twice: against the publisher's expectations for the case, and, when it
is a FHIR resource, against the FHIR R4B models (``fhir.resources``), so that a body that
meets the expectations but is not valid FHIR still fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conformance.postman import Case
from tests.factories import fhir_valid

FHIR_CONTENT_TYPE = "application/fhir+json"


def send(client: TestClient, case: Case, session: dict[str, str]) -> Any:
    """The server's answer to the case's request, with the session's credentials added."""
    has_auth = any(name.lower() == "authorization" for name in case.headers)
    headers = case.headers if has_auth else {**session, **case.headers}
    return client.request(
        case.method,
        case.path,
        params=list(case.query),
        headers=headers,
        content=case.body.encode() if case.body is not None else None,
    )


def judge(response: Any, case: Case) -> list[str]:
    """How the answer breaks the case's expectations (empty when it meets them all)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    failures = [
        message
        for check in case.checks
        if (message := check.judge(response.status_code, body)) is not None
    ]
    if isinstance(body, dict) and "resourceType" in body:
        if not response.headers.get("content-type", "").startswith(FHIR_CONTENT_TYPE):
            failures.append(f"content-type {response.headers.get('content-type')!r}")
        try:
            fhir_valid(body)
        except Exception as exc:
            failures.append(f"not valid FHIR R4B: {str(exc)[:300]}")
    return failures


def params_of(cases: Sequence[Any], listed: dict[str, Any]) -> list[Any]:
    """pytest params, one per case (anything with an ``id``); listed differences must fail
    (strict xfail)."""
    params = []
    for case in cases:
        marks = []
        if case.id in listed:
            marks.append(pytest.mark.xfail(reason=str(listed[case.id]["reason"]), strict=True))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params
