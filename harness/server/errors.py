"""The one place where domain errors become HTTP responses.

FHIR-style APIs answer every error with a FHIR ``OperationOutcome`` whose coding comes from
Spine-ErrorOrWarningCode, in the system each API publishes
(:func:`harness.spine.contracts.error_code_system`: PDS's
``https://fhir.nhs.uk/R4/CodeSystem/…``, EPS's and SCR's ``https://fhir.nhs.uk/CodeSystem/…``),
with the issue's ``expression`` where the refusal names one; MESH answers with its own v1 or
v2 error body, as ``mesh-client`` expects. Nothing ever answers with a bare traceback or an
HTML page: unknown routes, bad methods, validation failures and unexpected exceptions are all
mapped here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from email.utils import formatdate
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from harness.server.domain import (
    AccessDenied,
    BadRequest,
    Conflict,
    Forbidden,
    MeshProblem,
    NotFound,
    PreconditionFailed,
    RuleViolation,
    ServiceUnavailable,
    SpineError,
    TooManyRequests,
    Unauthorised,
)
from harness.server.store import StoreUnavailable
from harness.spine.contracts import (
    MESH_BASE,
    REFUSAL_HEADER,
    SDS_BASE,
    SPINE_ERROR_SYSTEM_R4,
    api_root,
    error_code_system,
)

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
SPINE_CODE_SYSTEM = SPINE_ERROR_SYSTEM_R4  # PDS's; each API's: error_code_system(path)
MESH_PREFIX = MESH_BASE

# error class -> (HTTP status, FHIR issue type)
_STATUS: dict[type[SpineError], tuple[int, str]] = {
    BadRequest: (400, "value"),
    Unauthorised: (401, "forbidden"),
    AccessDenied: (401, "forbidden"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not-found"),
    Conflict: (409, "conflict"),
    PreconditionFailed: (412, "business-rule"),
    RuleViolation: (400, "business-rule"),
    TooManyRequests: (429, "throttled"),
    ServiceUnavailable: (503, "transient"),
}
_MESH_STATUS = {
    "bad-request": 400,
    "forbidden": 403,
    "not-found": 404,
    "gone": 410,
    "too-large": 413,
    "rejected": 417,
    "unavailable": 503,
}
# Spine codes for plain HTTP errors raised by the framework (unknown route, bad method, …).
_HTTP_CODES = {
    400: "INVALID_VALUE",
    401: "ACCESS_DENIED",
    403: "ACCESS_DENIED",
    404: "RESOURCE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    408: "REQUEST_TIMEOUT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    431: "REQUEST_HEADER_FIELDS_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "SERVICE_UNAVAILABLE",
}

# The published wording of Spine codes (PDS FHIR's error catalogue and sandbox stubs,
# NHSDigital/personal-demographics-service-api); other codes get their name, spelt out.
DISPLAY = {
    "ACCESS_DENIED": "Access denied",  # as 401: "Access Denied - Unauthorised" (below)
    "ADDITIONAL_PROPERTIES": "Additional properties should not be included",
    "FORBIDDEN_UPDATE": "Update is forbidden",
    "INVALID_CREATE": "Patient create data is invalid",
    "INVALID_RESOURCE_ID": "Resource Id is invalid",
    "INVALID_SEARCH_DATA": "Search data is invalid",
    "INVALID_UPDATE": "Update is invalid",
    "INVALID_VALUE": "Provided value is invalid",
    "MISSING_VALUE": "Required value is missing",
    "PRECONDITION_FAILED": "Required condition was not fulfilled",
    "RESOURCE_NOT_FOUND": "Resource not found",
    "RESOURCE_VERSION_MISMATCH": "Resource version supplied does not match actual version",
    "TOO_FEW_VALUES_SUBMITTED": "Too few values submitted",
    "TOO_MANY_VALUES_SUBMITTED": "Too many values submitted",
    "UNSUPPORTED_SERVICE": "Unsupported Service",
    "TOO_MANY_MATCHES": "Too Many Matches",
    # SDS's codes (spine-directory-service-api, sds/request/error_handler.py)
    "BAD_REQUEST": "Bad request",
    "NO_RECORD_FOUND": "No record found",
    "NOT_IMPLEMENTED": "Not implemented",
}
# The published FHIR issue type of a Spine code, where it is not its error class's usual one.
ISSUE_TYPE = {
    "ADDITIONAL_PROPERTIES": "invariant",
    "MISSING_VALUE": "required",
    "INVALID_UPDATE": "structure",
    "PRECONDITION_FAILED": "structure",
    "UNSUPPORTED_SERVICE": "processing",
    "BAD_REQUEST": "required",
}


SDS_PREFIX = api_root(SDS_BASE)
# SDS's answers to framework-level errors: status -> (code, issue type, diagnostics or None).
_SDS_HTTP = {
    400: ("BAD_REQUEST", "required", None),
    404: ("NO_RECORD_FOUND", "not-found", "HTTP endpoint not found"),
    405: ("NOT_IMPLEMENTED", "not-supported", "HTTP operation not supported"),
}


UNAUTHORISED_DISPLAY = "Access Denied - Unauthorised"  # PDS's ACCESS_DENIED with a 401


def operation_outcome(
    code: str,
    diagnostics: str,
    *,
    issue_type: str,
    severity: str = "error",
    display: str | None = None,
    system: str = SPINE_CODE_SYSTEM,
    expression: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A FHIR R4 ``OperationOutcome`` with one issue coded from Spine-ErrorOrWarningCode (in
    ``system``, the API's: see :func:`~harness.spine.contracts.error_code_system`), with the
    issue's ``expression`` when given."""
    issue: dict[str, Any] = {
        "severity": severity,
        "code": issue_type,
        "details": {
            "coding": [
                {
                    "system": system,
                    "version": "1",
                    "code": code,
                    "display": display or DISPLAY.get(code, code.replace("_", " ").capitalize()),
                }
            ]
        },
        "diagnostics": diagnostics,
    }
    if expression:
        issue["expression"] = list(expression)
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "meta": {
            "profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/Spine-OperationOutcome-1"]
        },
        "issue": [issue],
    }


