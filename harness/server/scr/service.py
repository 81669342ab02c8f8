"""SCR rules: upload a patient's summary, find it, read it, and the access rules around them.

A Summary Care Record is a FHIR ``document`` Bundle whose first entry is a ``Composition``
about one patient. Each upload is kept; the newest is the record. An update must name the
record it replaces (``Composition.relatesTo[0].targetIdentifier``, the UUID that
``GET /DocumentReference`` returns): uploads are numbered per patient and the number is unique,
so of two uploads based on the same record only one is stored, and an upload based on a stale
one is refused (409 ``RESOURCE_VERSION_MISMATCH``). Only the patient's registered GP practice
uploads (GP systems only, as in SCR v3). Views follow :mod:`harness.server.scr.access`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from harness.server.datatypes import NHS_NUMBER_SYSTEM, identifier_value, ods_reference
from harness.server.domain import BadRequest, Conflict, Forbidden, NotFound
from harness.server.identity.rbac import require, require_interaction
from harness.server.identity.service import Session
from harness.server.pds import resources
from harness.server.pds.service import PdsService
from harness.server.scr.access import ALERT_TYPES, MAX_REASON, AccessControl
from harness.server.store import Store
from harness.server.store.schema import scr_documents
from harness.spine.contracts import SCR_BASE

PERMISSION_SYSTEM = "https://fhir.nhs.uk/CodeSystem/SCR-ACS-Permission"  # assumption
# The published SCR-ACSPermission codes; only Yes is a standing permission to view (Ask: ask
# the patient each time, so no view without an emergency declaration).
PERMISSION_CODES = ("Yes", "No", "Ask")
SCR_TYPE = {"system": "http://snomed.info/sct", "code": "196981000000101", "display": "GP Summary"}
SCR_PATH = SCR_BASE


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="INVALID_VALUE", issue_type="invalid")


@dataclass(frozen=True, slots=True)
class Document:
    """A stored SCR."""

    id: str
    nhs_number: str
    bundle: dict[str, Any]
    author_ods: str
    created_at: float


def _composition(bundle: Any) -> dict[str, Any]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise _invalid("the body must be a FHIR Bundle")
    if bundle.get("type") != "document":
        raise _invalid("an SCR is a Bundle of type 'document'")
    first = _first(bundle.get("entry")).get("resource")
    if not isinstance(first, dict) or first.get("resourceType") != "Composition":
        raise _invalid("the first entry of an SCR must be its Composition")
    return first


class ScrService:
    """Summary Care Records of one store, guarded by :class:`AccessControl`."""

    def __init__(self, *, store: Store, pds: PdsService, clock: Callable[[], float]) -> None:
        self.store = store
        self.pds = pds
        self.clock = clock
        self.access = AccessControl(store=store, pds=pds, clock=clock)

    async def _latest(self, nhs_number: str) -> tuple[Document | None, int]:
        async with self.store.connect() as conn:
            row = (
                await conn.execute(
                    select(scr_documents)
                    .where(scr_documents.c.nhs_number == nhs_number)
                    .order_by(scr_documents.c.seq.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None, 0
        document = Document(
            row.id, row.nhs_number, json.loads(row.bundle), row.author_ods, row.created_at
        )
        return document, int(row.seq)

    async def upload(self, session: Session, bundle: Any) -> Document:
        """Store a new SCR (or a new version of one)."""
        require_interaction(session.role, "scr.upload")
        composition = _composition(bundle)
        nhs_number = _subject_nhs_number(bundle, _object(composition.get("subject")))
        if not nhs_number:
            raise _invalid(
                "Composition.subject must carry the NHS number (identifier) or reference the "
                "bundle's Patient, whose identifier carries it"
            )
        record = (await self.pds.record(nhs_number)).resource
        if session.ods_code != resources.registered_gp(record):
            raise Forbidden(
                f"only the patient's registered GP practice may upload an SCR for {nhs_number}",
                code="ACCESS_DENIED",
            )
        replaces = identifier_value(_first(composition.get("relatesTo")).get("targetIdentifier"))
        latest, seq = await self._latest(nhs_number)
        if (latest.id if latest else None) != replaces:
            raise Conflict(
                f"the upload must replace the latest SCR ({latest.id if latest else 'none'}); "
                "fetch it with GET DocumentReference",
                code="RESOURCE_VERSION_MISMATCH",
            )
        document_id = identifier_value(composition.get("identifier")) or str(uuid.uuid4())
        stored = {**bundle, "id": document_id}
        now = self.clock()
        try:
            async with self.store.begin() as conn:
                await conn.execute(
                    insert(scr_documents).values(
                        id=document_id,
                        nhs_number=nhs_number,
                        seq=seq + 1,
                        bundle=json.dumps(stored, separators=(",", ":")),
                        author_ods=session.ods_code,
                        author_user=session.user_id,
                        created_at=now,
                    )
                )
        except IntegrityError:
            raise Conflict(
                "another upload replaced this SCR first, or its id is taken; fetch the latest",
                code="RESOURCE_VERSION_MISMATCH",
            ) from None
        return Document(document_id, nhs_number, stored, session.ods_code, now)

    async def document_references(
        self, session: Session, nhs_number: str, *, emergency: str | None
    ) -> list[dict[str, Any]]:
        """The patient's latest SCR as a DocumentReference (none: an empty list)."""
        require_interaction(session.role, "scr.view")
        await self.access.require(session, nhs_number, emergency=emergency, needs_permission=False)
        latest, _ = await self._latest(nhs_number)
        if latest is None:
            return []
        permission = await self.access.permission(session, nhs_number)
        return [document_reference(latest, permission)]

    async def retrieve(
        self, session: Session, document_id: str, nhs_number: str, *, emergency: str | None
    ) -> list[dict[str, Any]]:
        """The SCR ``document_id`` of the patient; empty when that is not the latest one."""
        require_interaction(session.role, "scr.view")
        await self.access.require(session, nhs_number, emergency=emergency, needs_permission=True)
        latest, _ = await self._latest(nhs_number)
        return [latest.bundle] if latest is not None and latest.id == document_id else []

    async def set_permission(self, session: Session, parameters: Any) -> tuple[str, str]:
        """``$setPermission``: the patient's answer to "may we view your SCR?"."""
        require_interaction(session.role, "scr.view")
        values = _parameters(parameters)
        number = values.get("nhsNumber")
        nhs_number = number if isinstance(number, str) else identifier_value(number)
        code = _object(values.get("permissionCode")).get("code")
        if not nhs_number or code not in PERMISSION_CODES:
            raise _invalid(
                f"$setPermission needs nhsNumber and permissionCode {' or '.join(PERMISSION_CODES)}"
            )
        try:
            await self.pds.record(nhs_number)
        except NotFound:  # the specification's "Patient not found" scenario answers 400
            raise _invalid(f"Patient {nhs_number} not found") from None
        await self.access.require(session, nhs_number, emergency=None, needs_permission=False)
        await self.access.set_permission(session, nhs_number, code)
        return nhs_number, code

    async def record_alert(self, session: Session, event: Any) -> dict[str, Any]:
        """``POST /AuditEvent``: a privacy alert; type 1 also creates the self-claimed LR."""
        if not isinstance(event, dict) or event.get("resourceType") != "AuditEvent":
            raise _invalid("the body must be a FHIR AuditEvent")
        # Client JSON: any element may have any type, so walk it with type-checking accessors.
        alert_type = str(_object(event.get("type")).get("code"))
        if alert_type not in ALERT_TYPES:
            raise _invalid(f"AuditEvent.type.code must be one of {sorted(ALERT_TYPES)}")
        nhs_number = _alert_patient(event)
        reason = _alert_reason(event)
        if not nhs_number or not reason:
            raise _invalid(
                "AuditEvent needs the patient (an agent's NHS number, or entity[0].what) and a "
                "reason (subtype or purposeOfEvent)"
            )
        await self.pds.record(nhs_number)  # the patient must exist
        if alert_type == "1":
            require(session.role, "B8028")
            await self.access.claim_relationship(session, nhs_number, str(reason))
        else:
            require_interaction(session.role, "scr.view")
        return await self.access.alert(session, nhs_number, alert_type, str(reason)[:MAX_REASON])

    async def alerts(self, session: Session) -> list[dict[str, Any]]:
        """The privacy alerts raised at the session's organisation."""
        require_interaction(session.role, "scr.view")
        return await self.access.alerts(session.ods_code)


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _first(value: Any) -> dict[str, Any]:
    """The first element of a JSON array when it is an object, else an empty object."""
    return _object(value[0]) if isinstance(value, list) and value else {}


