"""HTTP for SCR: ``/summary-care-record/FHIR/R4`` documents, permission and privacy alerts.

Emergency access is declared per request with the ``NHSD-Emergency-Access`` header (or the
``_emergency`` query parameter) holding the reason; see :mod:`harness.server.scr.access`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.responses import JSONResponse, Response

from harness.server.datatypes import Bundle, OperationOutcome, informational
from harness.server.identity.router import SessionDep
from harness.server.responses import (
    FHIR_ERRORS,
    FhirJSONResponse,
    audited,
    fhir_response,
    json_body,
    request_body,
    responses,
)
from harness.server.routing import ApiRouter
from harness.server.scr.schemas import (
    AuditEventIn,
    AuditEventOut,
    DocumentBundle,
    DocumentReferenceBundle,
    ScrBundle,
    SetPermission,
)
from harness.server.scr.service import SCR_PATH, ScrService

router = ApiRouter(prefix=SCR_PATH, tags=["scr"])
Emergency = Annotated[
    str | None,
    Header(alias="NHSD-Emergency-Access", max_length=64, description="emergency access reason"),
]
EmergencyParam = Annotated[
    str | None, Query(alias="_emergency", max_length=64, description="emergency access reason")
]


def _scr(request: Request) -> ScrService:
    # A plain call, not a FastAPI dependency: see harness.server.identity.router._session.
    service: ScrService = request.app.state.scr
    return service


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


@router.post(
    "/Bundle",
    status_code=201,
    response_class=FhirJSONResponse,  # the media type of its refusals
    response_model=None,
    openapi_extra=request_body(DocumentBundle),
    responses={
        201: {"description": "SCR successfully uploaded (no body); Location names it"},
        **FHIR_ERRORS,
        409: {"model": OperationOutcome, "description": "RESOURCE_VERSION_MISMATCH"},
    },
)
async def upload(request: Request, session: SessionDep) -> Response:
    """Upload a patient's SCR (a new version must name the one it replaces).

    As the specification has it, the answer is 201 without a body; ``Location`` names the
    stored SCR (its Composition's identifier, which ``GET /DocumentReference`` also gives).
    """
    scr = _scr(request)
    with audited(request, session, "scr.upload", "SCR") as note:
        document = await scr.upload(session, await json_body(request))
        note.resource = f"Patient/{document.nhs_number}/SCR/{document.id}"
    location = f"{SCR_PATH}/Bundle?composition.identifier={document.id}"
    return Response(status_code=201, headers={"Location": location})


@router.get(
    "/DocumentReference",
    response_class=FhirJSONResponse,
    responses=responses(DocumentReferenceBundle, "The latest SCR's id and consent status"),
)
async def find_documents(
    request: Request,
    session: SessionDep,
    patient: Annotated[str, Query(description="NHS number, or nhs-number system|value")],
    emergency: Emergency = None,
    emergency_param: EmergencyParam = None,
) -> JSONResponse:
    """The patient's latest SCR (needs a legitimate relationship or emergency access)."""
    scr = _scr(request)
    nhs_number = patient.rpartition("|")[2]
    with audited(request, session, "scr.view", f"Patient/{nhs_number}/DocumentReference"):
        found = await scr.document_references(
            session, nhs_number, emergency=emergency or emergency_param
        )
    return fhir_response(_searchset(found))


@router.get(
    "/Bundle",
    response_class=FhirJSONResponse,
    responses=responses(ScrBundle, "The SCR; empty when the identifier is not the latest"),
)
async def retrieve(
    request: Request,
    session: SessionDep,
    composition: Annotated[str, Query(alias="composition.identifier")],
    subject: Annotated[str, Query(alias="composition.subject:Patient.identifier")],
    emergency: Emergency = None,
    emergency_param: EmergencyParam = None,
) -> JSONResponse:
    """Read the SCR (needs an LR and permission to view, or emergency access)."""
    scr = _scr(request)
    nhs_number = subject.rpartition("|")[2]
    with audited(request, session, "scr.view", f"Patient/{nhs_number}/SCR/{composition}"):
        found = await scr.retrieve(
            session, composition, nhs_number, emergency=emergency or emergency_param
        )
    return fhir_response(_searchset(found))


@router.post(
    "/$setPermission",
    status_code=201,
    response_class=FhirJSONResponse,
    openapi_extra=request_body(SetPermission),
    responses=responses(OperationOutcome, "Permission recorded", status_code=201),
)
async def set_permission(request: Request, session: SessionDep) -> JSONResponse:
    """Record the patient's permission for this organisation to view their SCR."""
    scr = _scr(request)
    with audited(request, session, "scr.set-permission", "SCR") as note:
        nhs_number, code = await scr.set_permission(session, await json_body(request))
        note.resource = f"Patient/{nhs_number}/permission"
    # 201, as the SCR specification publishes ("Permission successfully updated").
    return fhir_response(informational(f"permission to view set to {code}"), status_code=201)


@router.post(
    "/AuditEvent",
    status_code=201,
    response_class=FhirJSONResponse,
    openapi_extra=request_body(AuditEventIn),
    responses=responses(AuditEventOut, "The privacy alert", status_code=201),
)
async def raise_alert(request: Request, session: SessionDep) -> JSONResponse:
    """Raise a privacy-officer alert; type 1 also creates a self-claimed relationship."""
    scr = _scr(request)
    with audited(request, session, "scr.alert", "AuditEvent") as note:
        event = await scr.record_alert(session, await json_body(request))
        note.resource = f"AuditEvent/{event['id']}"
    return fhir_response(event, status_code=201)


@router.get(
    "/AuditEvent",
    response_class=FhirJSONResponse,
    responses=responses(Bundle, "Privacy alerts raised at the caller's organisation"),
)
async def list_alerts(request: Request, session: SessionDep) -> JSONResponse:
    """The privacy officer's view: alerts raised at the caller's organisation, newest first."""
    scr = _scr(request)
    with audited(request, session, "scr.alerts", f"Organization/{session.ods_code}/AuditEvent"):
        alerts = await scr.alerts(session)
    return fhir_response(_searchset(alerts))
