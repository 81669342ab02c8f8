"""HTTP for the identity service: ``POST /authentication/session``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from harness.server.identity.schemas import SessionCreate, SessionPublic
from harness.server.identity.service import Application, IdentityService, Session
from harness.server.openapi import header, reads_headers

router = APIRouter(prefix="/authentication", tags=["identity"])


# Dependencies are ``async def`` even when they do not await: FastAPI runs plain ``def``
# dependencies in a worker thread, a thread hop per dependency per request.
async def _identity(request: Request) -> IdentityService:
    service: IdentityService = request.app.state.identity
    return service


IdentityDep = Annotated[IdentityService, Depends(_identity)]


# The credential headers are read from the request, not declared as ``Header()`` parameters
# (FastAPI's per-request cost of those: see harness.server.openapi, which documents them).
APIKEY = header("apikey", "The application's API key")
AUTHORIZATION = header("authorization", "Bearer access token from POST /authentication/session")
SESSION_HEADERS = (
    AUTHORIZATION,
    header("NHSD-Session-URID", "The role profile (URID) the user acts in"),
    header("NHSD-End-User-Organisation-ODS", "The organisation the user acts for"),
)


@reads_headers(APIKEY)
async def _application(request: Request, identity: IdentityDep) -> Application:
    return identity.application(request.headers.get("apikey"))


@reads_headers(*SESSION_HEADERS)
async def _session(request: Request, identity: IdentityDep) -> Session:
    headers = request.headers
    return await identity.session(
        headers.get("authorization"),
        urid=headers.get("nhsd-session-urid"),
        end_user_ods=headers.get("nhsd-end-user-organisation-ods"),
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
