"""HTTP for the identity service: ``POST /authentication/session``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from harness.server.identity.schemas import SessionCreate, SessionPublic
from harness.server.identity.service import Application, IdentityService, Session
from harness.server.openapi import header, reads_headers
from harness.server.routing import ApiRouter

router = ApiRouter(prefix="/authentication", tags=["identity"])


def identity_of(request: Request) -> IdentityService:
    """The identity service (called, not declared as a dependency: see ``_session``)."""
    service: IdentityService = request.app.state.identity
    return service


# The credential headers are read from the request, not declared as ``Header()`` parameters
# (FastAPI's per-request cost of those: see harness.server.openapi, which documents them).
APIKEY = header("apikey", "The application's API key")
AUTHORIZATION = header("authorization", "Bearer access token from POST /authentication/session")
SESSION_HEADERS = (
    AUTHORIZATION,
    header("NHSD-Session-URID", "The role profile (URID) the user acts in"),
    header("NHSD-End-User-Organisation-ODS", "The organisation the user acts for"),
)


# Dependencies are ``async def`` even when they do not await: FastAPI runs plain ``def``
# dependencies in a worker thread, a thread hop per dependency per request. They take only the
# request: each dependency FastAPI resolves costs ~20 us of CPU per request (a FastAPI
# micro-benchmark), so services are looked up on ``app.state`` by plain calls instead.
@reads_headers(APIKEY)
async def _application(request: Request) -> Application:
    return identity_of(request).application(request.headers.get("apikey"))


@reads_headers(*SESSION_HEADERS)
async def _session(request: Request) -> Session:
    headers = request.headers
    return await identity_of(request).session(
        headers.get("authorization"),
        urid=headers.get("nhsd-session-urid"),
        end_user_ods=headers.get("nhsd-end-user-organisation-ods"),
    )


ApplicationDep = Annotated[Application, Depends(_application)]
SessionDep = Annotated[Session, Depends(_session)]


@router.post("/session", status_code=201, response_model=SessionPublic)
async def create_session(
    request: Request, body: SessionCreate, app: ApplicationDep
) -> SessionPublic:
    """Start a session for a user in one of their roles (the CIS role-selection step)."""
    identity = identity_of(request)
    session = await identity.create_session(app, user_id=body.user_id, role=body.role)
    return SessionPublic(
        access_token=session.token,
        expires_in=round(session.expires_at - identity.clock()),
        urid=session.urid,
        ods_code=session.ods_code,
        role=session.role,
        activities=sorted(session.activities),
    )
