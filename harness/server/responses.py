"""What the national services' routers share: FHIR JSON responses, OpenAPI entries, auditing.

Routers stay thin: they parse a request, call their service and turn the result into a FHIR
JSON response with this module. :func:`audited` records every access to patient data in the
audit trail with the HTTP status it ended in — 200 for success, the mapped status when the
service refused — which is why the audit happens here at the HTTP edge and not in the
services, which know nothing of statuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from harness.server.audit import AuditLog
from harness.server.datatypes import OperationOutcome
from harness.server.domain import BadRequest, SpineError
from harness.server.errors import FHIR_JSON, status_of
from harness.server.identity.service import Session

FHIR_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OperationOutcome, "description": description}
    for status, description in (
        (400, "Invalid request (OperationOutcome with a Spine-ErrorOrWarningCode)"),
        (401, "Missing or invalid credentials"),
        (403, "The role or relationship does not permit this request"),
        (404, "Not found"),
        (429, "Rate limit exceeded"),
        (503, "Unavailable, or slower than X-Sync-Wait (Retry-After)"),
    )
}


def responses(
    model: type[BaseModel],
    description: str,
    *,
    status_code: int = 200,
    extra: dict[int, str] | None = None,
) -> dict[int | str, Any]:
    """OpenAPI ``responses`` for a FHIR endpoint answering ``model`` on success.

    Args:
        model: the success body.
        description: what the success answer means.
        status_code: the success status.
        extra: further error statuses and what they mean (answered with OperationOutcome).
    """
    ok = {"model": model, "description": description}
    more: dict[int | str, Any] = {
        status: {"model": OperationOutcome, "description": text}
        for status, text in (extra or {}).items()
    }
    return {status_code: ok, **FHIR_ERRORS, **more}


class FhirJSONResponse(JSONResponse):
    """JSON with the FHIR media type (also what OpenAPI lists the schemas under).

    Rendered by orjson, an order of magnitude faster than Starlette's ``json.dumps``, and the
    same compact UTF-8 JSON; only small floats are spelled differently
    (``0.00001`` for ``1e-05``). What orjson cannot encode (integers beyond 64 bits) falls back
    to Starlette's rendering.
    """

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:
            return super().render(content)


def fhir_response(
    body: dict[str, Any], *, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A FHIR JSON response."""
    return FhirJSONResponse(body, status_code=status_code, headers=headers)


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON (a FHIR resource or a JSON Patch).

    Strings may not carry control characters (NUL, escape, …) or the bidirectional overrides
    that make text display differently from what is stored: FHIR strings forbid the former,
    PostgreSQL refuses NUL, and the latter are a spoofing tool in names. Refused with 400
    ``INVALID_VALUE`` naming the field, the same on both storage backends.
    """
    raw = await request.body()
    try:
        body = orjson.loads(raw)  # also refuses bytes that are not UTF-8
    except orjson.JSONDecodeError:
        raise BadRequest(
            "the request body is not valid JSON", code="INVALID_MESSAGE", issue_type="structure"
        ) from None
    if _SUSPECT.search(raw):  # cheap test on the bytes; the walk below says where
        where = _unsafe_string(body, "")
        if where is not None:
            raise BadRequest(
                f"{where or 'the body'} contains a control or bidirectional-override character",
                code="INVALID_VALUE",
            )
    return body


# JSON can carry the characters only escaped (controls) or raw/escaped (overrides).
_SUSPECT = re.compile(
    rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u20(?:2[a-eA-E]|6[6-9])|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
)
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _unsafe_string(value: Any, path: str) -> str | None:
    """The path of the first string in ``value`` holding an unsafe character, or ``None``."""
    if isinstance(value, str):
        return path if _UNSAFE.search(value) else None
    if isinstance(value, dict):
        items: Iterator[tuple[str, Any]] = (
            (f"{path}.{k}" if path else k, v) for k, v in value.items()
        )
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for where, item in items:
        if isinstance(where, str) and _UNSAFE.search(where.rpartition(".")[2]):
            return where
        found = _unsafe_string(item, where)
        if found is not None:
            return found
    return None


@dataclass
class AuditNote:
    """What an audited request touched; a router may refine it once the service has answered."""

    resource: str


@contextmanager
def audited(request: Request, session: Session, action: str, resource: str) -> Iterator[AuditNote]:
    """Record the access in the audit trail with the status it ended in."""
    audit: AuditLog = request.app.state.audit
    note = AuditNote(resource)
    outcome = 200
    try:
        yield note
    except SpineError as exc:
        outcome = status_of(exc)
        raise
    except Exception:
        outcome = 500
        raise
    finally:
        audit.record(
            actor=session.user_id,
            ods_code=session.ods_code,
            action=action,
            resource=note.resource,
            outcome=outcome,
            request_id=request.headers.get("x-request-id"),
        )


def _inline(node: Any, defs: dict[str, Any], depth: int) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            if depth > 4:  # FHIR elements nest recursively (extensions of extensions)
                return {"type": "object"}
            return _inline(defs[ref.rsplit("/", 1)[1]], defs, depth + 1)
        return {k: _inline(v, defs, depth) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs, depth) for v in node]
    return node


def request_body(model: type[BaseModel], media_type: str = FHIR_JSON) -> dict[str, Any]:
    """``openapi_extra`` describing a request body that the router parses itself (so that
    malformed FHIR gets the service's own error codes rather than a generic 400)."""
    schema = model.model_json_schema(by_alias=True)
    inlined = _inline(schema, schema.get("$defs", {}), 0)
    return {"requestBody": {"required": True, "content": {media_type: {"schema": inlined}}}}
