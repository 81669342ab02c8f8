"""HTTP for PDS: ``/personal-demographics/FHIR/R4/Patient`` create, read, search, update,
relations, and ``/Coverage``."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Header, Path, Query, Request
from fastapi.responses import JSONResponse

from harness.server.errors import operation_outcome
from harness.server.identity.router import SessionDep
from harness.server.pds.coverage import CoverageService, check_coverage_parameters
from harness.server.pds.schemas import (
    JSON_PATCH_BODY,
    Coverage,
    CoverageBundle,
    NewCoverage,
    NewPatient,
    Patient,
    PatientBundle,
    RelatedPersonBundle,
)
from harness.server.pds.search import check_parameters, narrowed, parse_query
from harness.server.pds.service import Matched, PdsService
from harness.server.responses import (
    FhirJSONResponse,
    audited,
    fhir_response,
    json_body,
    request_body,
    responses,
)
from harness.server.routing import ApiRouter
from harness.spine.contracts import PDS_BASE

PREFIX = PDS_BASE
router = ApiRouter(prefix=PREFIX, tags=["pds"])
NhsNumber = Annotated[str, Path(min_length=1, max_length=20, description="10-digit NHS number")]


def _pds(request: Request) -> PdsService:
    # A plain call, not a FastAPI dependency: see harness.server.identity.router._session.
    service: PdsService = request.app.state.pds
    return service


def _coverage(request: Request) -> CoverageService:
    # Holds no state of its own: built per request over the PDS service and its store.
    pds = _pds(request)
    return CoverageService(pds=pds, store=pds.store, clock=pds.clock)


def _searchset(request: Request, entries: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total": len(entries),
    }
    if entries:  # PDS leaves ``entry`` out of an empty searchset, as FHIR allows
        bundle["entry"] = [
            {
                "fullUrl": f"{base}{PREFIX}/{resource['resourceType']}/{resource['id']}",
                "search": {"score": score},
                "resource": resource,
            }
            for resource, score in entries
        ]
    return bundle


@router.get(
    "/Patient/{nhs_number}",
    response_class=FhirJSONResponse,
    responses=responses(Patient, "The patient, with its version in ETag and meta.versionId"),
)
async def get_patient(request: Request, session: SessionDep, nhs_number: NhsNumber) -> JSONResponse:
    """Retrieve a patient by NHS number."""
    pds = _pds(request)
    with audited(request, session, "pds.retrieve", f"Patient/{nhs_number}"):
        found = await pds.get_patient(session.role, nhs_number)
    return fhir_response(found.resource, headers={"ETag": found.etag})


@router.get(
    "/Patient",
    response_class=FhirJSONResponse,
    responses=responses(
        PatientBundle, "Matching patients, or a TOO_MANY_MATCHES OperationOutcome (200)"
    ),
)
async def search_patients(
    request: Request,
    session: SessionDep,
    birthdate: Annotated[
        list[str], Query(description="eq|ge|le|gt|lt + YYYY-MM-DD; required")
    ] = [],  # noqa: B006 — FastAPI copies defaults per request
    family: Annotated[str | None, Query(max_length=35)] = None,
    given: Annotated[list[str], Query(max_length=35)] = [],  # noqa: B006
    gender: Annotated[str | None, Query()] = None,
    postcode: Annotated[str | None, Query(alias="address-postcode", max_length=10)] = None,
    postalcode: Annotated[str | None, Query(alias="address-postalcode", max_length=10)] = None,
    death_date: Annotated[
        list[str], Query(alias="death-date", description="eq|ge|le + YYYY-MM-DD")
    ] = [],  # noqa: B006
    general_practitioner: Annotated[
        str | None, Query(alias="general-practitioner", max_length=10)
    ] = None,
    email: Annotated[str | None, Query(max_length=90)] = None,
    phone: Annotated[str | None, Query(max_length=30)] = None,
    fuzzy: Annotated[bool, Query(alias="_fuzzy-match")] = False,
    exact: Annotated[bool, Query(alias="_exact-match")] = False,
    max_results: Annotated[int | None, Query(alias="_max-results")] = None,
    history: Annotated[
        bool, Query(alias="_history", description="also match previous family names")
    ] = False,
) -> JSONResponse:
    """Search by demographics: standard, exact or fuzzy matching (see the PDS docs)."""
    pds = _pds(request)
    with audited(request, session, "pds.search", "Patient?search"):
        check_parameters(
            [name for name, _ in request.query_params.multi_items()],
            {"birthdate": birthdate, "death-date": death_date},
        )
        query = parse_query(
            birthdate=birthdate,
            family=family,
            given=given,
            gender=gender,
            postcode=postcode or postalcode,
            email=email,
            phone=phone,
            fuzzy=fuzzy,
            exact=exact,
            max_results=max_results,
            history=history,
        )
        result = await pds.search_patients(session.role, query)
    if result.too_many:
        return fhir_response(
            operation_outcome(
                "TOO_MANY_MATCHES",
                f"Too Many Matches: more than {query.max_results} patients match; "
                "add details to the search or raise _max-results",
                issue_type="multiple-matches",
                severity="information",
            )
        )
    matches = narrowed(
        result.matches, death_date=death_date, general_practitioner=general_practitioner,
        fuzzy=fuzzy,
    )  # fmt: skip
    return fhir_response(_searchset(request, matches))


@router.post(
    "/Patient",
    status_code=201,
    response_class=FhirJSONResponse,
    openapi_extra=request_body(NewPatient),
    responses=responses(
        Patient,
        'The created patient under its new NHS number; Location names it, ETag is W/"1"',
        status_code=201,
        extra={
            200: "SINGLE_MATCH or MULTIPLE_MATCHES: the demographics trace to a patient PDS "
            "holds (named in the diagnostics) or to several; nothing was created"
        },
    ),
)
async def create_patient(request: Request, session: SessionDep) -> JSONResponse:
    """Create a patient (a birth or new registration); PDS allocates the NHS number.

    A patient whose family and first given name, birth date, gender and postcode all match a
    patient PDS holds is not created (200, ``SINGLE_MATCH`` naming the NHS number, or
    ``MULTIPLE_MATCHES``). Spike arrest applies: at most 3 creates per second per application
    (429 beyond).
    """
    pds = _pds(request)
    with audited(request, session, "pds.create", "Patient") as note:
        body = await json_body(request)
        created = await pds.create_patient(session.role, body)
        if isinstance(created, Matched):
            note.resource = "Patient/" + (created.nhs_numbers[0] if created.count == 1 else "")
            return fhir_response(_matched(created))
        note.resource = f"Patient/{created.resource['id']}"
    location = f"{str(request.base_url).rstrip('/')}{PREFIX}/Patient/{created.resource['id']}"
    return fhir_response(
        created.resource, status_code=201, headers={"ETag": created.etag, "Location": location}
    )


def _matched(traced: Matched) -> dict[str, Any]:
    """The published answer to a create that traces to patients PDS holds (karate-tests
    stubs ``postPatientResponses/SINGLE_MATCH_FOUND.json`` and ``MULTIPLE_MATCHES_FOUND.json``
    of the PDS repository)."""
    if traced.count == 1:
        return operation_outcome(
            "SINGLE_MATCH",
            f"Unable to create new patient. NHS number {traced.nhs_numbers[0]} found for "
            "supplied demographic data.",
            issue_type="value",
            display="Single match found",
        )
    return operation_outcome(
        "MULTIPLE_MATCHES",
        "Unable to create new patient. Multiple matches found for supplied demographic data.",
        issue_type="value",
        display="Multiple matches found",
    )


@router.patch(
    "/Patient/{nhs_number}",
    response_class=FhirJSONResponse,
    openapi_extra=JSON_PATCH_BODY,
    responses=responses(
        Patient,
        "The updated patient; its new version is in ETag",
        extra={
            409: "RESOURCE_VERSION_MISMATCH: stale If-Match",
            412: "PRECONDITION_FAILED: If-Match missing or malformed",
        },
    ),
)
async def update_patient(
    request: Request,
    session: SessionDep,
    nhs_number: NhsNumber,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> JSONResponse:
    """Update a patient with an RFC 6902 JSON Patch; needs ``If-Match: W/"<version>"``."""
    pds = _pds(request)
    with audited(request, session, "pds.update", f"Patient/{nhs_number}"):
        body = await json_body(request)
        updated = await pds.update_patient(session.role, nhs_number, if_match, body)
    return fhir_response(updated.resource, headers={"ETag": updated.etag})


@router.get(
    "/Patient/{nhs_number}/RelatedPerson",
    response_class=FhirJSONResponse,
    responses=responses(RelatedPersonBundle, "A searchset Bundle of the patient's related persons"),
)
async def get_related_people(
    request: Request, session: SessionDep, nhs_number: NhsNumber
) -> JSONResponse:
    """The patient's related persons."""
    pds = _pds(request)
    with audited(request, session, "pds.related-person", f"Patient/{nhs_number}/RelatedPerson"):
        related = await pds.related_people(session.role, nhs_number)
    return fhir_response(_searchset(request, [(r, 1.0) for r in related]))


