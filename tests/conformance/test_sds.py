"""SDS FHIR: the published end-to-end tests' requests, answered as they expect.

Source: NHSDigital/spine-directory-service-api at commit
dc9c89d7e7db2eab164ed2dc9ead040423c62e9e, ``tests/api_tests.py`` (MIT, copy under
``published/``): ``test_endpoints`` (conditions 1-12: the status, a Bundle of ``result_count``
entries with ``total`` or an OperationOutcome, ``X-Correlation-Id`` echoed) and
``test_endpoints_are_secured`` (no credentials: 401 and an OperationOutcome). The cases are
that file's parameters, read from the copy, not retyped. SDS is application-restricted: the
cases run with an application's ``apikey``, and without ``X-Request-ID``, which SDS's
specification does not define.
"""

from __future__ import annotations

import ast
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conformance.conftest import PUBLISHED, differences
from tests.conformance.judging import FHIR_CONTENT_TYPE
from tests.factories import credentials, fhir_valid

REPO = "NHSDigital/spine-directory-service-api"
COMMIT = "dc9c89d7e7db2eab164ed2dc9ead040423c62e9e"
FILE = "tests/api_tests.py"
BASE = "/spine-directory/FHIR/R4"
SOURCE = PUBLISHED / REPO.replace("/", "+") / COMMIT / FILE


def _published_conditions() -> list[tuple[str, dict[str, Any]]]:
    """``test_endpoints``'s parameters: the module's constants and its parametrize list."""
    tree = ast.parse(SOURCE.read_text())
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    test = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "test_endpoints"
    )
    call = next(
        d
        for d in test.decorator_list
        if isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "parametrize"
    )
    ids = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "ids"))
    data = ast.literal_eval(_Constants(names).visit(call.args[1]))
    return list(zip(ids, data, strict=True))


class _Constants(ast.NodeTransformer):
    """Folds the f-strings of the published list (which only join the module's string
    constants) into plain strings, so that ``ast.literal_eval`` reads it: nothing is run."""

    def __init__(self, names: dict[str, Any]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Constant(self.names[node.id])

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                value = self.visit(value.value)
            assert isinstance(value, ast.Constant)
            parts.append(str(value.value))
        return ast.Constant("".join(parts))


CONDITIONS = _published_conditions()
LISTED = differences().get("sds", {})


def _query(params: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (key, value)
        for key, values in params.items()
        for value in (values if isinstance(values, list) else [values])
    ]


def _id(name: str) -> str:
    return name.split(":", 1)[0].replace(" ", "-")


def test_the_published_conditions_are_read() -> None:
    assert len(CONDITIONS) == 12


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param(
            name,
            data,
            id=_id(name),
            marks=[pytest.mark.xfail(reason=LISTED[_id(name)]["reason"], strict=True)]
            if _id(name) in LISTED
            else [],
        )
        for name, data in CONDITIONS
    ],
)
def test_endpoints(server: TestClient, name: str, data: dict[str, Any]) -> None:
    correlation_id = str(uuid.uuid4())
    headers = {
        "apikey": str(credentials(server)["api_key"]),
        "x-correlation-id": correlation_id,
        "cache-control": "no-cache",
    }
    response = server.get(
        f"{BASE}/{data['endpoint']}", params=_query(data["query_params"]), headers=headers
    )
    body = response.json()
    assert response.status_code == data["status_code"], (name, body)
    assert response.headers["x-correlation-id"] == correlation_id
    assert response.headers["content-type"].startswith(FHIR_CONTENT_TYPE)
    fhir_valid(body)
    if response.status_code == 200:
        assert body["resourceType"] == "Bundle", body
        assert len(body["entry"]) == data["result_count"], body
        assert body["total"] == data["result_count"], body
    else:
        assert body["resourceType"] == "OperationOutcome", body


@pytest.mark.parametrize("endpoint", ["Endpoint", "Device"])
def test_endpoints_are_secured(server: TestClient, endpoint: str) -> None:
    # Published: test_endpoints_are_secured, for the two API paths (its third, "_status", is
    # the API platform's status endpoint, which the reference server does not serve).
    response = server.get(f"{BASE}/{endpoint}")
    assert response.status_code == 401, response.text
    assert fhir_valid(response.json())["resourceType"] == "OperationOutcome"
