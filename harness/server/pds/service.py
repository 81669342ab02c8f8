"""PDS rules: retrieve, search and update patients; only updates touch storage.

A patient's version-1 record is derived from the population; the first update stores the
whole record at version 2, and later updates replace it. Reads first look for a stored record
(one primary-key lookup) and otherwise derive. Updates are optimistic, as PDS's are: the
client names the version it read in ``If-Match: W/"n"`` and the write is a *conditional*
statement — ``UPDATE … WHERE version = n``, or for a never-updated patient an ``INSERT`` that
the primary key lets only one writer win — so of two concurrent updates from the same version
exactly one succeeds, across workers and on either database, with no lock held in memory.
A JSON Patch is applied to a copy and checked before anything is written, so it is atomic:
if one operation fails, none is applied.

**Created patients.** ``POST /Patient`` (a birth or a new registration) stores a version-1
record under a newly allocated NHS number. The allocation is a row of ``pds_allocations``
whose autoincrement id the database hands out atomically, so concurrent creates on any
worker or replica never share one; allocation ``n`` is population index
``MAX_PATIENTS + n - 1``, past every population size the server can serve, so a created
number is modulus-11 valid and never one a derived patient already has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import jsonpatch
import jsonpointer
from pydantic import ValidationError
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from harness.server.datatypes import NHS_NUMBER_SYSTEM
from harness.server.domain import BadRequest, Conflict, Forbidden, NotFound, PreconditionFailed
from harness.server.identity.rbac import require_interaction
from harness.server.pds import resources
from harness.server.pds.create import created_nhs_number, is_created_number, new_patient_fields
from harness.server.pds.schemas import PatchOperation, Patient
from harness.server.pds.search import MAX_CANDIDATES, MAX_RESULTS, Facts, SearchQuery
from harness.server.store import Store, direct_read
from harness.server.store.engine import StoreConnection
from harness.server.store.schema import (
    overlong,
    pds_allocations,
    pds_name_history,
    pds_patients,
    pds_telecom_history,
)
from harness.spine import Directory
from harness.spine.population import Population, valid_nhs_number
from harness.spine.published import is_published, published_related

IF_MATCH = re.compile(r'^W/"([0-9]+)"$')
# The hottest statement (every retrieve, update and SCR/EPS patient check), built once (why:
# harness.server.fastpath).
_RECORD = direct_read(
    select(pds_patients.c.version, pds_patients.c.resource).where(
        pds_patients.c.nhs_number == bindparam("nhs_number")
    )
)
# The search's re-judging of stored records: the derived matches (an expanding IN) or anyone
# stored with a birth date in range. Built once, like _RECORD (see harness.server.eps.records).
_STORED_MATCHES = select(pds_patients.c.nhs_number, pds_patients.c.resource).where(
    or_(
        pds_patients.c.nhs_number.in_(bindparam("numbers", expanding=True)),
        pds_patients.c.birth_date.between(bindparam("born_from"), bindparam("born_to")),
    )
)
PATCHABLE = frozenset(
    {
        "name",
        "gender",
        "birthDate",
        "deceasedDateTime",
        "multipleBirthInteger",
        "address",
        "telecom",
        "generalPractitioner",
        "extension",
    }
)


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """A patient's full record and its version."""

    resource: dict[str, Any]
    version: int

    @property
    def etag(self) -> str:
        """The weak ETag of this version."""
        return f'W/"{self.version}"'