@router.get(
    "/Coverage",
    response_class=FhirJSONResponse,
    responses=responses(CoverageBundle, "A searchset Bundle of the patient's coverage"),
)
async def search_coverage(
    request: Request,
    session: SessionDep,
    subscriber: Annotated[
        str | None,
        Query(
            alias="subscriber:identifier",
            max_length=64,
            description="NHS number of the policy holder (optionally <system>|<nhs number>)",
        ),
    ] = None,
) -> JSONResponse:
    """The coverage (EHIC, overseas visitor insurance) a patient holds."""
    coverage = _coverage(request)
    with audited(request, session, "pds.coverage-search", f"Coverage?subscriber={subscriber}"):
        check_coverage_parameters([name for name, _ in request.query_params.multi_items()])
        found = await coverage.search(session.role, subscriber)
    return fhir_response(_searchset(request, [(c, 1.0) for c in found]))


@router.get(
    "/Coverage/{coverage_id}",
    response_class=FhirJSONResponse,
    responses=responses(Coverage, "The Coverage"),
)
async def get_coverage(
    request: Request,
    session: SessionDep,
    coverage_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> JSONResponse:
    """One recorded Coverage (what ``POST /Coverage`` answered in ``Location``)."""
    coverage = _coverage(request)
    with audited(request, session, "pds.coverage-read", f"Coverage/{coverage_id}"):
        found = await coverage.get(session.role, coverage_id)
    return fhir_response(found, headers={"ETag": 'W/"1"'})


@router.post(
    "/Coverage",
    status_code=201,
    response_class=FhirJSONResponse,
    openapi_extra=request_body(NewCoverage),
    responses=responses(
        CoverageBundle,
        "A searchset of the patient's coverage, the new one included; Location names it",
        status_code=201,
        extra={
            409: "RESOURCE_VERSION_MISMATCH: If-Match names an older version of the record",
            412: "PRECONDITION_FAILED: If-Match missing or malformed",
        },
    ),
)
async def create_coverage(
    request: Request,
    session: SessionDep,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> JSONResponse:
    """Record a patient's coverage on the subscriber's record (``If-Match: W/"<version>"`` of
    that record); answers, as PDS does, with a searchset of the patient's coverage."""
    coverage = _coverage(request)
    with audited(request, session, "pds.coverage-create", "Coverage") as note:
        body = await json_body(request)
        created = await coverage.create(session.role, body, if_match)
        note.resource = f"Coverage/{created['id']}"
        held = await coverage.search(session.role, created["subscriber"]["identifier"]["value"])
    location = f"{str(request.base_url).rstrip('/')}{PREFIX}/Coverage/{created['id']}"
    return fhir_response(
        _searchset(request, [(c, 1.0) for c in held]),
        status_code=201,
        headers={"ETag": 'W/"1"', "Location": location},
    )
