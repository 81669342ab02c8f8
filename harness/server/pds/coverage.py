"""PDS coverage: the insurance a patient holds (an EHIC, overseas visitor cover).

``POST /Coverage`` records a FHIR ``Coverage`` whose ``beneficiary`` is a PDS patient, named by
NHS number (an ``identifier`` with the NHS number system, or a ``Patient/<nhs>`` reference);
the ``subscriber``, who holds the policy, defaults to the beneficiary. Both must be patients
PDS knows — derived, updated or created — or the request is refused with 404.
``GET /Coverage?subscriber:identifier=<nhs>`` returns every coverage that patient holds,
oldest first, and ``GET /Coverage/{id}`` (where ``Location`` points) one of them.
Coverages are stored whole as created (``pds_coverage``); they are never derived.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select

from harness.server.datatypes import NHS_NUMBER_SYSTEM
from harness.server.domain import BadRequest, NotFound
from harness.server.identity.rbac import require_interaction
from harness.server.pds.create import validation_error
from harness.server.pds.resources import PATIENT_PATH
from harness.server.pds.schemas import Coverage, NewCoverage
from harness.server.pds.service import PdsService
from harness.server.store import Store
from harness.server.store.schema import pds_coverage
from harness.spine.population import valid_nhs_number


def patient_number(reference: dict[str, Any] | None, field: str) -> str:
    """The NHS number a Patient reference names (by identifier, else by ``Patient/<nhs>``).

    Raises:
        BadRequest: ``MISSING_VALUE`` without one, ``INVALID_VALUE`` for a bad number.
    """
    reference = reference or {}
    identifier = reference.get("identifier") or {}
    value = identifier.get("value")
    if value is not None and identifier.get("system") not in (None, NHS_NUMBER_SYSTEM):
        raise BadRequest(
            f"Invalid value - '{identifier.get('system')}' in field '{field}/identifier/system'",
            code="INVALID_VALUE",
        )
    if value is None and reference.get("reference"):
        value = str(reference["reference"]).rstrip("/").rsplit("/", 2)[-1]
        if "Patient/" not in str(reference["reference"]):
            raise BadRequest(
                f"Invalid value - '{reference['reference']}' in field '{field}/reference': "
                "not a Patient",
                code="INVALID_VALUE",
            )
    if value is None:
        raise BadRequest(f"Missing value - '{field}': an NHS number", code="MISSING_VALUE")
    if not valid_nhs_number(str(value)):
        raise BadRequest(
            f"Invalid value - '{value}' in field '{field}': not a valid NHS number",
            code="INVALID_VALUE",
        )
    return str(value)


def subscriber_number(value: str | None) -> str:
    """The NHS number of ``subscriber:identifier`` (``<nhs>`` or ``<system>|<nhs>``).

    Raises:
        BadRequest: ``MISSING_VALUE`` when absent, ``INVALID_VALUE`` when malformed.
    """
    if not value:
        raise BadRequest(
            "Missing value - 'subscriber:identifier' is required", code="MISSING_VALUE"
        )
    system, _, number = value.rpartition("|")
    if system not in ("", NHS_NUMBER_SYSTEM) or not valid_nhs_number(number):
        raise BadRequest(
            f"Invalid value - '{value}' in field 'subscriber:identifier'", code="INVALID_VALUE"
        )
    return number


def _patient_reference(nhs_number: str) -> dict[str, Any]:
    return {
        "type": "Patient",
        "reference": f"{PATIENT_PATH}/{nhs_number}",
        "identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number},
    }


def _check_period(period: dict[str, Any] | None) -> None:
    days = []
    for end in ("start", "end"):
        value = (period or {}).get(end)
        if value is None:
            continue
        try:
            days.append(date.fromisoformat(str(value)[:10]))
        except ValueError:
            raise BadRequest(
                f"Invalid value - '{value}' in field 'period/{end}'", code="INVALID_VALUE"
            ) from None
    if len(days) == 2 and days[0] > days[1]:
        raise BadRequest(
            "Invalid value - 'period': the end is before the start", code="INVALID_VALUE"
        )


class CoverageService:
    """Coverage records of PDS patients, kept in the PDS service's store."""

    def __init__(self, *, pds: PdsService, store: Store, clock: Callable[[], float]) -> None:
        self.pds = pds
        self.store = store
        self.clock = clock

    async def create(self, role: str, body: Any) -> dict[str, Any]:
        """Record a Coverage; returns it as stored (``id``, ``meta.versionId`` "1").

        Raises:
            BadRequest: ``MISSING_VALUE``, ``INVALID_VALUE`` or ``ADDITIONAL_PROPERTIES``.
            NotFound: ``RESOURCE_NOT_FOUND`` — the beneficiary or subscriber is not a patient.
        """
        require_interaction(role, "pds.coverage-create")
        if not isinstance(body, dict):
            raise BadRequest("Invalid value - the body must be a Coverage", code="INVALID_VALUE")
        try:
            fields = NewCoverage.model_validate(body).model_dump(by_alias=True, exclude_none=True)
        except ValidationError as exc:
            raise validation_error(exc) from None
        beneficiary = patient_number(fields.get("beneficiary"), "beneficiary")
        subscriber = beneficiary
        if fields.get("subscriber") is not None:
            subscriber = patient_number(fields["subscriber"], "subscriber")
        _check_period(fields.get("period"))
        for nhs_number in {beneficiary, subscriber}:
            await self.pds.record(nhs_number)  # 404 unless PDS knows the patient
        resource: dict[str, Any] = {
            **fields,
            "resourceType": "Coverage",
            "id": str(uuid.uuid4()),
            "meta": {"versionId": "1"},
            "beneficiary": _patient_reference(beneficiary),
            "subscriber": _patient_reference(subscriber),
        }
        Coverage.model_validate(resource)
        async with self.store.begin() as conn:
            await conn.execute(
                insert(pds_coverage).values(
                    id=resource["id"],
                    subscriber_nhs=subscriber,
                    beneficiary_nhs=beneficiary,
                    resource=json.dumps(resource, separators=(",", ":")),
                    created_at=self.clock(),
                )
            )
        return resource

    async def search(self, role: str, subscriber_identifier: str | None) -> list[dict[str, Any]]:
        """Every Coverage the patient holds, oldest first.

        Raises:
            BadRequest: the parameter is missing or not an NHS number.
            NotFound: ``RESOURCE_NOT_FOUND`` — no such patient.
        """
        require_interaction(role, "pds.coverage-search")
        nhs_number = subscriber_number(subscriber_identifier)
        await self.pds.record(nhs_number)
        async with self.store.connect() as conn:
            rows = await conn.execute(
                select(pds_coverage.c.resource)
                .where(pds_coverage.c.subscriber_nhs == nhs_number)
                .order_by(pds_coverage.c.created_at, pds_coverage.c.id)
            )
            return [json.loads(row.resource) for row in rows]

    async def get(self, role: str, coverage_id: str) -> dict[str, Any]:
        """One Coverage by id.

        Raises:
            NotFound: ``RESOURCE_NOT_FOUND``.
        """
        require_interaction(role, "pds.coverage-search")
        async with self.store.connect() as conn:
            row = (
                await conn.execute(
                    select(pds_coverage.c.resource).where(pds_coverage.c.id == coverage_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"Coverage {coverage_id} not found", code="RESOURCE_NOT_FOUND")
        found: dict[str, Any] = json.loads(row.resource)
        return found
