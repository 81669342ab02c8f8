"""HTTP for ODS: ``GET /organisation-data/FHIR/R4/Organization/{ods_code}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from harness.server.audit import AuditLog
from harness.server.errors import FHIR_JSON
from harness.server.identity.router import SessionDep
from harness.server.ods.service import OdsService

router = APIRouter(prefix="/organisation-data/FHIR/R4", tags=["ods"])


def _ods(request: Request) -> OdsService:
    service: OdsService = request.app.state.ods
    return service


@router.get("/Organization/{ods_code}", response_class=JSONResponse)
async def get_organisation(
    request: Request,
    session: SessionDep,
    ods: Annotated[OdsService, Depends(_ods)],
    ods_code: Annotated[str, Path(min_length=2, max_length=10)],
) -> Any:
    """Read one organisation; the access is audited."""
    audit: AuditLog = request.app.state.audit
    body = ods.get_organisation(ods_code)
    audit.record(
        actor=session.user_id,
        ods_code=session.ods_code,
        action="ods.read",
        resource=f"Organization/{ods_code.upper()}",
        outcome=200,
        request_id=request.headers.get("x-request-id"),
    )
    return JSONResponse(body, media_type=FHIR_JSON)
