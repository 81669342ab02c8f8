"""HTTP for administrators and chaos scenarios.

Off unless ``HARNESS_ADMIN_TOKEN`` is set, and then only with ``Authorization: Bearer <token>``.
``--test-mode`` additionally allows ``DELETE /admin/reset`` and ``POST /admin/clock`` without a
token, as MESH test servers do; it is never on by default.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from harness.config import ServerSettings
from harness.server.domain import AccessDenied, NotFound, Unauthorised
from harness.server.faults import Fault, FaultBoard, FaultKind, FaultSpec
from harness.server.identity.service import ROLES_BY_TYPE, IdentityService
from harness.server.mesh.service import MeshService
from harness.server.pds.published import store_published
from harness.server.routing import ApiRouter
from harness.server.scr.published import store_published_scrs
from harness.server.store import Store
from harness.spine import Service
from harness.spine.credentials import api_key_for, asid_for

router = ApiRouter(prefix="/admin", tags=["admin"])


def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def _check_token(settings: ServerSettings, authorization: str | None) -> None:
    if not settings.admin_token:
        raise NotFound("the admin API is disabled (set HARNESS_ADMIN_TOKEN to enable it)")
    if not authorization:
        raise Unauthorised("the admin API needs Authorization: Bearer <admin token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), settings.admin_token):
        raise AccessDenied("the admin token is not valid")


async def require_admin(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Admit only holders of the admin token."""
    _check_token(_settings(request), authorization)


async def require_admin_or_test_mode(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Admit anyone in test mode, otherwise only holders of the admin token."""
    settings = _settings(request)
    if not settings.test_mode:
        _check_token(settings, authorization)


Admin = Depends(require_admin)
AdminOrTest = Depends(require_admin_or_test_mode)


async def _board(request: Request) -> FaultBoard:
    board: FaultBoard = request.app.state.faults
    return board


BoardDep = Annotated[FaultBoard, Depends(_board)]


class MaintenanceSpec(BaseModel):
    """Planned maintenance of one service (or all)."""

    model_config = ConfigDict(extra="forbid")
    service: Service | None = None
    duration_s: float = Field(gt=0, le=7 * 86_400, strict=True)


class ClockAdvance(BaseModel):
    """Move the shared clock forward by ``advance_s``, or set it to ``at``.

    ``at`` lets a test play records dated in the past on their own day (a published
    prescription expires six months after it became valid); it takes an aware date-time.
    """

    model_config = ConfigDict(extra="forbid")
    advance_s: float | None = Field(None, gt=0, le=366 * 86_400, strict=True)
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one(self) -> ClockAdvance:
        if (self.advance_s is None) == (self.at is None):
            raise ValueError("give advance_s or at, not both")
        return self


@router.get("/faults", dependencies=[Admin])
async def list_faults(board: BoardDep) -> list[Fault]:
    """The faults in force now."""
    await board.refresh()
    now = board.clock()
    return [f for f in board.faults if f.until > now]


@router.post("/faults", status_code=201, dependencies=[Admin])
async def add_fault(spec: FaultSpec, board: BoardDep) -> Fault:
    """Start a fault: latency, errors, outage, maintenance or a storage stall."""
    return await board.add(spec)


@router.delete("/faults", dependencies=[Admin])
async def clear_faults(board: BoardDep) -> dict[str, int]:
    """End every fault."""
    return {"cleared": await board.clear()}


@router.delete("/faults/{fault_id}", dependencies=[Admin])
async def clear_fault(
    board: BoardDep, fault_id: Annotated[str, Path(max_length=32)]
) -> dict[str, int]:
    """End one fault."""
    ended = await board.clear(fault_id)
    if not ended:
        raise NotFound(f"no fault {fault_id}")
    return {"cleared": ended}


@router.post("/maintenance", status_code=201, dependencies=[Admin])
async def start_maintenance(spec: MaintenanceSpec, board: BoardDep) -> Fault:
    """Planned maintenance: 503 with an HTTP-date ``Retry-After`` until it ends."""
    return await board.add(
        FaultSpec(kind=FaultKind.MAINTENANCE, service=spec.service, duration_s=spec.duration_s)
    )


@router.post("/clock", dependencies=[AdminOrTest])
async def advance_clock(body: ClockAdvance, board: BoardDep) -> dict[str, float]:
    """Move the server's clock forward (MESH expiry tests need not wait five days), or set it."""
    if body.at is not None:
        return {"offset_s": await board.set_clock(body.at.timestamp())}
    assert body.advance_s is not None
    return {"offset_s": await board.advance_clock(body.advance_s)}


@router.post("/mesh/lifecycle", dependencies=[AdminOrTest])
async def run_mesh_lifecycle(request: Request) -> dict[str, int]:
    """Run MESH expiry now instead of waiting for the periodic run."""
    mesh: MeshService = request.app.state.mesh
    undeliverable, deleted = await mesh.expire()
    return {"undeliverable": undeliverable, "deleted": deleted}


@router.delete("/reset", dependencies=[AdminOrTest])
async def reset(request: Request, board: BoardDep) -> dict[str, str]:
    """Wipe all state back to a fresh server's: the published records stay, as at start-up
    (the schema stays; directory-derived state needs no reload)."""
    store: Store = request.app.state.store
    # Rows only, through the store's one writer. Re-running the migrations here took SQLite's
    # write lock on a helper thread that needs this loop to finish, while the loop's own
    # writers (rate-limit ledger, MESH lifecycle) waited for that lock: "database is locked".
    await store.wipe()
    await board.refresh()
    now = request.app.state.clock.now()
    await store_published(store, now)
    await store_published_scrs(store, now)
    return {"status": "reset"}


@router.get("/credentials/{ods_code}", dependencies=[Admin])
async def credentials(
    request: Request, ods_code: Annotated[str, Path(max_length=10)]
) -> dict[str, Any]:
    """The application key, users, roles and MESH mailbox of an organisation."""
    identity: IdentityService = request.app.state.identity
    settings = _settings(request)
    code = ods_code.upper()
    if code not in identity.directory:
        raise NotFound(f"organisation {code} not found")
    org = identity.directory[code]
    asid = asid_for(code)
    return {
        "ods_code": code,
        "asid": asid,
        "api_key": api_key_for(asid, settings.identity_secret),
        "users": identity.users_of(org),
        "roles": list(ROLES_BY_TYPE[org.org_type]),
        "mesh_mailbox": org.mesh_mailbox,
        "mesh_password": settings.mesh_password,
    }