def _subject_nhs_number(bundle: dict[str, Any], subject: dict[str, Any]) -> str | None:
    """The NHS number of the Composition's subject: its identifier or, as published, the
    identifier of the bundle's Patient it references (``Patient/<id>`` or a ``fullUrl``)."""
    number = identifier_value(subject.get("identifier"))
    reference = subject.get("reference")
    if number or not isinstance(reference, str):
        return number
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        resource = _object(_object(entry).get("resource"))
        if resource.get("resourceType") != "Patient":
            continue
        full_url = _object(entry).get("fullUrl")
        if reference in (f"Patient/{resource.get('id')}", full_url):
            return _nhs_number(resource.get("identifier"))
    return None


def _nhs_number(identifiers: Any) -> str | None:
    """The NHS number among identifiers (a list, or one identifier)."""
    listed = identifiers if isinstance(identifiers, list) else [identifiers]
    for identifier in map(_object, listed):
        if identifier.get("system") == NHS_NUMBER_SYSTEM and isinstance(
            identifier.get("value"), str
        ):
            return str(identifier["value"])
    return None


def _alert_patient(event: dict[str, Any]) -> str | None:
    """The patient of a privacy alert: the agent with an NHS number (as published) or, in the
    harness's earlier shape, ``entity[0].what.identifier``."""
    agents = event.get("agent")
    for agent in map(_object, agents if isinstance(agents, list) else []):
        number = _nhs_number(_object(agent.get("who")).get("identifier"))
        if number:
            return number
    return identifier_value(_object(_first(event.get("entity")).get("what")).get("identifier"))


