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
import re
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select

from harness.server.datatypes import NHS_NUMBER_SYSTEM
from harness.server.domain import BadRequest, Conflict, NotFound, PreconditionFailed
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


def check_coverage_parameters(names: list[str]) -> None:
    """Refuse a Coverage search with any parameter but ``subscriber:identifier``.

    Raises:
        BadRequest: ``INVALID_SEARCH_DATA``, worded as PDS words it.
    """
    if any(name != "subscriber:identifier" for name in names):
        raise BadRequest(
            "Invalid search data provided - 'Coverage search request must follow the format "
            "/Coverage?subscriber:identifier=NHS_NUMBER'",
            code="INVALID_SEARCH_DATA",
        )


def _version_of(if_match: str | None) -> int:
    """The Patient version ``If-Match: W/"n"`` names (412 when missing or malformed)."""
    match = re.fullmatch(r'W/"([0-9]+)"', if_match.strip()) if if_match else None
    if match is None:
        raise PreconditionFailed(
            "Invalid request with error - If-Match header must be supplied to update this resource",
            code="PRECONDITION_FAILED",
        )
    return int(match.group(1))


def _parties(fields: dict[str, Any]) -> tuple[str, str | None]:
    """The subscriber's NHS number and, when it is one, the beneficiary's.

    The published EHIC bodies name the beneficiary by the card's personal identification
    number, not an NHS number; without a subscriber the beneficiary must be the patient.
    """
    beneficiary_ref = fields.get("beneficiary")
    if fields.get("subscriber") is None:
        nhs = patient_number(beneficiary_ref, "beneficiary")
        return nhs, nhs
    subscriber = patient_number(fields["subscriber"], "subscriber")
    identifier = (beneficiary_ref or {}).get("identifier") or {}
    if identifier.get("system") == NHS_NUMBER_SYSTEM or (beneficiary_ref or {}).get("reference"):
        return subscriber, patient_number(beneficiary_ref, "beneficiary")
    return subscriber, None


def _is_ehic(resource: dict[str, Any], *, default: bool = False) -> bool:
    codings = (resource.get("type") or {}).get("coding") or []
    if not codings:
        return default
    return any(coding.get("code") == "EHIC" for coding in codings)


class CoverageService:
    """Coverage records of PDS patients, kept in the PDS service's store."""

    def __init__(self, *, pds: PdsService, store: Store, clock: Callable[[], float]) -> None:
        self.pds = pds
        self.store = store
        self.clock = clock

    async def create(self, role: str, body: Any, if_match: str | None) -> dict[str, Any]:
        """Record a Coverage on the subscriber's record; returns it as stored (``id``,
        ``meta.versionId`` "1"). An EHIC replaces the EHIC the patient held: PDS keeps one.

        ``If-Match`` names the version of the subscriber's Patient record, as PDS's
        ``POST /Coverage`` requires.

        Raises:
            PreconditionFailed: ``If-Match`` missing or malformed (412).
            BadRequest: ``MISSING_VALUE``, ``INVALID_VALUE`` or ``ADDITIONAL_PROPERTIES``.
            NotFound: ``RESOURCE_NOT_FOUND`` — the subscriber (or an NHS-numbered
                beneficiary) is not a patient.
            Conflict: ``RESOURCE_VERSION_MISMATCH`` — the record is at another version.
        """
        require_interaction(role, "pds.coverage-create")
        if not isinstance(body, dict):
            raise BadRequest("Invalid value - the body must be a Coverage", code="INVALID_VALUE")
        try:
            fields = NewCoverage.model_validate(body).model_dump(by_alias=True, exclude_none=True)
        except ValidationError as exc:
            raise validation_error(exc) from None
        for n, identifier in enumerate(fields.get("identifier") or []):
            if not identifier.get("value"):
                raise BadRequest(f"Missing value - 'identifier/{n}/value'", code="MISSING_VALUE")
        subscriber, beneficiary = _parties(fields)
        _check_period(fields.get("period"))
        # A body that is not a Coverage is refused as such (400) before its precondition.
        expected = _version_of(if_match)
        record = await self.pds.record(subscriber)  # 404 unless PDS knows the patient
        if beneficiary is not None and beneficiary != subscriber:
            await self.pds.record(beneficiary)
        if record.version != expected:
            raise Conflict(
                f"Resource version mismatch - the patient is at version {record.version}",
                code="RESOURCE_VERSION_MISMATCH",
            )
        resource: dict[str, Any] = {
            **fields,
            "resourceType": "Coverage",
            "id": str(uuid.uuid4()),
            "meta": {"versionId": "1"},
            "subscriber": _patient_reference(subscriber),
        }
        if beneficiary is not None:
            resource["beneficiary"] = _patient_reference(beneficiary)
        Coverage.model_validate(resource)
        async with self.store.begin() as conn:
            if _is_ehic(resource):
                await self._drop_ehic(conn, subscriber)
            await conn.execute(
                insert(pds_coverage).values(
                    id=resource["id"],
                    subscriber_nhs=subscriber,
                    beneficiary_nhs=beneficiary or subscriber,
                    resource=json.dumps(resource, separators=(",", ":")),
                    created_at=self.clock(),
                )
            )
        return resource

    @staticmethod
    async def _drop_ehic(conn: Any, subscriber: str) -> None:
        rows = await conn.execute(
            select(pds_coverage.c.id, pds_coverage.c.resource).where(
                pds_coverage.c.subscriber_nhs == subscriber
            )
        )
        # POST /Coverage manages the patient's EHIC: a coverage without a type (as the
        # published records have) is one too.
        stale = [row.id for row in rows if _is_ehic(json.loads(row.resource), default=True)]
        if stale:
            await conn.execute(delete(pds_coverage).where(pds_coverage.c.id.in_(stale)))

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
