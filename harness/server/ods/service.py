"""ODS rules: organisations of the directory as FHIR ``Organization`` resources, and search.

The ODS ORD API finds organisations by code or by primary role (``RO177`` GP practice /
prescribing cost centre and ``RO197`` NHS trust are documented; ``RO182`` for pharmacies is
commonly used but unverified, ``domain/spine.md`` §2.5). Here a search takes either such a
role code or the harness's own organisation type (``gp-practice``, ``community-pharmacy``…)
and pages through the directory in its fixed order.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from harness.server.domain import BadRequest, NotFound
from harness.spine import Directory, Organisation, OrgType
from harness.spine.organisations import CODE_SHAPES

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ROLE_SYSTEM = "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSRoles"
MAX_PAGE = 500
PRIMARY_ROLES: Mapping[str, tuple[OrgType, ...]] = MappingProxyType(
    {
        "RO177": (OrgType.GP_PRACTICE,),
        "RO182": (OrgType.COMMUNITY_PHARMACY,),
        "RO197": (OrgType.TRUST, OrgType.AMBULANCE),
    }
)
_ROLE_OF = {t: role for role, types in PRIMARY_ROLES.items() for t in types}


def organisation_resource(org: Organisation) -> dict[str, Any]:
    """One organisation as a FHIR R4 Organization."""
    coding = [{"code": str(org.org_type), "display": str(org.org_type)}]
    if org.org_type in _ROLE_OF:
        coding.append({"system": ROLE_SYSTEM, "code": _ROLE_OF[org.org_type]})
    return {
        "resourceType": "Organization",
        "id": org.ods_code,
        "identifier": [{"system": ODS_SYSTEM, "value": org.ods_code}],
        "active": True,
        "type": [{"coding": coding}],
        "name": f"{org.org_type} {org.ods_code}",
        "extension": [
            {"url": "https://harness.example/region", "valueString": str(org.region)},
            {"url": "https://harness.example/supplier", "valueString": org.supplier},
            {"url": "https://harness.example/data-centre", "valueString": org.data_centre},
            {"url": "https://harness.example/mesh-mailbox", "valueString": org.mesh_mailbox},
        ],
    }


class OdsService:
    """Reads of the organisation directory."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def get_organisation(self, ods_code: str) -> dict[str, Any]:
        """The organisation with ``ods_code`` as a FHIR R4 Organization."""
        code = ods_code.upper()
        if code in self.directory:  # the published organisations' codes have other shapes
            return organisation_resource(self.directory[code])
        if not any(shape.matches(code) for shape in CODE_SHAPES.values()):
            raise BadRequest(f"{ods_code!r} is not a valid ODS code", code="INVALID_RESOURCE_ID")
        if code not in self.directory:
            raise NotFound(f"organisation {code} not found")
        return organisation_resource(self.directory[code])

    def search(self, org_type: str | None, count: int, offset: int) -> tuple[int, list[Any]]:
        """``(total, page)`` of the organisations of a type or role (all when ``None``)."""
        if not 1 <= count <= MAX_PAGE or offset < 0:
            raise BadRequest(
                f"_count must be 1…{MAX_PAGE} and _offset at least 0", code="INVALID_VALUE"
            )
        if org_type is None:
            matching: tuple[Organisation, ...] = self.directory.organisations
        elif org_type.upper() in PRIMARY_ROLES:
            wanted = PRIMARY_ROLES[org_type.upper()]
            matching = tuple(o for o in self.directory if o.org_type in wanted)
        elif org_type in {str(t) for t in OrgType}:
            matching = self.directory.of_type(OrgType(org_type))
        else:
            known = sorted([*PRIMARY_ROLES, *(str(t) for t in OrgType)])
            raise BadRequest(f"unknown type {org_type!r}; one of {known}", code="INVALID_VALUE")
        page = [organisation_resource(o) for o in matching[offset : offset + count]]
        return len(matching), page
