"""FHIR R4 data types shared by the national services' request and response schemas.

FHIR resources are JSON documents with camelCase keys; these pydantic models describe the
parts the reference server reads and writes, so that the published OpenAPI document shows
real shapes and so that a patched or uploaded resource can be checked before it is stored.
They are deliberately partial (FHIR has hundreds of elements); unknown keys are refused where
a service stores what it receives, and allowed where it only reads a few fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.spine.contracts import SPINE_ERROR_SYSTEM

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


class Element(BaseModel):
    """A FHIR element: camelCase on the wire, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Coding(Element):
    """A code from a code system."""

    system: str | None = None
    version: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(Element):
    """Codings and a text."""

    coding: list[Coding] = Field(default_factory=list)
    text: str | None = None


class Period(Element):
    """A start and an end date or time."""

    start: str | None = None
    end: str | None = None


class Identifier(Element):
    """A business identifier: a system and a value (and, as FHIR allows, who assigned it)."""

    use: Literal["usual", "official", "temp", "secondary", "old"] | None = None
    system: str | None = None
    value: str | None = None
    period: Period | None = None
    assigner: Reference | None = None  # e.g. the EHIC's issuing country (PDS POST Coverage)
    extension: list[Extension] | None = None


class Reference(Element):
    """A reference by literal URL or by identifier."""

    id: str | None = None
    reference: str | None = None
    type: str | None = None
    identifier: Identifier | None = None
    display: str | None = None
    extension: list[Extension] | None = None


class Extension(Element):
    """An extension (the value types used by the NHS profiles served here)."""

    url: str
    value_reference: Reference | None = Field(None, alias="valueReference")
    value_string: str | None = Field(None, alias="valueString")
    value_code: str | None = Field(None, alias="valueCode")
    value_coding: Coding | None = Field(None, alias="valueCoding")
    # e.g. PDS's registering-authority type (published POST Patient body)
    value_codeable_concept: CodeableConcept | None = Field(None, alias="valueCodeableConcept")
    value_identifier: Identifier | None = Field(None, alias="valueIdentifier")
    value_boolean: bool | None = Field(None, alias="valueBoolean")
    value_date_time: str | None = Field(None, alias="valueDateTime")
    extension: list[Extension] | None = None


class Meta(Element):
    """Version and security labels."""

    version_id: str | None = Field(None, alias="versionId")
    last_updated: str | None = Field(None, alias="lastUpdated")
    profile: list[str] | None = None
    security: list[Coding] | None = None


class IssueDetails(Element):
    """Spine-ErrorOrWarningCode codings of an issue."""

    coding: list[Coding]


class Issue(Element):
    """One issue of an OperationOutcome."""

    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    details: IssueDetails | None = None
    diagnostics: str | None = None
    expression: list[str] | None = None


class OperationOutcome(Element):
    """The outcome of an operation: errors, and informational answers such as
    ``TOO_MANY_MATCHES`` or ``NO_MORE_PRESCRIPTIONS``."""

    resource_type: Literal["OperationOutcome"] = Field(alias="resourceType")
    id: str | None = None
    meta: Meta | None = None
    issue: list[Issue]


class BundleSearch(Element):
    """Why an entry is in a search result."""

    mode: Literal["match", "include", "outcome"] | None = None
    score: float | None = None


class BundleEntry(Element):
    """One entry of a Bundle; the resource's shape depends on the Bundle."""

    full_url: str | None = Field(None, alias="fullUrl")
    search: BundleSearch | None = None
    resource: dict[str, Any]


class Bundle(Element):
    """A collection of resources (search results, messages, documents)."""

    resource_type: Literal["Bundle"] = Field(alias="resourceType")
    id: str | None = None
    meta: Meta | None = None
    identifier: Identifier | None = None
    type: str
    timestamp: str | None = None
    total: int | None = None
    link: list[dict[str, str]] | None = None
    entry: list[BundleEntry] = Field(default_factory=list)


class ParametersParameter(Element):
    """One named parameter."""

    name: str
    value_string: str | None = Field(None, alias="valueString")
    value_code: str | None = Field(None, alias="valueCode")
    value_identifier: Identifier | None = Field(None, alias="valueIdentifier")
    value_coding: Coding | None = Field(None, alias="valueCoding")
    # e.g. PDS's registering-authority type (published POST Patient body)
    value_codeable_concept: CodeableConcept | None = Field(None, alias="valueCodeableConcept")
    resource: dict[str, Any] | None = None


class Parameters(Element):
    """Operation parameters (``$release``, ``$setPermission``, ``$prepare`` responses)."""

    resource_type: Literal["Parameters"] = Field(alias="resourceType")
    id: str | None = None
    parameter: list[ParametersParameter]


def ods_reference(ods_code: str, *, type_: str = "Organization") -> dict[str, Any]:
    """A FHIR Reference to an organisation by its ODS code."""
    return {"type": type_, "identifier": {"system": ODS_SYSTEM, "value": ods_code}}


def identifier_value(identifier: dict[str, Any] | str | None) -> str | None:
    """The value of ``system|value`` or of an Identifier object (``None`` when absent)."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return identifier.rpartition("|")[2] or None
    if not isinstance(identifier, dict):  # client JSON can put anything here
        return None
    value = identifier.get("value")
    return str(value) if value is not None else None


def informational(diagnostics: str, code: str | None = None) -> dict[str, Any]:
    """A successful answer as an informational OperationOutcome (as EPS sends)."""
    issue: dict[str, Any] = {"severity": "information", "code": "informational"}
    if code is not None:
        issue["details"] = {
            "coding": [
                {
                    "system": SPINE_ERROR_SYSTEM,  # EPS's, as EPS publishes it
                    "code": code,
                    "display": diagnostics,
                }
            ]
        }
    issue["diagnostics"] = diagnostics
    return {"resourceType": "OperationOutcome", "issue": [issue]}


for _model in (Identifier, Reference, Extension):
    _model.model_rebuild()


class AnyResource(BaseModel):
    """Any FHIR resource: what a polled asynchronous request finished with (its own response)."""

    model_config = ConfigDict(extra="allow")

    resource_type: str = Field(alias="resourceType")
