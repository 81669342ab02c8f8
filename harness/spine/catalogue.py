"""The service catalogue: what organisations ask of the Spine, and how much.

The Spine is a set of national services — demographics (PDS), prescriptions (EPS), summary care
records (SCR), the directory (SDS/ODS), secure messaging (MESH) and authentication — each with a
handful of *interactions* (retrieve a patient, release prescriptions, poll a mailbox…). An
interaction knows its HTTP method and reference path on the public API platform, whether it
changes state (and so must be de-duplicated on retry), its latency objective, and how its
traffic is spread over the day (:class:`Pattern`).

:data:`USAGE` says which organisation types use which interactions and how many messages each
pair carries in the reference month of 2014. The per-service totals follow ``domain/spine.md``
§3.2: ~16 M prescriptions a month at ~4.5 EPS messages each, PDS traces dominating, 2,700 SCR
views a day, a MESH polling floor of one inbox check per mailbox every five minutes. The table
is a set of *relative* weights: :class:`~harness.spine.traffic.TrafficProfile` scales it so the
month carries exactly the documented total.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from harness.spine.contracts import (
    EPS_DISPENSING_BASE,
    EPS_PRESCRIBING_BASE,
    MESH_BASE,
    PDS_BASE,
    SCR_BASE,
    SDS_BASE,
)
from harness.spine.organisations import OrgType, type_counts

AVAILABILITY_TARGET = 0.9997  # 99.97 % average availability, 2014 (HSCIC)
DEFAULT_LATENCY_SLO_S = 0.5  # "all our APIs respond in under 0.5 seconds for 95% of the time"
DEFAULT_LATENCY_PERCENTILE = 0.95
PDS_UPDATE_SLO_S = 10.0  # "99.99% of all updates complete in under 10 seconds"
MESH_POLL_INTERVAL_S = 300.0  # one inbox check per mailbox every 5 minutes (spine.md §3.2)
REFERENCE_MONTH_S = 30 * 86_400  # the 30-day reference month, seconds


class Service(StrEnum):
    """The national services of the catalogue."""

    PDS = "pds"
    EPS = "eps"
    SCR = "scr"
    SDS = "sds"
    MESH = "mesh"
    AUTH = "auth"


class Pattern(StrEnum):
    """How an interaction's traffic is spread over time.

    ``clinical`` follows the working hours of the organisation type that sends it; ``polling``
    is a flat 24/7 floor; ``batch`` mixes working hours with an overnight batch window.
    """

    CLINICAL = "clinical"
    POLLING = "polling"
    BATCH = "batch"


@dataclass(frozen=True, slots=True)
class Interaction:
    """One kind of request to one national service.

    Attributes:
        id: ``service.name``, e.g. ``pds.retrieve``.
        service: the national service.
        method: HTTP method on the reference API.
        path: reference path template on the public API platform.
        state_changing: retries must be de-duplicated (``X-Request-ID`` / message id).
        pattern: how its traffic spreads over time.
        batch_fraction: with ``Pattern.BATCH``, the share sent in the overnight window.
        latency_slo_s: latency objective in seconds at ``latency_percentile``.
        latency_percentile: the fraction of requests that must meet ``latency_slo_s``.
    """

    id: str
    service: Service
    method: str
    path: str
    state_changing: bool = False
    pattern: Pattern = Pattern.CLINICAL
    batch_fraction: float = 0.0
    latency_slo_s: float = DEFAULT_LATENCY_SLO_S
    latency_percentile: float = DEFAULT_LATENCY_PERCENTILE

    @property
    def name(self) -> str:
        """The part of the id after the service, e.g. ``retrieve``."""
        return self.id.split(".", 1)[1]


_PDS = PDS_BASE
_EPS_P = EPS_PRESCRIBING_BASE
_EPS_D = EPS_DISPENSING_BASE
_SCR = SCR_BASE
_SDS = SDS_BASE
_MESH = MESH_BASE + "/{mailbox_id}"
_P, _G, _PUT = "POST", "GET", "PUT"

CATALOGUE: tuple[Interaction, ...] = (
    Interaction("pds.retrieve", Service.PDS, _G, f"{_PDS}/Patient/{{nhs_number}}"),
    Interaction("pds.search", Service.PDS, _G, f"{_PDS}/Patient"),
    Interaction(
        "pds.update",
        Service.PDS,
        "PATCH",
        f"{_PDS}/Patient/{{nhs_number}}",
        state_changing=True,
        latency_slo_s=PDS_UPDATE_SLO_S,
        latency_percentile=0.9999,
    ),
    Interaction("eps.prepare", Service.EPS, _P, f"{_EPS_P}/$prepare"),
    Interaction("eps.create", Service.EPS, _P, f"{_EPS_P}/$process-message", state_changing=True),
    Interaction("eps.cancel", Service.EPS, _P, f"{_EPS_P}/$process-message", state_changing=True),
    # Nominated-download batch jobs run in the background (spine.md §3.3).
    Interaction(
        "eps.release",
        Service.EPS,
        _P,
        f"{_EPS_D}/Task/$release",
        state_changing=True,
        pattern=Pattern.BATCH,
        batch_fraction=0.2,
    ),
    Interaction(
        "eps.dispense-notification",
        Service.EPS,
        _P,
        f"{_EPS_D}/$process-message",
        state_changing=True,
    ),
    Interaction("eps.claim", Service.EPS, _P, f"{_EPS_D}/Claim", state_changing=True),
    Interaction("eps.return", Service.EPS, _P, f"{_EPS_D}/Task", state_changing=True),
    Interaction("eps.withdraw", Service.EPS, _P, f"{_EPS_D}/Task", state_changing=True),
    Interaction("scr.view", Service.SCR, _G, f"{_SCR}/DocumentReference"),
    Interaction("scr.upload", Service.SCR, _P, f"{_SCR}/Bundle", state_changing=True),
    Interaction("sds.endpoint-lookup", Service.SDS, _G, f"{_SDS}/Endpoint"),
    Interaction("sds.device-lookup", Service.SDS, _G, f"{_SDS}/Device"),
    Interaction("auth.session", Service.AUTH, _P, "/authentication/session", state_changing=True),
    Interaction("mesh.poll", Service.MESH, _G, f"{_MESH}/inbox", pattern=Pattern.POLLING),
    # Pathology, capitation and similar files travel overnight (spine.md §3.3, assumption).
    Interaction(
        "mesh.send",
        Service.MESH,
        _P,
        f"{_MESH}/outbox",
        state_changing=True,
        pattern=Pattern.BATCH,
        batch_fraction=0.5,
    ),
    Interaction(
        "mesh.download",
        Service.MESH,
        _G,
        f"{_MESH}/inbox/{{message_id}}",
        pattern=Pattern.BATCH,
        batch_fraction=0.3,
    ),
    Interaction(
        "mesh.acknowledge",
        Service.MESH,
        _PUT,
        f"{_MESH}/inbox/{{message_id}}/status/acknowledged",
        state_changing=True,
        pattern=Pattern.BATCH,
        batch_fraction=0.3,
    ),
)

_BY_ID: Mapping[str, Interaction] = MappingProxyType({i.id: i for i in CATALOGUE})


def interaction(interaction_id: str) -> Interaction:
    """Look an interaction up by id; ``KeyError`` lists the valid ids."""
    try:
        return _BY_ID[interaction_id]
    except KeyError:
        raise KeyError(f"unknown interaction {interaction_id!r}; known: {sorted(_BY_ID)}") from None


def _mesh_polls_per_month(org_type: OrgType) -> float:
    """Inbox checks a month for every mailbox of a type, at the 2014 reference counts."""
    return type_counts(20_000)[org_type] * REFERENCE_MONTH_S / MESH_POLL_INTERVAL_S / 1e6


_GP, _PH, _TR = OrgType.GP_PRACTICE, OrgType.COMMUNITY_PHARMACY, OrgType.TRUST
_AM, _UC, _DE = OrgType.AMBULANCE, OrgType.URGENT_CARE, OrgType.DENTAL
_OP, _CO = OrgType.OPTICAL, OrgType.COMMUNITY
# Community pharmacies did not use MESH in 2014 (EPS carried their traffic; assumption).
_MESH_USERS = (_GP, _TR, _AM, _UC, _CO)

# Messages in the 2014 reference month, millions, by (interaction, organisation type). Relative
# weights (assumptions anchored on spine.md §3.2; only the totals per service are grounded).
USAGE: Mapping[str, Mapping[OrgType, float]] = MappingProxyType(
    {
        # PDS: nearly every clinical workflow starts with a trace, so PDS dominates.
        "pds.retrieve": {_GP: 60, _PH: 25, _TR: 45, _AM: 2, _UC: 6, _DE: 1, _OP: 0.5, _CO: 5},
        "pds.search": {_GP: 8, _PH: 6, _TR: 18, _AM: 2, _UC: 4, _DE: 0.5, _OP: 0.3, _CO: 2},
        "pds.update": {_GP: 6, _TR: 2, _CO: 0.3},
        # EPS: 16 M prescriptions a month (2014), ~4.5 messages each.
        "eps.prepare": {_GP: 16},
        "eps.create": {_GP: 16},
        "eps.cancel": {_GP: 0.3},
        "eps.release": {_PH: 4},  # nominated batches of up to 25 plus releases by id
        "eps.dispense-notification": {_PH: 19},  # ~1.2 per prescription
        "eps.claim": {_PH: 16},
        "eps.return": {_PH: 0.3},
        "eps.withdraw": {_PH: 0.2},
        # SCR: 2,700 views a day in 2014; uploads follow GP record changes.
        "scr.view": {_TR: 0.05, _UC: 0.02, _AM: 0.005, _PH: 0.006},
        "scr.upload": {_GP: 3},
        "sds.endpoint-lookup": {_GP: 4, _PH: 4, _TR: 3, _UC: 0.5, _AM: 0.2, _CO: 0.3},
        "sds.device-lookup": {_GP: 2, _PH: 2, _TR: 2},
        # >220,000 smartcard users a day, ~1.5 sessions each.
        "auth.session": {_GP: 3.5, _PH: 3.5, _TR: 2.5, _UC: 0.3, _AM: 0.1, _CO: 0.1},
        "mesh.poll": {t: _mesh_polls_per_month(t) for t in _MESH_USERS},
        # MESH files: 17 M a month in 2019; ~8 M assumed for 2014.
        "mesh.send": {_GP: 3, _TR: 4, _UC: 0.5, _AM: 0.2, _CO: 0.3},
        "mesh.download": {_GP: 5, _TR: 2.5, _UC: 0.2, _AM: 0.1, _CO: 0.2},
        "mesh.acknowledge": {_GP: 5, _TR: 2.5, _UC: 0.2, _AM: 0.1, _CO: 0.2},
    }
)


def streams() -> tuple[tuple[OrgType, Interaction, float], ...]:
    """Every (organisation type, interaction, reference-month weight) with a non-zero weight."""
    return tuple(
        (org_type, inter, USAGE[inter.id][org_type])
        for inter in CATALOGUE
        for org_type in OrgType
        if USAGE.get(inter.id, {}).get(org_type, 0.0) > 0.0
    )


def users_of(interaction_id: str) -> tuple[OrgType, ...]:
    """The organisation types that send an interaction."""
    return tuple(t for t in OrgType if USAGE.get(interaction_id, {}).get(t, 0.0) > 0.0)


# SDS service-interaction ids (``urn:nhs:names:services:…`` style) of every interaction: what
# a directory lookup names (``identifier=https://fhir.nhs.uk/Id/nhsServiceInteractionId|<id>``).
SERVICE_INTERACTIONS: Mapping[str, str] = MappingProxyType(
    {
        "pds.retrieve": "urn:nhs:names:services:pdsquery:QUPA_IN040000UK32",
        "pds.search": "urn:nhs:names:services:pdsquery:QUPA_IN000006UK02",
        "pds.update": "urn:nhs:names:services:pds:PRPA_IN000203UK03",
        "eps.prepare": "urn:nhs:names:services:mm:PORX_IN020101SM31-prepare",
        "eps.create": "urn:nhs:names:services:mm:PORX_IN020101SM31",
        "eps.cancel": "urn:nhs:names:services:mm:PORX_IN030101SM32",
        "eps.release": "urn:nhs:names:services:mm:PORX_IN060102SM30",
        "eps.dispense-notification": "urn:nhs:names:services:mm:PORX_IN080101SM31",
        "eps.claim": "urn:nhs:names:services:mm:PORX_IN090101SM31",
        "eps.return": "urn:nhs:names:services:mm:PORX_IN100101SM31",
        "eps.withdraw": "urn:nhs:names:services:mm:PORX_IN110101SM31",
        "scr.view": "urn:nhs:names:services:psisquery:QUPC_IN190000UK04",
        "scr.upload": "urn:nhs:names:services:psis:REPC_IN150016UK05",
        "sds.endpoint-lookup": "urn:nhs:names:services:sds:endpoint-lookup",
        "sds.device-lookup": "urn:nhs:names:services:sds:device-lookup",
        "auth.session": "urn:nhs:names:services:cis:session",
        "mesh.poll": "urn:nhs:names:services:mesh:inbox",
        "mesh.send": "urn:nhs:names:services:mesh:outbox",
        "mesh.download": "urn:nhs:names:services:mesh:download",
        "mesh.acknowledge": "urn:nhs:names:services:mesh:acknowledge",
    }
)
