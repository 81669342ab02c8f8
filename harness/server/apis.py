"""Which API a request path belongs to, and how the platform treats it.

The public API platform gives each national API one path prefix; platform rules (``X-Request-ID``,
OperationOutcome errors, per-application quotas) apply to the FHIR-style APIs, while MESH keeps
its own protocol. Faults and maintenance are set per service.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.spine import Service
from harness.spine.contracts import (
    AUTH_BASE,
    EPS_DISPENSING_BASE,
    EPS_PRESCRIBING_BASE,
    MESH_BASE,
    ODS_BASE,
    PDS_BASE,
    SCR_BASE,
    SDS_BASE,
    api_root,
)


@dataclass(frozen=True, slots=True)
class Api:
    """One API prefix and the rules that apply to it."""

    prefix: str
    service: Service
    fhir: bool  # platform rules: X-Request-ID, OperationOutcome, per-application quota


APIS: tuple[Api, ...] = (
    Api(api_root(PDS_BASE), Service.PDS, fhir=True),
    Api(api_root(EPS_PRESCRIBING_BASE), Service.EPS, fhir=True),
    Api(api_root(EPS_DISPENSING_BASE), Service.EPS, fhir=True),
    Api(api_root(SCR_BASE), Service.SCR, fhir=True),
    Api(api_root(SDS_BASE), Service.SDS, fhir=True),
    Api(ODS_BASE, Service.SDS, fhir=True),
    Api(AUTH_BASE, Service.AUTH, fhir=True),
    Api(MESH_BASE, Service.MESH, fhir=False),
)


def api_for(path: str) -> Api | None:
    """The API serving ``path``, or ``None`` for platform endpoints (health, metrics, admin)."""
    for api in APIS:
        if path == api.prefix or path.startswith(api.prefix + "/"):
            return api
    return None
