"""FHIR JSON in and out: orjson renders what Starlette's ``json.dumps`` rendered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import Request
from starlette.responses import JSONResponse

from harness.server.domain import BadRequest
from harness.server.pds import resources
from harness.server.responses import FhirJSONResponse, json_body
from harness.spine.population import Population

POPULATION = Population(1_000_000, 0, ["A81001"], ["FA001"])


def _bodies() -> list[Any]:
    patient = resources.patient_resource(POPULATION.person(12_345))
    return [
        patient,
        resources.public_view(patient),
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 2,
            "entry": [{"search": {"score": 0.95}}, {"search": {"score": 1.0}}],
        },
        {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "Zoë’s record — ✓"}]},
        {"nested": [[], {}, None, True, False, -0.5, 2**63 - 1, '\u0000\n\t"']},
        {1: "an int key, written as a string as json.dumps does"},
    ]


@pytest.mark.parametrize("body", _bodies())
def test_fhir_responses_carry_the_same_json_as_before(body: Any) -> None:
    ours = FhirJSONResponse(body).body
    starlettes = JSONResponse(body).body

    assert json.loads(ours) == json.loads(starlettes)
    assert ours == starlettes  # byte for byte, for bodies without small floats


def test_what_orjson_cannot_encode_is_rendered_the_old_way() -> None:
    body = {"big": 2**70}

    assert FhirJSONResponse(body).body == b'{"big":1180591620717411303424}'


def _request(body: bytes) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": "POST", "headers": []}, receive)


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"{'a': 1}", b"\xff\xfe{}", b'{"a": NaN}', b"[1, 2,]", b'"\xed\xa0\x80"']
)
def test_bodies_that_are_not_json_are_a_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        asyncio.run(json_body(_request(raw)))


def test_json_bodies_parse_to_the_same_values() -> None:
    raw = json.dumps(_bodies()[0], ensure_ascii=False).encode()

    assert asyncio.run(json_body(_request(raw))) == json.loads(raw)
