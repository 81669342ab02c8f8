"""Which API a request path belongs to, and how the platform treats it.

The public API platform gives each national API one path prefix; platform rules (``X-Request-ID``,
OperationOutcome errors, per-application quotas) apply to the FHIR-style APIs, while MESH keeps
its own protocol. Faults and maintenance are set per service.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.spine import Service


@dataclass(frozen=True, slots=True)
class Api:
    """One API prefix and the rules that apply to it."""

    prefix: str
    service: Service
    fhir: bool  # platform rules: X-Request-ID, OperationOutcome, per-application quota


APIS: tuple[Api, ...] = (
    Api("/personal-demographics", Service.PDS, fhir=True),
    Api("/fhir-prescribing", Service.EPS, fhir=True),
    Api("/fhir-dispensing", Service.EPS, fhir=True),
    Api("/summary-care-record", Service.SCR, fhir=True),
    Api("/spine-directory", Service.SDS, fhir=True),
    Api("/organisation-data", Service.SDS, fhir=True),
    Api("/authentication", Service.AUTH, fhir=True),
    Api("/messageexchange", Service.MESH, fhir=False),
)


def api_for(path: str) -> Api | None:
    """The API serving ``path``, or ``None`` for platform endpoints (health, metrics, admin)."""
    for api in APIS:
        if path == api.prefix or path.startswith(api.prefix + "/"):
            return api
    return None
