"""HTTP for ODS: ``/organisation-data/FHIR/R4/Organization`` by code, and search by type."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse

from harness.server.datatypes import Bundle
from harness.server.identity.router import SessionDep
from harness.server.ods.schemas import Organization
from harness.server.ods.service import MAX_PAGE, OdsService
from harness.server.responses import FhirJSONResponse, audited, fhir_response, responses
from harness.server.routing import ApiRouter
from harness.spine.contracts import ODS_BASE

PREFIX = f"{ODS_BASE}/FHIR/R4"
router = ApiRouter(prefix=PREFIX, tags=["ods"])


def _ods(request: Request) -> OdsService:
    # A plain call, not a FastAPI dependency: see harness.server.identity.router._session.
    service: OdsService = request.app.state.ods
    return service


@router.get(
    "/Organization/{ods_code}",
    response_class=FhirJSONResponse,
    responses=responses(Organization, "The organisation"),
)
async def get_organisation(
    request: Request,
    session: SessionDep,
    ods_code: Annotated[str, Path(min_length=2, max_length=10)],
) -> JSONResponse:
    """Read one organisation; the access is audited."""
    ods = _ods(request)
    with audited(request, session, "ods.read", f"Organization/{ods_code.upper()}"):
        body = ods.get_organisation(ods_code)
    return fhir_response(body)


@router.get(
    "/Organization",
    response_class=FhirJSONResponse,
    responses=responses(Bundle, "A page of organisations, with a next link"),
)
async def search_organisations(
    request: Request,
    _session: SessionDep,
    type_: Annotated[
        str | None, Query(alias="type", description="organisation type or role (RO177, RO197)")
    ] = None,
    count: Annotated[int, Query(alias="_count")] = 50,
    offset: Annotated[int, Query(alias="_offset")] = 0,
) -> JSONResponse:
    """Page through the organisations of a type (every organisation can be reached)."""
    ods = _ods(request)
    total, page = ods.search(type_, min(count, MAX_PAGE + 1), offset)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "entry": [{"resource": r} for r in page],
    }
    if offset + len(page) < total:
        params: dict[str, str | int] = {"_count": count, "_offset": offset + len(page)}
        if type_ is not None:
            params = {"type": type_, **params}
        bundle["link"] = [{"relation": "next", "url": f"{PREFIX}/Organization?{urlencode(params)}"}]
    return fhir_response(bundle)
