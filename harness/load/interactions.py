"""How an organisation performs each interaction against a Spine server.

A driver turns one arrival — an interaction for an organisation — into the request a real
client system would send: the path from the catalogue, the organisation's credentials, a fresh
``X-Request-ID`` (kept across retries), a body where the API needs one. MESH traffic goes
through NHS England's ``mesh-client`` (see :mod:`harness.load.driver`); the FHIR-style APIs are
plain HTTP: authentication and directory lookups here, PDS, EPS and SCR as clinical journeys
(:mod:`harness.load.journeys`). What each organisation remembers between requests is its
:class:`~harness.load.state.OrgState`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode

import numpy as np

from harness.load.journeys import JOURNEYS
from harness.load.state import (
    BACKLOG_LIMIT,
    HttpCall,
    OrgState,
    Reply,
    new_org_state,
    request_id,
)
from harness.spine import CATALOGUE, Interaction, OrgType
from harness.spine.catalogue import SERVICE_INTERACTIONS
from harness.spine.contracts import MESH_BASE, SDS_BASE
from harness.spine.credentials import user_ids

__all__ = [
    "BACKLOG_LIMIT",
    "DEFAULT_ROLE",
    "HTTP_DRIVERS",
    "MESH_INTERACTIONS",
    "MESH_WORKFLOW",
    "STAND_INS",
    "HttpCall",
    "OrgState",
    "Reply",
    "StreamInfo",
    "http_driver",
    "login_call",
    "needs_session",
    "new_org_state",
    "request_id",
    "supported",
]

# The role each kind of organisation logs in with (the reference server's R codes): clinicians
# (R8000: trace, amend, prescribe, upload and view SCRs, claim a relationship), pharmacists
# (R8003: trace, dispense, view the SCRs of patients who nominated them).
DEFAULT_ROLE: dict[OrgType, str] = dict.fromkeys(OrgType, "R8000") | {
    OrgType.COMMUNITY_PHARMACY: "R8003"
}
MESH_WORKFLOW = "TEST_WORKFLOW"  # open to every directory mailbox on the reference server


class Drive(StrEnum):
    """How the driver exercises an interaction on a target (see :func:`supported`)."""

    HTTP = "http"  # the interaction's own request
    STAND_IN = "stand-in"  # a request the target serves, in place of one it does not
    MESH = "mesh"  # through the MESH mailbox client


@dataclass(frozen=True)
class StreamInfo:
    """What an arrival of a stream does."""

    interaction: Interaction
    org_type: OrgType
    type_index: int  # position of org_type in OrgType, i.e. in ``orgs``
    kind: Drive | None  # None: not exercised


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


ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
INTERACTION_SYSTEM = "https://fhir.nhs.uk/Id/nhsServiceInteractionId"
SDS_PATH = SDS_BASE
# What a client system looks up in SDS before it sends to another organisation: where (and by
# which accredited system) that organisation receives these interactions.
SDS_TARGETS = ("eps.release", "eps.create", "scr.view", "mesh.send", "pds.retrieve")


def _sds_lookup(resource: str) -> HttpBuilder:
    """A Device or Endpoint lookup of another organisation for one of its interactions."""

    def build(org: OrgState, rng: np.random.Generator, others: list[str]) -> HttpCall:
        target = others[int(rng.integers(len(others)))] if others else org.ods_code
        interaction = SDS_TARGETS[int(rng.integers(len(SDS_TARGETS)))]
        query = urlencode(
            [
                ("organization", f"{ODS_SYSTEM}|{target}"),
                ("identifier", f"{INTERACTION_SYSTEM}|{SERVICE_INTERACTIONS[interaction]}"),
            ]
        )
        return HttpCall(
            f"sds.{resource.lower()}-lookup",
            "GET",
            f"{SDS_PATH}/{resource}?{query}",
            {"apikey": org.api_key, "X-Request-ID": request_id()},
        )

    return build


HttpBuilder = Callable[[OrgState, np.random.Generator, list[str]], HttpCall]

# Interactions driven over plain HTTP, and whether they need a user session first. Only
# interactions the target serves are driven; the rest are reported as not exercised.
HTTP_DRIVERS: dict[str, tuple[HttpBuilder, bool]] = {
    "auth.session": (lambda org, _rng, _others: login_call(org), False),
    "sds.device-lookup": (_sds_lookup("Device"), False),
    "sds.endpoint-lookup": (_sds_lookup("Endpoint"), False),
}
# Stand-ins for targets that publish no SDS API: the ODS read is the same kind of directory
# lookup (a small authenticated FHIR read), used only when the SDS path is not served.
STAND_INS: dict[str, tuple[HttpBuilder, bool, str]] = {
    "sds.device-lookup": (_ods_read, True, "/organisation-data/FHIR/R4/Organization/{ods_code}"),
    "sds.endpoint-lookup": (_ods_read, True, "/organisation-data/FHIR/R4/Organization/{ods_code}"),
}
MESH_INTERACTIONS = frozenset({"mesh.poll", "mesh.send", "mesh.download", "mesh.acknowledge"})


def supported(served_paths: set[str] | None) -> dict[str, Drive]:
    """Interactions this driver can exercise on a target, with how (``http``, ``stand-in``
    or ``mesh``).

    Args:
        served_paths: path templates from the target's OpenAPI document, or ``None`` when the
            target publishes none (then every driver is assumed served).
    """
    found: dict[str, Drive] = {}
    by_id: dict[str, Interaction] = {i.id: i for i in CATALOGUE}
    for interaction_id in HTTP_DRIVERS:
        path = by_id[interaction_id].path
        if served_paths is None or path in served_paths:
            found[interaction_id] = Drive.HTTP
    for interaction_id, (_builder, _session, path) in STAND_INS.items():
        if interaction_id not in found and (served_paths is None or path in served_paths):
            found[interaction_id] = Drive.STAND_IN
    for interaction_id in JOURNEYS:
        path = by_id[interaction_id].path
        if served_paths is None or path in served_paths:
            found[interaction_id] = Drive.HTTP
    mesh_served = served_paths is None or any(p.startswith(MESH_BASE + "/") for p in served_paths)
    if mesh_served:
        found.update(dict.fromkeys(MESH_INTERACTIONS, Drive.MESH))
    return found


def needs_session(interaction_id: str, *, stand_in: bool = False) -> bool:
    """Whether an HTTP-driven interaction is user-restricted (every clinical journey is)."""
    return interaction_id in JOURNEYS or http_driver(interaction_id, stand_in=stand_in)[1]


def http_driver(interaction_id: str, *, stand_in: bool = False) -> tuple[HttpBuilder, bool]:
    """The request builder of an HTTP-driven interaction and whether it needs a session.

    ``stand_in`` picks the stand-in request (``supported`` said ``stand-in``: the target does
    not serve the interaction's own path).
    """
    if interaction_id in HTTP_DRIVERS and not stand_in:
        return HTTP_DRIVERS[interaction_id]
    builder, session, _path = STAND_INS[interaction_id]
    return builder, session
