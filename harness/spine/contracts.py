"""What server, load driver and simulation must agree on, held once.

- **Where the APIs live**: the base path of each API (the reference server mounts its routers
  there, the load driver and the catalogue address requests to them).
- **How each API codes its refusals**: the ``Spine-ErrorOrWarningCode`` system of its
  OperationOutcomes (:func:`error_code_system`), as each API publishes it.
- **How a client retries**: :data:`CLIENT_RETRY`, the policy the load driver's organisations
  follow and the simulation's window model replays — change it here and both follow.
- **Why a request was refused**, when the reason decides how it counts: the reference server
  names it in the :data:`REFUSAL_HEADER` response header (a :class:`Refusal` code), and the load
  driver reads that code, never the error's wording. A service that sends no such header (a real
  Spine environment) has its 429s and 503s counted as what they look like: errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

# ------------------------------------------------------------------------------- API base paths
PDS_BASE = "/personal-demographics/FHIR/R4"
EPS_PRESCRIBING_BASE = "/fhir-prescribing/FHIR/R4"
EPS_DISPENSING_BASE = "/fhir-dispensing/FHIR/R4"
SCR_BASE = "/summary-care-record/FHIR/R4"
SDS_BASE = "/spine-directory/FHIR/R4"
ODS_BASE = "/organisation-data"
AUTH_BASE = "/authentication"
MESH_BASE = "/messageexchange"


def api_root(base: str) -> str:
    """The first path segment of an API's base path (``/personal-demographics``), its mount."""
    return "/" + base.strip("/").split("/", 1)[0]


# ----------------------------------------------------------------- OperationOutcome code systems
# The CodeSystem of Spine-ErrorOrWarningCode, as each API's published OperationOutcomes name it.
# PDS FHIR (its error catalogue and sandbox stubs, NHSDigital/personal-demographics-service-api)
# and, publishing none of their own, SDS, ODS and the platform's endpoints (authentication):
SPINE_ERROR_SYSTEM_R4 = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"
# EPS FHIR, prescribing and dispensing (NHSDigital/electronic-prescription-service-api,
# examples/errors/*-Response-*.json), and SCR FHIR (NHSDigital/summary-care-record-api,
# specification/summary-care-record.yaml, every operation's error examples):
SPINE_ERROR_SYSTEM = "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode"
_ERROR_SYSTEMS = {
    api_root(EPS_PRESCRIBING_BASE): SPINE_ERROR_SYSTEM,
    api_root(EPS_DISPENSING_BASE): SPINE_ERROR_SYSTEM,
    api_root(SCR_BASE): SPINE_ERROR_SYSTEM,
}


def error_code_system(path: str | None) -> str:
    """The Spine-ErrorOrWarningCode system of the API a request path is for (PDS's form for
    an API that publishes none of its own, and when the path is not known)."""
    if path:
        root = api_root(path)
        if root in _ERROR_SYSTEMS:
            return _ERROR_SYSTEMS[root]
    return SPINE_ERROR_SYSTEM_R4


# --------------------------------------------------------------------------------- client retry
@dataclass(frozen=True)
class RetryPolicy:
    """How a client retries one request after a timeout, a failed connection or a busy answer.

    Attributes:
        statuses: HTTP statuses worth retrying (the others are answers).
        backoff_start_s: the first wait; each next one doubles.
        backoff_cap_s: the longest wait, whatever ``Retry-After`` asks.
        max_retries: retries after the first try.
    """

    statuses: frozenset[int]
    backoff_start_s: float
    backoff_cap_s: float
    max_retries: int


# The API platform's guidance for a client with a user present: "start at 200 ms and cap at 3 s"
# (see ../shared/domain/spine.md); three retries keep a person's wait within seconds.
CLIENT_RETRY = RetryPolicy(
    statuses=frozenset({429, 502, 503, 504}),
    backoff_start_s=0.2,
    backoff_cap_s=3.0,
    max_retries=3,
)


# ------------------------------------------------------------------------------ refusal reasons
REFUSAL_HEADER = "X-Harness-Refusal"


class Refusal(StrEnum):
    """A refusal whose reason decides how a load test counts it (see ``harness.slo.outcomes``)."""

    MAINTENANCE = "maintenance"  # 503 in announced, planned maintenance: excluded from the SLI
    GLOBAL_RATE_LIMIT = "global-rate-limit"  # 429 of the national throttle, not a caller's quota


_REFUSAL_STATUS = {Refusal.MAINTENANCE: 503, Refusal.GLOBAL_RATE_LIMIT: 429}


def refusal_of(status: int | None, headers: Mapping[str, str]) -> Refusal | None:
    """The refusal a response names, if its status is that refusal's (else ``None``).

    ``headers`` must answer lower-case names (httpx's headers do; the load driver lower-cases).
    An unknown code is no refusal: the response counts as what its status says.
    """
    code = headers.get(REFUSAL_HEADER.lower())
    if code is None or code not in Refusal.__members__.values():
        return None
    refusal = Refusal(code)
    return refusal if _REFUSAL_STATUS[refusal] == status else None
