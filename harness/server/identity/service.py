"""Identity rules: who an application or a user is, and what a role may do.

National RBAC gives every job role an ``R`` code and every activity a ``B`` code; a baseline
policy maps roles to activities (B0825 *Amend Patient Demographics* includes B0820 *View
Patient Demographics*; the table is in :mod:`harness.server.identity.rbac`). Users hold roles
at an organisation and choose one per session; APIs receive the session's User Role Profile id
as ``NHSD-Session-URID``.

Everything here is derived deterministically from the organisation directory and a secret, so
the load driver can compute the same credentials the server accepts without sharing a file:
each organisation's clinical system is one application with an ASID and an API key, and each
organisation has ``USERS_PER_ORGANISATION`` users.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import bindparam, delete, insert, select

from harness.server.domain import AccessDenied, BadRequest, Forbidden, Unauthorised
from harness.server.identity.rbac import ROLE_ACTIVITIES
from harness.server.store import Store, direct_read
from harness.server.store.schema import sessions
from harness.spine import Directory, Organisation, OrgType

# The derivations are shared facts: the load driver computes the same credentials.
from harness.spine.credentials import (
    USERS_PER_ORGANISATION,
    api_key_for,
    asid_for,
    urid_for,
)
from harness.spine.identifiers import ascii_digits

_INSERT = insert(sessions)  # built once: see harness.server.eps.records
_BY_TOKEN = direct_read(select(sessions).where(sessions.c.token == bindparam("token")))
SESSION_TTL_S = 12 * 3600  # a smartcard session lasts a working day (assumption)
CACHE_TTL_S = 30.0  # workers remember sessions this long before re-reading storage
CACHE_MAX_ENTRIES = 100_000  # sessions a worker remembers at once (≈ 30 MB)
MAX_TOKEN_CHARS = 64  # the sessions table's token column; issued tokens are 45 characters

ROLES_BY_TYPE: Mapping[OrgType, tuple[str, ...]] = MappingProxyType(
    {
        OrgType.GP_PRACTICE: ("R8000", "R8001", "R8008"),
        OrgType.COMMUNITY_PHARMACY: ("R8003", "R8008"),
        OrgType.TRUST: ("R8000", "R8001", "R8008"),
        OrgType.AMBULANCE: ("R8000", "R8001"),
        OrgType.URGENT_CARE: ("R8000", "R8001", "R8008"),
        OrgType.DENTAL: ("R8000", "R8008"),
        OrgType.OPTICAL: ("R8000", "R8008"),
        OrgType.COMMUNITY: ("R8000", "R8001", "R8008"),
    }
)


@dataclass(frozen=True, slots=True)
class Application:
    """An organisation's clinical system."""

    asid: str
    ods_code: str


