"""SCR request and response bodies as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.server.datatypes import Bundle, Coding


class FhirIn(BaseModel):
    """A FHIR resource sent to SCR: the keys below are read, others are kept as sent."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class DocumentBundle(FhirIn):
    """An SCR: a ``document`` Bundle whose first entry is the Composition; its ``subject``
    names the patient and ``relatesTo[0].targetIdentifier`` the SCR it replaces."""

    resource_type: Literal["Bundle"] = Field(alias="resourceType")
    type: Literal["document"]
    entry: list[dict[str, Any]]


class SetPermission(FhirIn):
    """``nhsNumber`` (valueString or valueIdentifier) and ``permissionCode`` (valueCoding
    ``Yes``, ``No`` or ``Ask``), as parameters or, as published, parts of ``setPermissions``."""

    resource_type: Literal["Parameters"] = Field(alias="resourceType")
    parameter: list[dict[str, Any]]


class AuditEventIn(FhirIn):
    """A privacy alert: ``type.code`` 1 (Create LR (Self Claimed)) or 2 (Emergency access),
    the patient as the agent with an NHS number (as published) or ``entity[0].what.identifier``,
    and the reason as ``subtype`` (as published) or ``purposeOfEvent``."""

    resource_type: Literal["AuditEvent"] = Field(alias="resourceType")
    type: Coding
    agent: list[dict[str, Any]] | None = None
    entity: list[dict[str, Any]] | None = None
    subtype: list[Coding] | None = None
    purpose_of_event: list[dict[str, Any]] | None = Field(default=None, alias="purposeOfEvent")


class AuditEventOut(AuditEventIn):
    """The stored alert."""

    id: str
    recorded: str


class DocumentReferenceBundle(Bundle):
    """A searchset with the patient's latest SCR as a DocumentReference (or nothing)."""


class ScrBundle(Bundle):
    """A searchset holding the SCR document Bundle (empty for a stale UUID)."""
