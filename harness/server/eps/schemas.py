"""EPS request and response bodies as they appear in the OpenAPI document.

Requests are parsed by :mod:`harness.server.eps.messages`, which gives malformed messages the
EPS error codes (``INVALID_MESSAGE``, ``R-5888``); these models describe the same shapes for
clients and tools.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.server.datatypes import Bundle, Identifier, Parameters, Reference


class FhirIn(BaseModel):
    """A FHIR resource sent to EPS: the keys below are read, others are kept as sent."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class MessageBundle(FhirIn):
    """A FHIR message: ``entry[0]`` is a MessageHeader whose ``eventCoding.code`` is
    ``prescription-order``, ``prescription-order-update`` or ``dispense-notification``."""

    resource_type: Literal["Bundle"] = Field(alias="resourceType")
    type: Literal["message"]
    identifier: Identifier | None = None
    entry: list[dict[str, Any]] = Field(
        description="MessageHeader, Patient, MedicationRequest or MedicationDispense resources"
    )


class ReleaseRequest(FhirIn):
    """``owner`` (valueIdentifier, the dispenser's ODS code), ``status`` (``accepted``) and,
    to release one prescription, ``group-identifier``."""

    resource_type: Literal["Parameters"] = Field(alias="resourceType")
    parameter: list[dict[str, Any]]


class DispenseTask(FhirIn):
    """A return (``status: rejected``) or withdraw (``status: in-progress``) of a dispense."""

    resource_type: Literal["Task"] = Field(alias="resourceType")
    status: Literal["rejected", "in-progress"]
    intent: str = "order"
    group_identifier: Identifier = Field(alias="groupIdentifier")


class ClaimRequest(FhirIn):
    """A dispensing reimbursement claim; ``prescription.identifier`` names the prescription."""

    resource_type: Literal["Claim"] = Field(alias="resourceType")
    prescription: Reference


class TaskBundle(Bundle):
    """The tracker's answer: one Task per issue, Spine status in ``businessStatus``."""


class ReleaseResponse(Parameters):
    """``passedPrescriptions`` and ``failedPrescriptions`` Bundles."""
