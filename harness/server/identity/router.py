"""HTTP for the identity service: ``POST /authentication/session``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from harness.server.domain import BadRequest, Unauthorised
from harness.server.identity.schemas import SessionCreate, SessionPublic
from harness.server.identity.service import Application, Caller, IdentityService, Session
from harness.server.openapi import header, reads_headers
from harness.server.routing import ApiRouter
from harness.spine.contracts import AUTH_BASE

router = ApiRouter(prefix=AUTH_BASE, tags=["identity"])


def identity_of(request: Request) -> IdentityService:
    """The identity service (called, not declared as a dependency: see ``_session``)."""
    service: IdentityService = request.app.state.identity
    return service


# The credential headers are read from the request, not declared as ``Header()`` parameters
# (why: harness.server.fastpath; harness.server.openapi documents them).
APIKEY = header("apikey", "The application's API key")
AUTHORIZATION = header("authorization", "Bearer access token from POST /authentication/session")
SESSION_HEADERS = (
    AUTHORIZATION,
    header("NHSD-Session-URID", "The role profile (URID) the user acts in"),
    header("NHSD-End-User-Organisation-ODS", "The organisation the user acts for"),
)


async def caller_of(request: Request) -> Caller:
    """The verified sender of ``request``.

    The platform authenticates every API request before it is rate limited or de-duplicated
    and leaves the result on ``request.state``; a request that did not pass through it (no
    platform) is authenticated here, the same way.
    """
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:
        headers = request.headers
        caller = await identity_of(request).authenticate(
            apikey=headers.get("apikey"),
            authorization=headers.get("authorization"),
            urid=headers.get("nhsd-session-urid"),
            end_user_ods=headers.get("nhsd-end-user-organisation-ods"),
        )
        request.state.caller = caller
    return caller


# Dependencies are ``async def`` even when they do not await, and take only the request, with
# services looked up on ``app.state`` by plain calls (why: harness.server.fastpath).
@reads_headers(APIKEY)
async def _application(request: Request) -> Application:
    caller = await caller_of(request)
    if caller.application is None:
        raise Unauthorised("an apikey header is required to access this resource")
    return caller.application


@reads_headers(*SESSION_HEADERS)
async def _session(request: Request) -> Session:
    caller = await caller_of(request)
    if caller.session is None:
        raise Unauthorised("Missing Authorization header")  # PDS's wording
    # User-restricted access (CIS2): the user acts in one role, named on every request.
    if "nhsd-session-urid" not in request.headers:
        raise BadRequest(
            "NHSD-Session-URID header must be supplied for user-restricted access",
            code="MISSING_VALUE",
        )
    return caller.session


@reads_headers(APIKEY, *SESSION_HEADERS)
async def _caller(request: Request) -> Caller:
    return await caller_of(request)


ApplicationDep = Annotated[Application, Depends(_application)]
CallerDep = Annotated[Caller, Depends(_caller)]
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