@dataclass(frozen=True, slots=True)
class Session:
    """An authenticated user in one role."""

    token: str
    user_id: str
    urid: str
    role: str
    ods_code: str
    asid: str
    expires_at: float

    @property
    def activities(self) -> frozenset[str]:
        """What the session's role may do."""
        return ROLE_ACTIVITIES.get(self.role, frozenset())


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request, verified: the application and, for a user, the session.

    The platform builds one per API request before anything is counted or stored for it; rate
    limits and de-duplication are keyed by :attr:`key`, routes read the session from it.
    """

    asid: str
    application: Application | None
    session: Session | None

    @property
    def key(self) -> str:
        """The key rate limits, stored responses and polls are kept under."""
        return f"asid:{self.asid}"


class IdentityService:
    """Applications, users and sessions over one directory and store."""

    def __init__(
        self, *, directory: Directory, store: Store, secret: str, clock: Callable[[], float]
    ) -> None:
        self.directory = directory
        self.store = store
        self.secret = secret
        self.clock = clock
        self._apps = {
            api_key_for(asid_for(org.ods_code), secret): Application(
                asid_for(org.ods_code), org.ods_code
            )
            for org in directory
        }
        self._cache: dict[str, tuple[float, Session]] = {}

    def users_of(self, org: Organisation) -> list[str]:
        """The user ids of an organisation."""
        return [f"{org.ods_code}-{n:02d}" for n in range(1, USERS_PER_ORGANISATION + 1)]

    def asid_of_key(self, api_key: str) -> str | None:
        """The ASID an API key belongs to (``None`` for an unknown key)."""
        app = self._apps.get(api_key)
        return app.asid if app else None

    def application(self, api_key: str | None) -> Application:
        """The application an API key belongs to."""
        if not api_key:
            raise Unauthorised("an apikey header is required to access this resource")
        app = self._apps.get(api_key)
        if app is None:
            raise AccessDenied("the apikey is not valid")
        return app

    async def create_session(self, app: Application, *, user_id: str, role: str) -> Session:
        """Authenticate ``user_id`` in ``role`` for ``app``'s organisation."""
        ods_code, _, number = user_id.rpartition("-")
        if ods_code != app.ods_code or ods_code not in self.directory or not ascii_digits(number):
            raise Forbidden(f"user {user_id!r} is not registered at {app.ods_code}")
        if not 1 <= int(number) <= USERS_PER_ORGANISATION:
            raise Forbidden(f"user {user_id!r} is not registered at {app.ods_code}")
        org = self.directory[ods_code]
        if role not in ROLES_BY_TYPE[org.org_type]:
            raise BadRequest(
                f"role {role!r} is not held at {ods_code}; choose one of "
                f"{', '.join(ROLES_BY_TYPE[org.org_type])}"
            )
        session = Session(
            token=f"{app.asid}.{secrets.token_urlsafe(24)}",
            user_id=user_id,
            urid=urid_for(user_id, role),
            role=role,
            ods_code=ods_code,
            asid=app.asid,
            expires_at=self.clock() + SESSION_TTL_S,
        )
        async with self.store.begin() as conn:
            await conn.execute(_INSERT, _row(session))
        self._remember(session)  # its first calls usually come back to this worker
        return session

    async def session(
        self, authorization: str | None, *, urid: str | None, end_user_ods: str | None
    ) -> Session:
        """The session of a ``Bearer`` token, checked against the NHSD-* headers."""
        if not authorization:
            raise Unauthorised("Missing Authorization header")  # PDS's wording
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AccessDenied("Missing access token")  # not "Bearer <token>" (PDS's wording)
        found = await self._lookup(token.strip())
        if found is None or found.expires_at <= self.clock():
            raise AccessDenied("Invalid Access Token")  # unknown or expired (PDS's wording)
        if urid is not None and urid != found.urid:
            raise Forbidden("NHSD-Session-URID does not match the session's role profile")
        if end_user_ods is not None and end_user_ods.upper() != found.ods_code:
            raise Forbidden("NHSD-End-User-Organisation-ODS does not match the session")
        return found

    async def authenticate(
        self,
        *,
        apikey: str | None,
        authorization: str | None,
        urid: str | None,
        end_user_ods: str | None,
    ) -> Caller:
        """Verify every credential a request carries and say who sent it.

        An API key names an application; a bearer token names a user's session (and, through
        it, the application). A request with both must carry the same application's.

        Raises:
            Unauthorised: no credentials at all.
            AccessDenied: a credential is not valid.
            Forbidden: the session headers do not match the session, or the key and the token
                belong to different applications.
        """
        if apikey is None and authorization is None:
            # PDS's wording; an application-restricted API (SDS) takes an apikey instead.
            raise Unauthorised("Missing Authorization header (or apikey)")
        app = self.application(apikey) if apikey is not None else None
        session = (
            await self.session(authorization, urid=urid, end_user_ods=end_user_ods)
            if authorization is not None
            else None
        )
        if session is not None:
            if app is not None and app.asid != session.asid:
                raise Forbidden("the apikey and the access token belong to different applications")
            return Caller(session.asid, app, session)
        assert app is not None  # one of the two was given
        return Caller(app.asid, app, None)

    async def _lookup(self, token: str) -> Session | None:
        if len(token) > MAX_TOKEN_CHARS:
            return None  # longer than any token this service issues: nothing to look up
        now = self.clock()
        cached = self._cache.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.store.connect() as conn:
            row = (await conn.execute(_BY_TOKEN, {"token": token})).mappings().first()
        if row is None:
            return None
        found = Session(**dict(row))
        self._remember(found)
        return found

    def _remember(self, session: Session) -> None:
        if len(self._cache) >= CACHE_MAX_ENTRIES:
            self.forget_expired()
            if len(self._cache) >= CACHE_MAX_ENTRIES:
                self._cache.pop(next(iter(self._cache)))  # the oldest entry
        self._cache[session.token] = (self.clock() + CACHE_TTL_S, session)

    def forget_expired(self) -> int:
        """Drop cached sessions past their cache time; return how many."""
        now = self.clock()
        stale = [token for token, (until, _) in self._cache.items() if until <= now]
        for token in stale:
            del self._cache[token]
        return len(stale)

    async def delete_expired(self) -> int:
        """Delete sessions that have expired from storage (run on a schedule); return how many."""
        self.forget_expired()
        async with self.store.begin() as conn:
            result = await conn.execute(
                delete(sessions).where(sessions.c.expires_at <= self.clock())
            )
        return int(result.rowcount or 0)


def _row(session: Session) -> dict[str, object]:
    return {
        "token": session.token,
        "user_id": session.user_id,
        "urid": session.urid,
        "role": session.role,
        "ods_code": session.ods_code,
        "asid": session.asid,
        "expires_at": session.expires_at,
    }
