"""Every string of a write body, made 300 characters long, gets an answer, never a 500.

SQLite keeps whatever length it is given and PostgreSQL refuses values longer than their
column: a value that reaches a bounded column unchecked was a 500 on PostgreSQL only. Each
published write shape below is sent once per string leaf with that leaf replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from harness.spine.population import Population
from tests import builders
from tests.factories import login_as, org_code, rid

LONG = "A" * 300


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))


def _with(body: Any, path: tuple[Any, ...], replacement: str) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = replacement
    return changed


def _statuses(client: TestClient, url: str, body: Any, headers: dict[str, str]) -> set[int]:
    seen = set()
    for path in _leaves(body):
        response = client.post(url, json=_with(body, path, LONG), headers={**headers, **rid()})
        assert response.status_code < 500, (path, response.text)
        seen.add(response.status_code)
    return seen


@pytest.mark.parametrize("shape", ["eps-order", "eps-release", "eps-claim", "scr-upload"])
def test_long_strings_in_write_bodies_are_never_a_server_error(
    client: TestClient, shape: str
) -> None:
    gp_ods = org_code(client, "gp-practice")
    pharmacy = org_code(client, "community-pharmacy")
    gp = login_as(client, gp_ods, "R8000")
    pharmacist = login_as(client, pharmacy, "R8003")
    if shape == "eps-order":
        _, _, body = builders.order(gp_ods, "9000000009", nominated=pharmacy)
        seen = _statuses(client, "/fhir-prescribing/FHIR/R4/$process-message", body, gp)
    elif shape == "eps-release":
        body = builders.release(pharmacy)
        seen = _statuses(client, "/fhir-dispensing/FHIR/R4/Task/$release", body, pharmacist)
    elif shape == "eps-claim":
        body = builders.claim("ABCDEF-A99968-4BDE2D", "9000000009", pharmacy)
        seen = _statuses(client, "/fhir-dispensing/FHIR/R4/Claim", body, pharmacist)
    else:
        population: Population = client.app.state.population  # type: ignore[attr-defined]
        patient = next(
            population.person(i)
            for i in range(1, 1_000)
            if population.person(i).gp_ods and not population.person(i).restricted
        )
        assert patient.gp_ods is not None
        _, body = builders.scr_document(patient.nhs_number, patient.gp_ods)
        owner = login_as(client, patient.gp_ods, "R8000")
        seen = _statuses(client, "/summary-care-record/FHIR/R4/Bundle", body, owner)
    assert seen  # every leaf was sent
