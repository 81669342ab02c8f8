"""PDS request and response bodies: Patient, RelatedPerson, Coverage and JSON Patch.

:class:`Patient` is also the check a patched record must pass before it is stored: a patch
that leaves a name without a family, a gender outside the FHIR value set or a malformed birth
date is refused as ``INVALID_UPDATE`` instead of being saved.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness.server.datatypes import (
    Bundle,
    CodeableConcept,
    Element,
    Extension,
    Identifier,
    Meta,
    Period,
    Reference,
)

DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class HumanName(Element):
    """A patient's name."""

    id: str | None = None
    use: Literal["usual", "official", "temp", "nickname", "anonymous", "old", "maiden"] = "usual"
    period: Period | None = None
    prefix: list[str] | None = None
    given: list[str] = Field(default_factory=list)
    family: str = Field(min_length=1, max_length=35)
    suffix: list[str] | None = None


class Address(Element):
    """A postal address (PDS puts every part in ``line``)."""

    id: str | None = None
    use: Literal["home", "work", "temp", "old", "billing"] = "home"
    period: Period | None = None
    line: list[str] = Field(default_factory=list, max_length=5)
    city: str | None = None
    district: str | None = None
    postal_code: str | None = Field(None, alias="postalCode", max_length=10)
    extension: list[Extension] | None = None


class ContactPoint(Element):
    """A phone number or an email address."""

    id: str | None = None
    system: Literal["phone", "fax", "email", "pager", "url", "sms", "other"]
    value: str = Field(min_length=1, max_length=90)
    use: Literal["home", "work", "temp", "old", "mobile"] | None = None
    period: Period | None = None


class Patient(Element):
    """A PDS patient record."""

    resource_type: Literal["Patient"] = Field(alias="resourceType")
    id: str = Field(pattern=r"^[0-9]{10}$")
    meta: Meta
    identifier: list[Identifier] = Field(min_length=1)
    name: list[HumanName] = Field(min_length=1)
    gender: Literal["male", "female", "other", "unknown"]
    birth_date: str = Field(alias="birthDate", pattern=DATE_PATTERN)
    deceased_date_time: str | None = Field(None, alias="deceasedDateTime")
    multiple_birth_integer: int | None = Field(None, alias="multipleBirthInteger", ge=1, le=9)
    address: list[Address] | None = None
    telecom: list[ContactPoint] | None = None
    general_practitioner: list[Reference] | None = Field(None, alias="generalPractitioner")
    extension: list[Extension] | None = None


class NewPatient(Element):
    """The body of ``POST /Patient`` (a birth or new registration): PDS allocates the NHS
    number, so ``id``, ``identifier`` and ``meta`` are refused, as is any other unknown key."""

    resource_type: Literal["Patient"] | None = Field(None, alias="resourceType")
    name: list[HumanName] = Field(min_length=1)
    gender: Literal["male", "female", "other", "unknown"]
    birth_date: str = Field(alias="birthDate", pattern=DATE_PATTERN)
    multiple_birth_integer: int | None = Field(None, alias="multipleBirthInteger", ge=1, le=9)
    address: list[Address] = Field(min_length=1)
    telecom: list[ContactPoint] | None = None
    general_practitioner: list[Reference] | None = Field(
        None, alias="generalPractitioner", max_length=1
    )
    extension: list[Extension] | None = None


class RelatedPerson(Element):
    """Someone related to a patient (mother, next of kin); ``patient`` is the subject."""

    resource_type: Literal["RelatedPerson"] = Field(alias="resourceType")
    id: str
    identifier: list[Identifier] | None = None
    patient: Reference
    relationship: list[CodeableConcept]
    active: bool = True


class NewCoverage(Element):
    """The body of ``POST /Coverage``: a patient's insurance (an EHIC, overseas visitor cover).

    ``beneficiary`` names the patient by NHS number (``identifier``) or by ``Patient/<nhs>``;
    ``subscriber`` (the policy holder) defaults to the beneficiary.
    """

    resource_type: Literal["Coverage"] = Field(alias="resourceType")
    identifier: list[Identifier] | None = None
    status: Literal["active", "cancelled", "draft", "entered-in-error"]
    type: CodeableConcept | None = None
    subscriber: Reference | None = None
    subscriber_id: str | None = Field(None, alias="subscriberId", max_length=64)
    beneficiary: Reference
    dependent: str | None = None
    relationship: CodeableConcept | None = None
    period: Period | None = None
    payor: list[Reference] = Field(min_length=1)


class Coverage(NewCoverage):
    """A stored Coverage: the server assigns ``id`` and ``meta.versionId``."""

    id: str
    meta: Meta


class CoverageBundle(Bundle):
    """A searchset of Coverages (``entry[].resource`` is a :class:`Coverage`)."""


class PatientBundle(Bundle):
    """A searchset of Patients (``entry[].resource`` is a :class:`Patient`)."""


class RelatedPersonBundle(Bundle):
    """A searchset of RelatedPersons."""


class PatchOperation(Element):
    """One RFC 6902 operation; PDS accepts ``add``, ``replace``, ``remove`` and ``test``."""

    op: Literal["add", "replace", "remove", "test"]
    path: str = Field(pattern=r"^/")
    value: Any = None


class PatchRequest(Element):
    """PDS also accepts the operations wrapped as ``{"patches": [...]}``."""

    patches: list[PatchOperation] = Field(min_length=1, max_length=100)


JSON_PATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json-patch+json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": PatchOperation.model_json_schema()},
                        {
                            "type": "object",
                            "properties": {
                                "patches": {
                                    "type": "array",
                                    "items": PatchOperation.model_json_schema(),
                                }
                            },
                            "required": ["patches"],
                        },
                    ]
                }
            }
        },
    }
}
