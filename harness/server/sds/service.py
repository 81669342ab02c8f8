"""SDS rules: accredited systems (Devices) and message-handling endpoints for the directory.

The Spine Directory Service answers "which system at organisation X handles interaction Y,
and where do I send it?". Every organisation of the directory runs one accredited clinical
system — its ASID is the one :mod:`harness.server.identity.service` derives, its party key is
``<ODS>-<7 digits>`` — accredited for the catalogue interactions its organisation type uses
(:data:`harness.spine.catalogue.USAGE`). An Endpoint lookup returns the national service's
address for the interaction: all of them are reached through the Spine (the reference server).

Service interaction ids follow SDS's ``urn:nhs:names:services:…`` style. Only the SCR's
``QUPC_IN190000UK04`` is documented (``domain/spine.md`` §2.4); the others are assumptions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from harness.server.datatypes import ODS_SYSTEM, identifier_value, ods_reference
from harness.server.domain import BadRequest
from harness.spine import CATALOGUE, Directory, Interaction, Organisation
from harness.spine.catalogue import SERVICE_INTERACTIONS as SERVICE_INTERACTIONS
from harness.spine.catalogue import users_of
from harness.spine.credentials import asid_for

ASID_SYSTEM = "https://fhir.nhs.uk/Id/nhsSpineASID"
PARTY_KEY_SYSTEM = "https://fhir.nhs.uk/Id/nhsMhsPartyKey"
INTERACTION_SYSTEM = "https://fhir.nhs.uk/Id/nhsServiceInteractionId"
SPINE_ODS = "X26"  # NHS England, which runs the Spine

_BY_SERVICE_ID: Mapping[str, Interaction] = MappingProxyType(
    {SERVICE_INTERACTIONS[i.id]: i for i in CATALOGUE}
)


def party_key(ods_code: str) -> str:
    """The MHS party key of an organisation's system (``A81001-0123456``)."""
    digest = hashlib.sha256(f"party:{ods_code}".encode()).digest()
    return f"{ods_code}-{int.from_bytes(digest[:4], 'big') % 10**7:07d}"


@dataclass(frozen=True, slots=True)
class Lookup:
    """A Device or Endpoint query: the organisation, interaction and optional filters."""

    ods_code: str | None
    interaction: Interaction | None
    party_key: str | None = None
    manufacturer: str | None = None


def _system_value(value: str, system: str, what: str) -> str:
    # The system is everything before the first bar: SDS's own tests send
    # "…/ods-organization-code|YES|123456" and expect an (empty) answer, not a refusal.
    given_system, bar, code = value.partition("|")
    if not bar or given_system != system or not code:
        raise BadRequest(f"{what} must be '{system}|<value>', not {value!r}", code="BAD_REQUEST")
    return code


def parse_lookup(
    organization: str | None,
    identifiers: list[str],
    manufacturer: str | None = None,
    *,
    endpoint: bool = False,
) -> Lookup | None:
    """Validate SDS query parameters; ``None`` for a well-formed query that can match nothing
    (a service interaction SDS has no system for).

    A Device lookup needs the organisation and the service interaction; an Endpoint lookup
    any two of organisation, service interaction and party key (the combinations the SDS
    specification lists).

    Raises:
        BadRequest: ``BAD_REQUEST`` (SDS's code) for a missing or malformed parameter.
    """
    ods_code = _system_value(organization, ODS_SYSTEM, "organization") if organization else None
    interaction_ids = [i for i in identifiers if i.startswith(INTERACTION_SYSTEM + "|")]
    keys = [i for i in identifiers if i.startswith(PARTY_KEY_SYSTEM + "|")]
    if (
        len(interaction_ids) > 1
        or len(keys) > 1
        or len(interaction_ids) + len(keys) != len(identifiers)
    ):
        raise BadRequest(
            f"identifier must be {INTERACTION_SYSTEM}|<interaction> and optionally "
            f"{PARTY_KEY_SYSTEM}|<key>",
            code="BAD_REQUEST",
        )
    given = (ods_code is not None) + bool(interaction_ids) + bool(keys)
    enough = given >= 2 if endpoint else ods_code is not None and bool(interaction_ids)
    if not enough:
        needed = (
            "two of organization, the service interaction and the party key"
            if endpoint
            else "organization and identifier"
        )
        raise BadRequest(
            f"Missing or invalid query parameters: give {needed}",
            code="BAD_REQUEST",
        )
    interaction = None
    if interaction_ids:
        interaction = _BY_SERVICE_ID.get(interaction_ids[0].split("|", 1)[1])
        if interaction is None:
            return None  # SDS answers an empty Bundle: no system is accredited for it
    return Lookup(
        ods_code=ods_code.upper() if ods_code else None,
        interaction=interaction,
        party_key=keys[0].split("|", 1)[1] if keys else None,
        manufacturer=identifier_value(manufacturer) if manufacturer else None,
    )


