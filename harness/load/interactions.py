"""How an organisation performs each interaction against a Spine server.

A driver turns one arrival — an interaction for an organisation — into the request a real
client system would send: the path from the catalogue, the organisation's credentials, a fresh
``X-Request-ID`` (kept across retries), a body where the API needs one. MESH traffic goes
through NHS England's ``mesh-client`` (see :mod:`harness.load.driver`); the FHIR-style APIs are
plain HTTP here.

Each organisation keeps a little state, as its clinical system would: its session token and
role profile id (it logs in on first use), the MESH messages waiting in its inbox and those it
has downloaded but not yet acknowledged, and a backlog of work that failed during an outage and
is flushed when the service answers again.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from harness.spine import CATALOGUE, Interaction, OrgType
from harness.spine.credentials import api_key_for, asid_for, user_ids

BACKLOG_LIMIT = 200  # work items an organisation keeps while the service is down
# The role each kind of organisation logs in with (the reference server's R codes).
DEFAULT_ROLE: dict[OrgType, str] = dict.fromkeys(OrgType, "R8000") | {
    OrgType.COMMUNITY_PHARMACY: "R8003"
}
MESH_WORKFLOW = "TEST_WORKFLOW"  # open to every directory mailbox on the reference server


@dataclass(frozen=True)
class StreamInfo:
    """What an arrival of a stream does."""

    interaction: Interaction
    org_type: OrgType
    type_index: int  # position of org_type in OrgType, i.e. in ``orgs``
    kind: str  # "http" | "mesh" | "" (not exercised)


@dataclass(frozen=True)
class HttpCall:
    """One HTTP request to make."""

    interaction: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None
    state_changing: bool = False


@dataclass
class OrgState:
    """What one organisation's client system remembers between requests."""

    ods_code: str
    org_type: OrgType
    mailbox: str
    api_key: str
    session_token: str | None = None
    urid: str | None = None
    inbox: deque[str] = field(default_factory=deque)  # message ids to download
    downloaded: deque[str] = field(default_factory=deque)  # to acknowledge
    backlog: deque[HttpCall] = field(default_factory=lambda: deque(maxlen=BACKLOG_LIMIT))
    data_centre: str = ""  # the site it reaches first (its secondary endpoint is the other)
    supplier: str = ""  # its clinical-system supplier (a supplier outage cuts it off)

    def user_headers(self) -> dict[str, str]:
        """Headers of a user-restricted call (the session must exist)."""
        assert self.session_token is not None
        assert self.urid is not None
        return {
            "Authorization": f"Bearer {self.session_token}",
            "NHSD-Session-URID": self.urid,
            "NHSD-End-User-Organisation-ODS": self.ods_code,
        }


def new_org_state(
    ods_code: str,
    org_type: OrgType,
    mailbox: str,
    *,
    secret: str,
    data_centre: str = "",
    supplier: str = "",
) -> OrgState:
    """The client state of an organisation with credentials derived from ``secret``."""
    return OrgState(
        ods_code,
        org_type,
        mailbox,
        api_key_for(asid_for(ods_code), secret),
        data_centre=data_centre,
        supplier=supplier,
    )


def request_id() -> str:
    """A fresh ``X-Request-ID``."""
    return str(uuid.uuid4())


def login_call(org: OrgState) -> HttpCall:
    """Start a session for the organisation's first user in its default role."""
    body = {"user_id": user_ids(org.ods_code)[0], "role": DEFAULT_ROLE[org.org_type]}
    return HttpCall(
        "auth.session",
        "POST",
        "/authentication/session",
        {
            "apikey": org.api_key,
            "X-Request-ID": request_id(),
            "Content-Type": "application/json",
        },
        json.dumps(body).encode(),
        state_changing=True,
    )


def _ods_read(org: OrgState, rng: np.random.Generator, others: list[str]) -> HttpCall:
    target = others[int(rng.integers(len(others)))] if others else org.ods_code
    return HttpCall(
        "sds.device-lookup",
        "GET",
        f"/organisation-data/FHIR/R4/Organization/{target}",
        {**org.user_headers(), "X-Request-ID": request_id()},
    )


HttpBuilder = Callable[[OrgState, np.random.Generator, list[str]], HttpCall]

# Interactions driven over plain HTTP, and whether they need a user session first. Only
# interactions the target serves are driven; the rest are reported as not exercised.
HTTP_DRIVERS: dict[str, tuple[HttpBuilder, bool]] = {
    "auth.session": (lambda org, _rng, _others: login_call(org), False),
}
# Stand-ins used against the reference server until its SDS API exists: the ODS read is the
# same kind of directory lookup (a small authenticated FHIR read).
STAND_INS: dict[str, tuple[HttpBuilder, bool, str]] = {
    "sds.device-lookup": (_ods_read, True, "/organisation-data/FHIR/R4/Organization/{ods_code}"),
    "sds.endpoint-lookup": (_ods_read, True, "/organisation-data/FHIR/R4/Organization/{ods_code}"),
}
MESH_INTERACTIONS = frozenset({"mesh.poll", "mesh.send", "mesh.download", "mesh.acknowledge"})


def supported(served_paths: set[str] | None) -> dict[str, str]:
    """Interactions this driver can exercise on a target, with how (``http``/``mesh``).

    Args:
        served_paths: path templates from the target's OpenAPI document, or ``None`` when the
            target publishes none (then every driver is assumed served).
    """
    found: dict[str, str] = {}
    by_id: dict[str, Interaction] = {i.id: i for i in CATALOGUE}
    for interaction_id in HTTP_DRIVERS:
        path = by_id[interaction_id].path
        if served_paths is None or path in served_paths:
            found[interaction_id] = "http"
    for interaction_id, (_builder, _session, path) in STAND_INS.items():
        if interaction_id not in found and (served_paths is None or path in served_paths):
            found[interaction_id] = "http"
    mesh_served = served_paths is None or any(
        p.startswith("/messageexchange/") for p in served_paths
    )
    if mesh_served:
        found.update(dict.fromkeys(MESH_INTERACTIONS, "mesh"))
    return found


def http_driver(interaction_id: str) -> tuple[HttpBuilder, bool]:
    """The request builder of an HTTP-driven interaction and whether it needs a session."""
    if interaction_id in HTTP_DRIVERS:
        return HTTP_DRIVERS[interaction_id]
    builder, needs_session, _path = STAND_INS[interaction_id]
    return builder, needs_session