def _error_headers(error: SpineError) -> dict[str, str]:
    """``Retry-After`` when retrying makes sense, and the refusal's code when it has one."""
    headers = {REFUSAL_HEADER: error.refusal.value} if error.refusal is not None else {}
    if error.retry_at is not None:
        headers["Retry-After"] = formatdate(error.retry_at, usegmt=True)
    elif error.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after_s)))
    return headers


def status_of(error: SpineError) -> int:
    """The HTTP status a domain error is answered with (for audit records)."""
    return next((v[0] for cls, v in _STATUS.items() if isinstance(error, cls)), 500)


def spine_error_response(error: SpineError, path: str | None = None) -> JSONResponse:
    """The HTTP response for a domain error of a FHIR-style API (``path``: the request's, which
    picks the API's code system; PDS's when not given)."""
    status, issue_type = next(
        (v for cls, v in _STATUS.items() if isinstance(error, cls)), (500, "exception")
    )
    body = operation_outcome(
        error.code,
        error.diagnostics,
        issue_type=error.issue_type or ISSUE_TYPE.get(error.code, issue_type),
        display=UNAUTHORISED_DISPLAY if status == 401 and error.code == "ACCESS_DENIED" else None,
        system=error_code_system(path),
        expression=error.expression,
    )
    return JSONResponse(
        body, status_code=status, headers=_error_headers(error), media_type=FHIR_JSON
    )


def mesh_error_response(problem: MeshProblem, *, v2: bool) -> JSONResponse:
    """A MESH error in the v2 (``detail``) or v1 (``errorDescription``) shape."""
    status = _MESH_STATUS.get(problem.kind, 400)
    internal_id = str(uuid.uuid4())
    body: dict[str, Any]
    if v2:
        body = {
            "message_id": problem.message_id,
            "internal_id": internal_id,
            "detail": [{"event": "SEND", "code": problem.code, "msg": problem.description}],
        }
    else:
        body = {
            "messageID": problem.message_id,
            "errorEvent": "SEND",
            "errorCode": problem.code,
            "errorDescription": problem.description,
        }
    return JSONResponse(body, status_code=status)


def _is_mesh(request: Request) -> bool:
    path: str = request.scope["path"]  # not request.url.path: see Platform.handle
    return path.startswith(MESH_PREFIX)


def _wants_v2(request: Request) -> bool:
    return "vnd.mesh.v2" in request.headers.get("accept", "").lower()


def http_error_response(request: Request, status: int, diagnostics: str) -> Response:
    """A framework-level HTTP error, shaped for the API the request was for."""
    if _is_mesh(request):
        kind = {403: "forbidden", 404: "not-found", 410: "gone", 413: "too-large"}.get(
            status, "bad-request"
        )
        response = mesh_error_response(
            MeshProblem(kind, str(status), diagnostics), v2=_wants_v2(request)
        )
        response.status_code = status
        return response
    code = _HTTP_CODES.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "INVALID_VALUE")
    issue = "not-found" if status == 404 else "processing" if status >= 500 else "invalid"
    if request.scope["path"].startswith(SDS_PREFIX) and status in _SDS_HTTP:
        code, issue, fixed = _SDS_HTTP[status]
        diagnostics = fixed or diagnostics
    return JSONResponse(
        operation_outcome(
            code,
            diagnostics,
            issue_type=issue,
            display=UNAUTHORISED_DISPLAY if status == 401 else None,
            system=error_code_system(request.scope["path"]),
        ),
        status_code=status,
        media_type=FHIR_JSON,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into the right body."""

    @app.exception_handler(SpineError)
    async def _spine(request: Request, exc: SpineError) -> Response:
        return spine_error_response(exc, request.scope["path"])

    @app.exception_handler(MeshProblem)
    async def _mesh(request: Request, exc: MeshProblem) -> Response:
        return mesh_error_response(exc, v2=_wants_v2(request))

    @app.exception_handler(StoreUnavailable)
    async def _store(request: Request, exc: StoreUnavailable) -> Response:
        log.warning("storage unavailable: %s", exc)
        error = ServiceUnavailable("storage is unavailable; retry later", retry_after_s=5)
        if _is_mesh(request):
            return mesh_error_response(
                MeshProblem("unavailable", "503", error.diagnostics), v2=_wants_v2(request)
            )
        return spine_error_response(error, request.scope["path"])

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg')}")
        return http_error_response(request, 400, "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        response = http_error_response(request, exc.status_code, detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Log the traceback for operators; the client gets a coded outcome, never the trace.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return http_error_response(request, 500, "an unexpected error occurred")
