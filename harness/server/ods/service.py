"""ODS rules: an organisation of the directory as a FHIR ``Organization``."""

from __future__ import annotations

from typing import Any

from harness.server.domain import BadRequest, NotFound
from harness.spine import Directory
from harness.spine.organisations import CODE_SHAPES

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"


class OdsService:
    """Reads of the organisation directory."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def get_organisation(self, ods_code: str) -> dict[str, Any]:
        """The organisation with ``ods_code`` as a FHIR R4 Organization."""
        code = ods_code.upper()
        if not any(shape.matches(code) for shape in CODE_SHAPES.values()):
            raise BadRequest(f"{ods_code!r} is not a valid ODS code", code="INVALID_RESOURCE_ID")
        if code not in self.directory:
            raise NotFound(f"organisation {code} not found")
        org = self.directory[code]
        return {
            "resourceType": "Organization",
            "id": org.ods_code,
            "identifier": [{"system": ODS_SYSTEM, "value": org.ods_code}],
            "active": True,
            "type": [{"coding": [{"code": str(org.org_type), "display": str(org.org_type)}]}],
            "name": f"{org.org_type} {org.ods_code}",
            "extension": [
                {"url": "https://harness.example/region", "valueString": str(org.region)},
                {"url": "https://harness.example/supplier", "valueString": org.supplier},
                {"url": "https://harness.example/data-centre", "valueString": org.data_centre},
                {"url": "https://harness.example/mesh-mailbox", "valueString": org.mesh_mailbox},
            ],
        }
