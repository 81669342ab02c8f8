"""HTTP for SDS: ``/spine-directory/FHIR/R4`` Device and Endpoint lookups.

SDS is application-restricted: an ``apikey`` is enough (a user session works too). Lookups
are directory data, not patient data, so they need no RBAC activity and are not audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from harness.server.datatypes import Bundle
from harness.server.domain import BadRequest
from harness.server.identity.router import APIKEY, AUTHORIZATION, caller_of
from harness.server.openapi import reads_headers
from harness.server.responses import FhirJSONResponse, fhir_response, responses
from harness.server.routing import ApiRouter
from harness.server.sds.service import Lookup, SdsService, parse_lookup
from harness.spine.contracts import SDS_BASE

PREFIX = SDS_BASE
router = ApiRouter(prefix=PREFIX, tags=["sds"])


@reads_headers(APIKEY, AUTHORIZATION)
async def _caller(request: Request) -> str:
    """The calling application's ASID (from its API key or its user's session)."""
    return (await caller_of(request)).asid


Caller = Annotated[str, Depends(_caller)]


def _sds(request: Request) -> SdsService:
    # A plain call, not a FastAPI dependency: see harness.server.identity.router._session.
    service: SdsService = request.app.state.sds
    return service


_PARAMETERS = frozenset({"organization", "identifier", "manufacturing-organization"})


async def _lookup(
    request: Request,
    organization: Annotated[
        str | None, Query(description="https://fhir.nhs.uk/Id/ods-organization-code|<ODS>")
    ] = None,
    identifier: Annotated[
        list[str] | None,
        Query(description="nhsServiceInteractionId|<interaction> [, nhsMhsPartyKey|<key>]"),
    ] = None,
    manufacturing_organization: Annotated[
        str | None, Query(alias="manufacturing-organization", description="supplier")
    ] = None,
) -> Lookup | None:
    unknown = sorted({n for n, _ in request.query_params.multi_items()} - _PARAMETERS)
    if unknown:
        raise BadRequest(f"Unsupported query parameters: {', '.join(unknown)}", code="BAD_REQUEST")
    return parse_lookup(
        organization,
        identifier or [],
        manufacturing_organization,
        endpoint=request.scope["path"].endswith("/Endpoint"),
    )


LookupDep = Annotated[Lookup | None, Depends(_lookup)]


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


@router.get(
    "/Device",
    response_class=FhirJSONResponse,
    responses=responses(Bundle, "Accredited systems (ASID, party key, interactions)"),
)
async def find_devices(request: Request, _caller: Caller, lookup: LookupDep) -> JSONResponse:
    """The accredited system of an organisation for a service interaction."""
    return fhir_response(_searchset(_sds(request).devices(lookup) if lookup else []))


@router.get(
    "/Endpoint",
    response_class=FhirJSONResponse,
    responses=responses(Bundle, "Where to send the interaction"),
)
async def find_endpoints(request: Request, _caller: Caller, lookup: LookupDep) -> JSONResponse:
    """The endpoint an organisation's system uses for a service interaction."""
    found = _sds(request).endpoints(lookup, str(request.base_url)) if lookup else []
    return fhir_response(_searchset(found))