@dataclass(frozen=True, slots=True)
class Matched:
    """What a new patient's demographics trace to: these patients (none: create it)."""

    nhs_numbers: tuple[str, ...]
    count: int = -1  # how many; -1: len(nhs_numbers)

    def __post_init__(self) -> None:
        if self.count < 0:
            object.__setattr__(self, "count", len(self.nhs_numbers))


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Matches best first (resource, score), or ``too_many`` past ``_max-results``."""

    matches: list[tuple[dict[str, Any], float]]
    too_many: bool


def parse_if_match(value: str | None) -> int:
    """The version named by ``If-Match: W/"n"``.

    Raises:
        PreconditionFailed: the header is missing or badly formed.
    """
    match = IF_MATCH.fullmatch(value.strip()) if value else None
    if match is None:
        raise PreconditionFailed(
            'If-Match header must be supplied as W/"<version>" to update a patient',
            code="PRECONDITION_FAILED",
        )
    return int(match.group(1))


MAX_PATCH_OPERATIONS = 100  # a demographic update touches a handful of fields


def patch_operations(body: Any) -> list[dict[str, Any]]:
    """The RFC 6902 operations of a PATCH body (a list, or ``{"patches": [...]}``)."""
    ops = body.get("patches") if isinstance(body, dict) else body
    if not isinstance(ops, list) or not ops:
        raise BadRequest("the body must be a non-empty JSON Patch list", code="INVALID_UPDATE")
    if len(ops) > MAX_PATCH_OPERATIONS:
        raise BadRequest(
            f"Invalid update - a patch may hold at most {MAX_PATCH_OPERATIONS} operations",
            code="INVALID_UPDATE",
        )
    try:
        for op in ops:
            PatchOperation.model_validate(op)
    except ValidationError as exc:
        raise BadRequest(
            f"invalid patch operation: {_first_error(exc)}", code="INVALID_UPDATE"
        ) from None
    return [dict(op) for op in ops]


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(p) for p in error.get("loc", ()))
    return f"{location}: {error.get('msg')}" if location else str(error.get("msg"))


class PdsService:
    """Patients of one population, with updates kept in one store."""

    def __init__(
        self,
        *,
        store: Store,
        population: Population,
        directory: Directory,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.population = population
        self.directory = directory
        self.clock = clock

    # ---------------------------------------------------------------- records
    def _index(self, nhs_number: str) -> int | None:
        """The derived patient's index; ``None`` for a created patient's number.

        Raises:
            BadRequest: ``INVALID_RESOURCE_ID`` — not a valid NHS number.
            NotFound: nobody can have this number (not derived, not in the created range).
        """
        if not valid_nhs_number(nhs_number):
            raise BadRequest(f"Invalid NHS number - {nhs_number!r}", code="INVALID_RESOURCE_ID")
        index = self.population.index(nhs_number)
        if index is None and not (is_created_number(nhs_number) or is_published(nhs_number)):
            raise NotFound(f"Patient {nhs_number} not found", code="RESOURCE_NOT_FOUND")
        return index

    async def record(self, nhs_number: str) -> PatientRecord:
        """The current full record (no access check: for other services' rules)."""
        index = self._index(nhs_number)
        async with self.store.connect() as conn:
            row = (await conn.execute(_RECORD, {"nhs_number": nhs_number})).first()
        if row is not None:
            return PatientRecord(json.loads(row.resource), int(row.version))
        if index is None:  # a created-range number that was never allocated
            raise NotFound(f"Patient {nhs_number} not found", code="RESOURCE_NOT_FOUND")
        return PatientRecord(resources.patient_resource(self.population.person(index)), 1)

    async def get_patient(self, role: str, nhs_number: str) -> PatientRecord:
        """Retrieve a patient as the user may see it."""
        require_interaction(role, "pds.retrieve")
        found = await self.record(nhs_number)
        return PatientRecord(resources.public_view(found.resource), found.version)

    async def related_people(self, role: str, nhs_number: str) -> list[dict[str, Any]]:
        """The patient's related persons (mother of a child, next of kin)."""
        require_interaction(role, "pds.retrieve")
        await self.record(nhs_number)  # 404 for nobody
        if is_published(nhs_number):  # the published test patients' relations, as published
            return published_related(nhs_number)
        index = self._index(nhs_number)
        if index is None:
            return []  # a created patient has no related persons on record
        person = self.population.person(index)
        return [
            resources.related_person(nhs_number, n, code, self.population.person(other))
            for n, (code, other) in enumerate(person.related, start=1)
        ]

    # ---------------------------------------------------------------- search
    async def search_patients(self, role: str, query: SearchQuery) -> SearchResult:
        """Find patients by demographics (see :mod:`harness.server.pds.search`)."""
        require_interaction(role, "pds.search")
        return await self._matching(query)

    async def _matching(self, query: SearchQuery) -> SearchResult:
        """The patients ``query`` matches, derived and stored (no access check)."""
        days, families = query.days(), query.families()
        budget = self.population.count_candidates(
            len(days), None if families is None else len(families)
        )
        if budget > MAX_CANDIDATES:
            raise BadRequest(
                "the search is too broad: narrow the birthdate range or give a family name",
                code="INVALID_SEARCH_DATA",
            )
        found: dict[str, tuple[dict[str, Any] | None, float]] = {}
        for index in self.population.candidates(days, families):
            person = self.population.person(index)
            score = query.score(resources.facts_of_person(person))
            if score > 0:
                found[person.nhs_number] = (None, score)
        # Stored records override derived ones: re-judge every stored patient that matched
        # as derived or whose (possibly updated) birth date is in range.
        window = {"born_from": query.birth_from.isoformat(), "born_to": query.birth_to.isoformat()}
        async with self.store.connect() as conn:
            stored = (await conn.execute(_STORED_MATCHES, {"numbers": list(found), **window})).all()
            previous = await self._previous(conn, query, [r.nhs_number for r in stored])
        for row in stored:
            resource = json.loads(row.resource)
            facts = resources.facts_of_resource(resource)
            if row.nhs_number in previous:
                facts = previous[row.nhs_number].added_to(facts)
            score = query.score(facts)
            if score > 0:
                found[row.nhs_number] = (resource, score)
            else:
                found.pop(row.nhs_number, None)
        if len(found) > query.max_results:
            return SearchResult([], too_many=True)
        ranked = sorted(found.items(), key=lambda item: (-item[1][1], item[0]))
        matches = []
        for nhs_number, (resource, score) in ranked:
            if resource is None:
                derived = self.population.index(nhs_number)
                assert derived is not None  # it was enumerated from the population
                resource = resources.patient_resource(self.population.person(derived))
            matches.append((resources.public_view(resource), score))
        return SearchResult(matches, too_many=False)

    @staticmethod
    async def _previous(
        conn: StoreConnection, query: SearchQuery, nhs_numbers: list[str]
    ) -> dict[str, Previous]:
        """Family names, emails and phones updates replaced, per patient (only asked for with
        ``_history``)."""
        if not query.history or not nhs_numbers:
            return {}
        previous: dict[str, Previous] = {}
        names = await conn.execute(
            select(pds_name_history.c.nhs_number, pds_name_history.c.family).where(
                pds_name_history.c.nhs_number.in_(nhs_numbers)
            )
        )
        for name in names:
            previous.setdefault(name.nhs_number, Previous()).families.append(name.family)
        telecoms = await conn.execute(
            select(
                pds_telecom_history.c.nhs_number,
                pds_telecom_history.c.system,
                pds_telecom_history.c.value,
            ).where(pds_telecom_history.c.nhs_number.in_(nhs_numbers))
        )
        for telecom in telecoms:
            entry = previous.setdefault(telecom.nhs_number, Previous())
            entry.telecoms.append((telecom.system, telecom.value))
        return previous

    # ---------------------------------------------------------------- create
    async def create_patient(self, role: str, body: Any) -> PatientRecord | Matched:
        """Create a patient under a newly allocated NHS number, at version 1, unless the
        demographics trace to patients PDS already holds (:meth:`_trace`): then nothing is
        created and the answer names them.

        Raises:
            BadRequest: ``MISSING_VALUE``, ``INVALID_VALUE`` or ``ADDITIONAL_PROPERTIES``.
        """
        require_interaction(role, "pds.create")
        fields = new_patient_fields(body)
        gp = resources.registered_gp(fields)
        if gp is not None and gp not in self.directory:
            raise BadRequest(
                f"Invalid value - '{gp}' in field 'generalPractitioner': not in the directory",
                code="INVALID_VALUE",
            )
        traced = await self._trace(fields)
        if traced.count:
            return traced
        now = self.clock()
        async with self.store.begin() as conn:
            allocated = await conn.execute(insert(pds_allocations).values(created_at=now))
            key = allocated.inserted_primary_key
            assert key is not None  # a single-row insert always reports its key
            nhs_number = created_nhs_number(int(key[0]))
            resource: dict[str, Any] = {
                "resourceType": "Patient",
                "id": nhs_number,
                "meta": {"versionId": "1", "security": resources.security_labels(False)},
                "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": nhs_number}],
                **fields,
            }
            Patient.model_validate(resource)  # what is stored always reads back as a Patient
            await conn.execute(
                insert(pds_patients).values(nhs_number=nhs_number, **_columns(resource, now))
            )
        return PatientRecord(resource, 1)

    async def _trace(self, fields: dict[str, Any]) -> Matched:
        """The patients a new patient's demographics trace to (often none).

        PDS refuses to allocate a second number to a person it holds. Its trace is not
        published; this one is a standard search on what identifies a person: the new record's
        first family name and first given name, its birth date, gender and any of its postcodes,
        all matching one patient (current details only). The sandbox matches on family name and
        postcode alone, a stand-in its own comments say does not mimic the real system. The
        trace is not atomic with the allocation: two creates of one person at the same instant
        can both be created.
        """
        facts = resources.facts_of_resource({"resourceType": "Patient", **fields})
        born = date.fromisoformat(facts.birth_date)
        givens = [n["given"][0] for n in fields.get("name") or [] if n.get("given")]
        if any("*" in text for text in [*facts.families, *givens, *facts.postcodes]):
            return Matched(())  # not a name or postcode a trace could compare
        found: set[str] = set()
        for family in facts.families[:1]:
            for postcode in facts.postcodes or (None,):
                query = SearchQuery(
                    birth_from=born, birth_to=born, family=family, given=tuple(givens[:1]),
                    gender=facts.gender, postcode=postcode, max_results=MAX_RESULTS,
                )  # fmt: skip
                result = await self._matching(query)
                if result.too_many:  # more than a search answers
                    return Matched((), count=MAX_RESULTS + 1)
                found.update(str(match["id"]) for match, _ in result.matches)
        return Matched(tuple(sorted(found)))

    # ---------------------------------------------------------------- update
    async def update_patient(
        self, role: str, nhs_number: str, if_match: str | None, body: Any
    ) -> PatientRecord:
        """Apply a JSON Patch to the version named in ``If-Match``, atomically.

        Raises:
            PreconditionFailed: ``If-Match`` missing or malformed (412).
            Conflict: ``RESOURCE_VERSION_MISMATCH`` — the record changed since (409).
            BadRequest: ``INVALID_UPDATE`` — the patch fails or leaves an invalid record.
            Forbidden: ``FORBIDDEN_UPDATE`` — a restricted record's hidden parts.
        """
        require_interaction(role, "pds.update")
        self._index(nhs_number)
        expected = parse_if_match(if_match)
        ops = patch_operations(body)
        current = await self.record(nhs_number)
        if current.version != expected:
            raise Conflict(
                f"Invalid update with error - This resource has changed since you last read. "
                f"Please re-read and try again with the new version number "
                f"({current.version}).",
                code="RESOURCE_VERSION_MISMATCH",
            )
        patched = self._apply(current.resource, ops)
        version = expected + 1
        patched["meta"] = {**patched.get("meta", {}), "versionId": str(version)}
        replaced = _families(current.resource) - _families(patched)
        gone = _telecoms(current.resource) - _telecoms(patched)
        await self._write(nhs_number, expected, version, patched, replaced=replaced, gone=gone)
        return PatientRecord(resources.public_view(patched), version)

    def _apply(self, resource: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
        restricted = resources.is_restricted(resource)
        for op in ops:
            field = op["path"].split("/")[1]
            if restricted and field in resources.HIDDEN_WHEN_RESTRICTED:
                # Even a "test" would reveal hidden details of a sensitive record.
                raise Forbidden(
                    f"Forbidden update - {field!r} of a restricted patient cannot be changed",
                    code="FORBIDDEN_UPDATE",
                )
            if op["op"] == "test":
                continue
            if field not in PATCHABLE:
                raise BadRequest(
                    f"Invalid update - {field!r} cannot be changed", code="INVALID_UPDATE"
                )
        try:
            patched: dict[str, Any] = jsonpatch.apply_patch(resource, ops, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise BadRequest(f"Invalid update - {exc}", code="INVALID_UPDATE") from None
        try:
            Patient.model_validate(patched)
        except ValidationError as exc:
            raise BadRequest(
                f"Invalid update - the patched record is not valid: {_first_error(exc)}",
                code="INVALID_UPDATE",
            ) from None
        for ods in (resources.registered_gp(patched), resources.nominated_pharmacy(patched)):
            if ods is not None and ods not in self.directory:
                raise BadRequest(
                    f"Invalid update - organisation {ods} is not in the directory",
                    code="INVALID_UPDATE",
                )
        return patched

    async def _write(
        self,
        nhs_number: str,
        expected: int,
        version: int,
        resource: dict[str, Any],
        *,
        replaced: set[str] | frozenset[str] = frozenset(),
        gone: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        """Store ``version`` if the stored one is still ``expected``; keep ``replaced``
        family names and ``gone`` (system, value) telecoms in the history, in the same
        transaction."""
        now = self.clock()
        stale = Conflict(
            "Invalid update with error - This resource has changed since you last read. "
            "Please re-read and try again with the new version number.",
            code="RESOURCE_VERSION_MISMATCH",
        )
        try:
            async with self.store.begin() as conn:
                if expected == 1 and not is_created_number(nhs_number):
                    # A derived patient's first update: the primary key lets one writer win.
                    await conn.execute(
                        insert(pds_patients).values(
                            nhs_number=nhs_number, **_columns(resource, now, version)
                        )
                    )
                else:
                    result = await conn.execute(
                        update(pds_patients)
                        .where(pds_patients.c.nhs_number == nhs_number)
                        .where(pds_patients.c.version == expected)
                        .values(**_columns(resource, now, version))
                    )
                    if result.rowcount != 1:
                        raise stale
                if replaced:
                    await conn.execute(
                        insert(pds_name_history),
                        [
                            {
                                "nhs_number": nhs_number,
                                "family": family,
                                "version": version,
                                "changed_at": now,
                            }
                            for family in sorted(replaced)
                        ],
                    )
                if gone:
                    await conn.execute(
                        insert(pds_telecom_history),
                        [
                            {"nhs_number": nhs_number, "system": system, "value": value}
                            | {"version": version, "changed_at": now}
                            for system, value in sorted(gone)
                        ],
                    )
        except IntegrityError:
            raise stale from None


def _families(resource: dict[str, Any]) -> set[str]:
    return {n["family"] for n in resource.get("name") or [] if n.get("family")}


def _telecoms(resource: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (t["system"], t["value"])
        for t in resource.get("telecom") or []
        if t.get("system") in ("email", "phone") and t.get("value")
    }


@dataclass
class Previous:
    """What updates replaced in one patient's record: searched as well with ``_history``."""

    families: list[str] = field(default_factory=list)
    telecoms: list[tuple[str, str]] = field(default_factory=list)  # (system, value) as sent

    def added_to(self, facts: Facts) -> Facts:
        """``facts`` with these previous names, emails and phones as well."""
        history = resources.facts_of_resource(
            {
                "name": [{"family": f} for f in self.families],
                "telecom": [{"system": s, "value": v} for s, v in self.telecoms],
            }
        )
        return replace(
            facts,
            families=facts.families + history.families,
            emails=facts.emails + history.emails,
            phones=facts.phones + history.phones,
        )


def _columns(resource: dict[str, Any], now: float, version: int = 1) -> dict[str, Any]:
    """A ``pds_patients`` row's columns for ``resource`` (search copies included)."""
    names = resource.get("name") or [{}]
    columns = {
        "version": version,
        "resource": json.dumps(resource, separators=(",", ":")),
        "birth_date": resource.get("birthDate"),
        "family": names[0].get("family"),
        "updated_at": now,
    }
    for family in _families(resource):
        _check_length({"family": family})
    _check_length(columns)
    return columns


def _check_length(row: dict[str, Any]) -> None:
    too_long = overlong(pds_patients, row)
    if too_long is not None:
        column, length = too_long
        field = {"family": "name.family", "birth_date": "birthDate"}.get(column, column)
        raise BadRequest(f"{field} must be at most {length} characters", code="INVALID_VALUE")
