"""The published OpenAPI document, corrected to say what the server really answers.

FastAPI documents a ``422`` validation error on every operation with parameters, but this
server never answers 422: :mod:`harness.server.errors` turns validation failures into 400
(an ``OperationOutcome`` for FHIR-style APIs, a MESH error body for MESH). FastAPI also knows
nothing of the errors that dependencies and the platform raise (MESH 403/404/410/413/417,
admin 401/404, rate limits, maintenance). This module rewrites the generated document once so
that clients and API fuzzers (schemathesis) can hold every response to a documented status
and schema.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from harness.server.apis import api_for

F = TypeVar("F", bound=Callable[..., Any])
OUTCOME_REF = "#/components/schemas/OperationOutcome"
MESH_ERROR = "MeshError"

_MESH_ERROR_SCHEMA: dict[str, Any] = {
    "title": MESH_ERROR,
    "description": "A MESH error: v2 (``detail``) or v1 (``errorDescription``) shape.",
    "anyOf": [
        {
            "type": "object",
            "required": ["detail"],
            "properties": {
                "message_id": {"type": ["string", "null"]},
                "internal_id": {"type": "string"},
                "detail": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "msg"],
                        "properties": {
                            "event": {"type": "string"},
                            "code": {"type": "string"},
                            "msg": {"type": "string"},
                        },
                    },
                },
            },
        },
        {
            "type": "object",
            "required": ["errorCode", "errorDescription"],
            "properties": {
                "messageID": {"type": ["string", "null"]},
                "errorEvent": {"type": "string"},
                "errorCode": {"type": "string"},
                "errorDescription": {"type": "string"},
            },
        },
    ],
}

_MESH_ERRORS = {
    400: "Malformed request",
    408: "Request body not received in time",
    403: "Missing, malformed, expired, replayed or forged NHSMESH credentials",
    404: "No such message or chunk for this mailbox",
    410: "Message already acknowledged or expired",
    413: "Request larger than the MESH limit",
    431: "Request headers too large",
    417: "Message refused by the MESH rules (MESH error code)",
    429: "Rate limit exceeded",
    503: "MESH unavailable (maintenance, outage or stalled storage)",
}
_OUTCOME_ERRORS = {
    400: "Invalid request (OperationOutcome)",
    401: "Missing or invalid credentials",
    403: "Not permitted",
    404: "Not found, or the API is disabled",
    408: "Request body not received in time",
    413: "Request body too large",
    431: "Request headers too large",
    429: "Rate limit exceeded",
    503: "Unavailable (Retry-After)",
}
_ADMIN_ERRORS = {400, 401, 404, 408, 413, 431, 503}
_MESH_DOWNLOAD_PATHS = ("/inbox/{message_id}", "/inbox/{message_id}/{chunk_number}")


# ---------------------------------------------------------------- headers read by dependencies
# The dependencies that run on nearly every request read their headers from ``request.headers``
# rather than declaring ``Header()`` parameters (the per-request cost: harness.server.fastpath).
# Each carries the headers it reads on itself (:func:`reads_headers`), and the document lists
# them on every operation that depends on it, as FastAPI would have.
READ_HEADERS = "openapi_read_headers"  # the attribute of a dependency holding them


def header(name: str, description: str) -> dict[str, Any]:
    """An optional string header parameter, as FastAPI documents ``Header()``."""
    schema = {"anyOf": [{"type": "string"}, {"type": "null"}], "title": name.title()}
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": schema,
        "description": description,
    }


def reads_headers(*parameters: dict[str, Any]) -> Callable[[F], F]:
    """Mark a dependency that reads these headers (see :func:`header`) from the request."""

    def declare(dependency: F) -> F:
        setattr(dependency, READ_HEADERS, parameters)
        return dependency

    return declare


def _calls(dependant: Any) -> Iterator[Callable[..., Any]]:
    """Every dependency below a route's ``APIRoute.dependant``."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _document_read_headers(app: FastAPI, paths: dict[str, Any]) -> None:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path_format not in paths:
            continue
        read = [p for call in _calls(route.dependant) for p in getattr(call, READ_HEADERS, ())]
        for method in route.methods or ():
            operation = paths[context.path_format].get(method.lower())
            if operation is None:
                continue
            parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
            seen = {(p["in"], p["name"].lower()) for p in parameters}
            for parameter in read:
                if ("header", parameter["name"].lower()) not in seen:
                    seen.add(("header", parameter["name"].lower()))
                    parameters.append(copy.deepcopy(parameter))


def _error(description: str, schema: dict[str, Any], media_type: str) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": schema}}}


def _fix_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    api = api_for(path)
    if api is not None and not api.fhir:
        wanted = {429, 503} if path.endswith("/_ping") else set(_MESH_ERRORS)
        ref = {"$ref": f"#/components/schemas/{MESH_ERROR}"}
        for status in sorted(wanted):
            responses.setdefault(str(status), _error(_MESH_ERRORS[status], ref, "application/json"))
        if method == "get" and path.endswith(_MESH_DOWNLOAD_PATHS):
            responses.setdefault("206", {"description": "A chunk; more chunks follow"})
        return
    if path.startswith("/admin"):
        statuses = _ADMIN_ERRORS
    elif api is not None:
        statuses = set(_OUTCOME_ERRORS)
    else:
        return  # health and metrics: no errors of their own
    for status in sorted(statuses):
        responses.setdefault(
            str(status),
            _error(_OUTCOME_ERRORS[status], {"$ref": OUTCOME_REF}, "application/fhir+json"),
        )


def corrected_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the server's real error responses (cached)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas[MESH_ERROR] = _MESH_ERROR_SCHEMA
    _document_read_headers(app, document.setdefault("paths", {}))
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _fix_operation(path, method, operation)
    app.openapi_schema = document
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`corrected_openapi` as the app's ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        return corrected_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
