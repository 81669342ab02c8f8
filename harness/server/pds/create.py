"""PDS create: the body of ``POST /Patient`` and the NHS numbers created patients receive.

A created patient (a birth or a new registration) needs a number nobody has: not a derived
patient of any population size, and not another created patient, even one created at the same
moment by another worker or replica. The database hands out *allocations* 1, 2, … atomically
(an autoincrement key, see ``pds_allocations``); allocation ``n`` is population index
``MAX_PATIENTS + n - 1``, which :func:`~harness.spine.population.nhs_number_of` turns into a
modulus-11 valid number of the never-issued ranges. Derived populations stop below
``MAX_PATIENTS``, so the two can never meet, and the mapping back
(:func:`is_created_number`) is arithmetic.

The body is checked with the PDS codes: ``MISSING_VALUE`` for a required field that is absent
(name, gender, birthDate, address), ``INVALID_VALUE`` for a value of the wrong type or out of
range (a birth date in the future included), ``ADDITIONAL_PROPERTIES`` for any other key —
``id``, ``identifier`` and ``meta`` among them, since PDS allocates the number.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from harness.server.domain import BadRequest, ServiceUnavailable
from harness.server.pds.schemas import NewPatient
from harness.spine.population import BLOCK_PATIENTS, MAX_PATIENTS, index_of, nhs_number_of

FIRST_CREATED_INDEX = MAX_PATIENTS  # past every population: created numbers never collide
CREATED_CAPACITY = 2 * BLOCK_PATIENTS - FIRST_CREATED_INDEX  # indices the two ranges have left


def created_nhs_number(allocation: int) -> str:
    """The NHS number of the ``allocation``-th created patient (1, 2, …).

    Raises:
        ServiceUnavailable: every number of the synthetic ranges has been allocated.
    """
    if not 1 <= allocation <= CREATED_CAPACITY:
        raise ServiceUnavailable(f"no NHS numbers left to allocate ({CREATED_CAPACITY} used)")
    return nhs_number_of(FIRST_CREATED_INDEX + allocation - 1)


def is_created_number(nhs_number: str) -> bool:
    """Whether a valid NHS number is in the range allocated to created patients."""
    index = index_of(nhs_number)
    return index is not None and index >= FIRST_CREATED_INDEX


def new_patient_fields(body: Any) -> dict[str, Any]:
    """The checked fields of a ``POST /Patient`` body (camelCase, as stored).

    Raises:
        BadRequest: ``MISSING_VALUE`` for a missing required field, ``ADDITIONAL_PROPERTIES``
            for an unknown one (``id`` and ``identifier`` included: PDS allocates the
            number), ``INVALID_VALUE`` for a value out of its type or range.
    """
    if not isinstance(body, dict):
        raise BadRequest("Invalid value - the body must be a Patient object", code="INVALID_VALUE")
    try:
        patient = NewPatient.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
    born = _date_or_none(patient.birth_date)
    if born is None or born > date.today():
        raise BadRequest(
            f"Invalid value - '{patient.birth_date}' in field 'birthDate'", code="INVALID_VALUE"
        )
    fields: dict[str, Any] = patient.model_dump(by_alias=True, exclude_none=True)
    fields.pop("resourceType", None)
    return fields


def _date_or_none(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def validation_error(exc: ValidationError) -> BadRequest:
    """The PDS code of the first problem with a body to create (a Patient or a Coverage)."""
    error = exc.errors()[0]
    location = "/".join(str(p) for p in error.get("loc", ()))
    if error["type"] == "missing":
        return BadRequest(f"Missing value - '{location}'", code="MISSING_VALUE")
    if error["type"] == "extra_forbidden":
        return BadRequest(
            f"Additional properties are not allowed ('{location}')", code="ADDITIONAL_PROPERTIES"
        )
    if error["type"] == "too_short":
        return BadRequest(f"Too few values submitted - '{location}'", code="MISSING_VALUE")
    return BadRequest(
        f"Invalid value - '{error.get('input')}' in field '{location}': {error.get('msg')}",
        code="INVALID_VALUE",
    )