def _alert_reason(event: dict[str, Any]) -> str | None:
    """Why the alert was raised: ``purposeOfEvent`` or, as published, ``subtype[0]`` (the
    SCR-AlertReason code and its display), else the free-text ``outcomeDesc``."""
    purpose = _first(event.get("purposeOfEvent"))
    subtype = _first(event.get("subtype"))
    for reason in (
        _first(purpose.get("coding")).get("code"),
        purpose.get("text"),
        subtype.get("display"),
        subtype.get("code"),
        event.get("outcomeDesc"),
    ):
        if isinstance(reason, str) and reason:
            return reason
    return None


def _parameters(parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise _invalid("the body must be a FHIR Parameters resource")
    values: dict[str, Any] = {}
    listed = parameters.get("parameter")
    for parameter in listed if isinstance(listed, list) else []:
        if isinstance(parameter, dict) and parameter.get("name"):
            value = next((v for k, v in parameter.items() if k.startswith("value")), None)
            values[str(parameter["name"])] = value
            # The published $setPermission nests its values as parts of one parameter.
            parts = parameter.get("part")
            for part in parts if isinstance(parts, list) else []:
                if isinstance(part, dict) and part.get("name"):
                    values.setdefault(
                        str(part["name"]),
                        next((v for k, v in part.items() if k.startswith("value")), None),
                    )
    return values


def document_reference(document: Document, permission: str) -> dict[str, Any]:
    """The DocumentReference pointing at an SCR, with the viewer's consent status."""
    return {
        "resourceType": "DocumentReference",
        "id": document.id,
        "masterIdentifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": document.id},
        "status": "current",
        "type": {"coding": [SCR_TYPE]},
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": document.nhs_number}},
        "date": datetime.fromtimestamp(document.created_at, tz=UTC).isoformat(timespec="seconds"),
        "author": [ods_reference(document.author_ods)],
        "securityLabel": [{"coding": [{"system": PERMISSION_SYSTEM, "code": permission}]}],
        "content": [
            {
                "attachment": {
                    "contentType": "application/fhir+json",
                    "url": f"{SCR_PATH}/Bundle?composition.identifier={document.id}"
                    f"&composition.subject:Patient.identifier={document.nhs_number}",
                }
            }
        ],
    }
