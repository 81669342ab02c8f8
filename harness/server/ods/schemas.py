"""ODS response bodies as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from harness.server.datatypes import CodeableConcept, Element, Extension, Identifier


class Organization(Element):
    """An organisation of the directory (FHIR R4 Organization)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    resource_type: Literal["Organization"] = Field(alias="resourceType")
    id: str
    identifier: list[Identifier]
    active: bool
    type: list[CodeableConcept]
    name: str
    extension: list[Extension] = Field(default_factory=list)
