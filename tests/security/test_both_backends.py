"""One store behaviour on SQLite and PostgreSQL for every input (findings 4 and 5).

SQLite stores a 300-character value in a 256-character column and a NUL in a name; PostgreSQL
refuses both, which used to surface as a 500 — and, in the background writers, as an audit
trail or a rate-limit ledger that stopped for good. The same hostile requests now get the same
answers on both backends, none of them a server error, and the audit trail keeps writing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from harness.config import ServerSettings
from harness.server.app import create_app
from tests.conftest import fresh_postgres_database
from tests.factories import V2, login, login_as, mesh_auth, org_code, rid

PDS = "/personal-demographics/FHIR/R4"
NHS = "9000000041"  # a synthetic patient at version 1 (9000000009 is the published one, at 2)
MX = "/messageexchange"


def _patch(client: TestClient, headers: dict[str, str], path: str, body: object) -> int:
    response = client.patch(
        f"{PDS}/{path}",
        json=body,
        headers={
            **headers,
            **rid(),
            "If-Match": 'W/"1"',
            "Content-Type": "application/json-patch+json",
        },
    )
    return response.status_code


def _mesh_send(client: TestClient, **extra: str) -> int:
    headers = {
        **mesh_auth("X26ABC1"),
        **V2,
        "Mex-To": "X26ABC2",
        "Mex-WorkflowID": "TEST_WORKFLOW",
        "Content-Type": "application/octet-stream",
        **extra,
    }
    return client.post(f"{MX}/X26ABC1/outbox", content=b"x", headers=headers).status_code


def hostile_answers(client: TestClient) -> dict[str, int]:
    """The status each hostile request gets (the same list on every backend)."""
    _, headers = login(client)
    gp = login_as(client, org_code(client, "gp-practice"), "R8000")
    name = "/name/0/family"
    answers = {
        "long path on a write": _patch(client, headers, "Patient/" + "9" * 600, []),
        "NUL in a family name": _patch(
            client, headers, f"Patient/{NHS}", [{"op": "replace", "path": name, "value": "A\x00"}]
        ),
        "right-to-left override in a name": _patch(
            client, headers, f"Patient/{NHS}", [{"op": "replace", "path": name, "value": "A\u202e"}]
        ),
        "200-character family name": _patch(
            client, headers, f"Patient/{NHS}", [{"op": "replace", "path": name, "value": "A" * 200}]
        ),
        "300-character Mex-LocalID": _mesh_send(client, **{"Mex-LocalID": "L" * 300}),
        "300-character Content-Encoding": _mesh_send(client, **{"Content-Encoding": "g" * 300}),
        "300-character Mex-WorkflowID": _mesh_send(client, **{"Mex-WorkflowID": "W" * 300}),
        "500-character token on a create": client.post(
            f"{PDS}/Patient",
            json={"resourceType": "Patient"},
            headers={"Authorization": "Bearer " + "1" * 500 + ".x", **rid()},
        ).status_code,
        "300-character prescription search": client.get(
            "/fhir-prescribing/FHIR/R4/Task",
            params={"focus:identifier": "X" * 300},
            headers={**gp, **rid()},
        ).status_code,
        "9,000-character URL": client.get(
            f"{PDS}/Patient", params={"family": "x" * 9_000}, headers={**headers, **rid()}
        ).status_code,
    }
    return answers


def _audit_keeps_writing(client: TestClient) -> None:
    audit = client.app.state.audit  # type: ignore[attr-defined]
    _, headers = login(client)
    before = audit.written
    assert client.get(f"{PDS}/Patient/{NHS}", headers={**headers, **rid()}).status_code == 200
    deadline = time.monotonic() + 5
    while audit.written <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert audit.written > before, "the audit trail stopped writing"


def test_hostile_inputs_get_no_server_error(client: TestClient) -> None:
    answers = hostile_answers(client)
    assert all(status < 500 for status in answers.values()), answers
    assert answers["NUL in a family name"] == 400
    assert answers["right-to-left override in a name"] == 400
    assert answers["200-character family name"] == 400
    assert answers["500-character token on a create"] == 401
    assert answers["9,000-character URL"] == 414
    _audit_keeps_writing(client)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["(both, below)"])  # one run, not one per backend
def test_both_backends_answer_hostile_inputs_alike(
    server_settings: ServerSettings, postgres_url: str, tmp_path: Path
) -> None:
    answers = {}
    for backend, url in (
        ("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'alike.db'}"),
        ("postgres", fresh_postgres_database(postgres_url)),
    ):
        settings = server_settings.model_copy(update={"database_url": url})
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            answers[backend] = hostile_answers(client)
            _audit_keeps_writing(client)
    assert answers["sqlite"] == answers["postgres"]
