"""HTTP for EPS: ``/fhir-prescribing/FHIR/R4`` and ``/fhir-dispensing/FHIR/R4``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from harness.server.datatypes import OperationOutcome, Parameters
from harness.server.eps import messages
from harness.server.eps.schemas import (
    ClaimRequest,
    DispenseTask,
    MessageBundle,
    ReleaseRequest,
    ReleaseResponse,
    TaskBundle,
)
from harness.server.eps.service import EpsService
from harness.server.identity.router import SessionDep
from harness.server.responses import (
    FhirJSONResponse,
    audited,
    fhir_response,
    json_body,
    request_body,
    responses,
)
from harness.server.routing import ApiRouter
from harness.spine.contracts import EPS_DISPENSING_BASE, EPS_PRESCRIBING_BASE

PRESCRIBING = EPS_PRESCRIBING_BASE
DISPENSING = EPS_DISPENSING_BASE
prescribing = ApiRouter(prefix=PRESCRIBING, tags=["eps"])
dispensing = ApiRouter(prefix=DISPENSING, tags=["eps"])


def _eps(request: Request) -> EpsService:
    # A plain call, not a FastAPI dependency: see harness.server.identity.router._session.
    service: EpsService = request.app.state.eps
    return service


def _prescription(prescription_id: str) -> str:
    return f"Prescription/{prescription_id}"


@prescribing.post(
    "/$prepare",
    response_class=FhirJSONResponse,
    openapi_extra=request_body(MessageBundle),
    responses=responses(Parameters, "digest, timestamp and algorithm to sign"),
)
async def prepare(request: Request, session: SessionDep) -> JSONResponse:
    """Check a prescription-order message and return the digest to sign."""
    eps = _eps(request)
    with audited(request, session, "eps.prepare", "Prescription"):
        body = await eps.prepare(session, await json_body(request))
    return fhir_response(body)


@prescribing.post(
    "/$process-message",
    response_class=FhirJSONResponse,
    openapi_extra=request_body(MessageBundle),
    responses=responses(OperationOutcome, "Created, cancelled, or marked for cancellation"),
)
async def process_prescribing_message(request: Request, session: SessionDep) -> JSONResponse:
    """``prescription-order`` creates a prescription; ``prescription-order-update`` cancels a
    line item (R-0001 done, R-0002/R-0003 marked while with a dispenser)."""
    eps = _eps(request)
    body = await json_body(request)
    event = messages.message_event(body)
    action = {"prescription-order": "eps.create", "prescription-order-update": "eps.cancel"}
    with audited(request, session, action.get(str(event), "eps.message"), "Prescription") as note:
        if event == "prescription-order":
            prescription_id, answer = await eps.create(session, body)
        elif event == "prescription-order-update":
            prescription_id, answer = await eps.cancel(session, body)
        else:
            raise messages.invalid(f"unsupported message event {event!r} on {PRESCRIBING}")
        note.resource = _prescription(prescription_id)
    return fhir_response(answer)


@prescribing.get(
    "/Task",
    response_class=FhirJSONResponse,
    responses=responses(TaskBundle, "The prescription's issues with their status"),
)
async def track_prescription(
    request: Request,
    session: SessionDep,
    focus: Annotated[str, Query(alias="focus:identifier", description="prescription id")],
) -> JSONResponse:
    """Track a prescription: its Spine status and line-item statuses, issue by issue."""
    eps = _eps(request)
    prescription_id = focus.rpartition("|")[2]
    with audited(request, session, "eps.track", _prescription(prescription_id)):
        tasks = await eps.track(session, prescription_id)
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(tasks),
            "entry": [{"resource": task} for task in tasks],
        }
    )


@dispensing.post(
    "/Task/$release",
    response_class=FhirJSONResponse,
    openapi_extra=request_body(ReleaseRequest),
    responses=responses(
        ReleaseResponse, "Released prescriptions, or NO_MORE_PRESCRIPTIONS (informational)"
    ),
)
async def release(request: Request, session: SessionDep) -> JSONResponse:
    """Release one prescription by id, or up to 25 nominated to the owner pharmacy."""
    eps = _eps(request)
    with audited(request, session, "eps.release", "Prescription") as note:
        released, answer = await eps.release(session, await json_body(request))
        note.resource = ",".join(_prescription(p) for p in released)[:256] or "Prescription"
    return fhir_response(answer)


@dispensing.post(
    "/$process-message",
    response_class=FhirJSONResponse,
    openapi_extra=request_body(MessageBundle),
    responses=responses(OperationOutcome, "Dispense notification recorded"),
)
async def process_dispensing_message(request: Request, session: SessionDep) -> JSONResponse:
    """``dispense-notification``: line items dispensed, partly dispensed or not dispensed."""
    eps = _eps(request)
    body = await json_body(request)
    with audited(request, session, "eps.dispense-notification", "Prescription") as note:
        if messages.message_event(body) != "dispense-notification":
            raise messages.invalid(f"only dispense-notification messages go to {DISPENSING}")
        prescription_id, answer = await eps.dispense(session, body)
        note.resource = _prescription(prescription_id)
    return fhir_response(answer)


@dispensing.post(
    "/Task",
    response_class=FhirJSONResponse,
    openapi_extra=request_body(DispenseTask),
    responses=responses(OperationOutcome, "Returned or withdrawn"),
)
async def return_or_withdraw(request: Request, session: SessionDep) -> JSONResponse:
    """Return a downloaded prescription (``rejected``) or withdraw a dispense notification
    (``in-progress``)."""
    eps = _eps(request)
    with audited(request, session, "eps.task", "Prescription") as note:
        prescription_id, answer = await eps.task(session, await json_body(request))
        note.resource = _prescription(prescription_id)
    return fhir_response(answer)


@dispensing.post(
    "/Claim",
    response_class=FhirJSONResponse,
    openapi_extra=request_body(ClaimRequest),
    responses=responses(OperationOutcome, "Claim received"),
)
async def claim(request: Request, session: SessionDep) -> JSONResponse:
    """Claim reimbursement for a dispensed (or not dispensed) prescription."""
    eps = _eps(request)
    with audited(request, session, "eps.claim", "Prescription") as note:
        prescription_id, answer = await eps.claim(session, await json_body(request))
        note.resource = _prescription(prescription_id)
    return fhir_response(answer)
