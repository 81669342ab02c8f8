"""HTTP for the identity service: ``POST /authentication/session``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from harness.server.identity.schemas import SessionCreate, SessionPublic
from harness.server.identity.service import Application, IdentityService, Session

router = APIRouter(prefix="/authentication", tags=["identity"])


# Dependencies are ``async def`` even when they do not await: FastAPI runs plain ``def``
# dependencies in a worker thread, a thread hop per dependency per request.
async def _identity(request: Request) -> IdentityService:
    service: IdentityService = request.app.state.identity
    return service


IdentityDep = Annotated[IdentityService, Depends(_identity)]


async def _application(
    identity: IdentityDep, apikey: Annotated[str | None, Header()] = None
) -> Application:
    return identity.application(apikey)


async def _session(
    identity: IdentityDep,
    authorization: Annotated[str | None, Header()] = None,
    nhsd_session_urid: Annotated[str | None, Header(alias="NHSD-Session-URID")] = None,
    nhsd_end_user_organisation_ods: Annotated[
        str | None, Header(alias="NHSD-End-User-Organisation-ODS")
    ] = None,
) -> Session:
    return await identity.session(
        authorization, urid=nhsd_session_urid, end_user_ods=nhsd_end_user_organisation_ods
    )


ApplicationDep = Annotated[Application, Depends(_application)]
SessionDep = Annotated[Session, Depends(_session)]


@router.post("/session", status_code=201, response_model=SessionPublic)
async def create_session(
    body: SessionCreate, app: ApplicationDep, identity: IdentityDep
) -> SessionPublic:
    """Start a session for a user in one of their roles (the CIS role-selection step)."""
    session = await identity.create_session(app, user_id=body.user_id, role=body.role)
    return SessionPublic(
        access_token=session.token,
        expires_in=round(session.expires_at - identity.clock()),
        urid=session.urid,
        ods_code=session.ods_code,
        role=session.role,
        activities=sorted(session.activities),
    )