class SdsService:
    """Devices and endpoints of every organisation of one directory."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def _system(self, lookup: Lookup) -> Organisation | None:
        # Without an organisation, the party key names it (``<ODS>-<7 digits>``).
        ods_code = lookup.ods_code or (lookup.party_key or "").rsplit("-", 1)[0].upper()
        if ods_code not in self.directory:
            return None
        org = self.directory[ods_code]
        if lookup.interaction is not None and org.org_type not in users_of(lookup.interaction.id):
            return None
        if lookup.party_key is not None and lookup.party_key != party_key(org.ods_code):
            return None
        if lookup.manufacturer is not None and lookup.manufacturer.lower() != org.supplier:
            return None
        return org

    def devices(self, lookup: Lookup) -> list[dict[str, Any]]:
        """The accredited systems matching a query (none or one)."""
        org = self._system(lookup)
        if org is None:
            return []
        asid = asid_for(org.ods_code)
        interactions = [
            {"system": INTERACTION_SYSTEM, "value": SERVICE_INTERACTIONS[i.id]}
            for i in CATALOGUE
            if org.org_type in users_of(i.id)
        ]
        return [
            {
                "resourceType": "Device",
                "id": asid,
                "identifier": [
                    {"system": ASID_SYSTEM, "value": asid},
                    {"system": PARTY_KEY_SYSTEM, "value": party_key(org.ods_code)},
                    *interactions,
                ],
                "manufacturer": org.supplier,
                "deviceName": [
                    {"name": f"{org.supplier} clinical system", "type": "user-friendly-name"}
                ],
                "owner": ods_reference(org.ods_code),
            }
        ]

    def endpoints(self, lookup: Lookup, base_url: str) -> list[dict[str, Any]]:
        """Where the organisation's system sends the interaction: the national service."""
        org = self._system(lookup)
        if org is None:
            return []
        key = party_key(org.ods_code)
        wanted = (
            [lookup.interaction]
            if lookup.interaction is not None
            else [i for i in CATALOGUE if org.org_type in users_of(i.id)]
        )
        return [self._endpoint(key, interaction, base_url) for interaction in wanted]

    @staticmethod
    def _endpoint(key: str, interaction: Interaction, base_url: str) -> dict[str, Any]:
        path = interaction.path.split("{", 1)[0].rstrip("/")
        return {
            "resourceType": "Endpoint",
            "id": f"{key}-{interaction.id.replace('.', '-')}",
            "status": "active",
            "connectionType": {
                "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                "code": "hl7-fhir-rest",
            },
            "payloadType": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type",
                            "code": "any",
                        }
                    ]
                }
            ],
            "identifier": [
                {"system": PARTY_KEY_SYSTEM, "value": key},
                {"system": INTERACTION_SYSTEM, "value": SERVICE_INTERACTIONS[interaction.id]},
            ],
            "managingOrganization": ods_reference(SPINE_ODS),
            "address": f"{base_url.rstrip('/')}{path}",
        }
