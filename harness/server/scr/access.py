"""Who may see a patient's Summary Care Record: legitimate relationships, permission, override.

Spine lets a clinician open a record only with a *legitimate relationship* (LR) to the patient.
The reference server grants one when any of these holds:

1. the user works at the patient's **registered GP practice** (PDS ``generalPractitioner``);
2. the user works at the patient's **nominated pharmacy**;
3. the user has **claimed one themselves** — ``POST /AuditEvent`` with alert type ``1``
   (*Create LR (Self Claimed)*) and a reason; that needs RBAC activity B8028 and raises a
   privacy-officer alert.

Reading the record itself (``GET /Bundle``) further needs the patient's **permission to view**
for the viewing organisation, recorded with ``$setPermission`` (code ``Yes``).

**Emergency access** overrides both: send ``NHSD-Emergency-Access: <reason>`` (or the query
parameter ``_emergency=<reason>``) on a read. It needs B0264 like any SCR view, is granted for
that one request, and raises a privacy-officer alert (an ``AuditEvent`` of type ``2``,
*Emergency access*) naming the user, organisation, patient and reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from harness.server.datatypes import NHS_NUMBER_SYSTEM, ods_reference
from harness.server.domain import Forbidden
from harness.server.identity.service import Session
from harness.server.pds import resources
from harness.server.pds.service import PdsService
from harness.server.store import Store
from harness.server.store.schema import legitimate_relationships, privacy_alerts, scr_permissions

ALERT_TYPES = {"1": "Create LR (Self Claimed)", "2": "Emergency access"}
ALERT_SYSTEM = "https://fhir.nhs.uk/CodeSystem/SCR-PrivacyAlertType"  # assumption
REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/SCR-AccessReason"  # assumption
MAX_REASON = 64


class AccessControl:
    """Legitimate relationships, permissions to view and privacy alerts."""

    def __init__(self, *, store: Store, pds: PdsService, clock: Callable[[], float]) -> None:
        self.store = store
        self.pds = pds
        self.clock = clock

    async def relationship(self, session: Session, nhs_number: str) -> str | None:
        """How ``session`` is related to the patient (``None``: no legitimate relationship)."""
        record = (await self.pds.record(nhs_number)).resource
        if session.ods_code == resources.registered_gp(record):
            return "registered-gp"
        if session.ods_code == resources.nominated_pharmacy(record):
            return "nominated-pharmacy"
        async with self.store.connect() as conn:
            claimed = (
                await conn.execute(
                    select(legitimate_relationships.c.reason)
                    .where(legitimate_relationships.c.user_id == session.user_id)
                    .where(legitimate_relationships.c.nhs_number == nhs_number)
                )
            ).first()
        return "self-claimed" if claimed is not None else None

    async def permission(self, session: Session, nhs_number: str) -> str:
        """The patient's permission to view for the session's organisation (``Unknown``)."""
        async with self.store.connect() as conn:
            found = (
                await conn.execute(
                    select(scr_permissions.c.permission)
                    .where(scr_permissions.c.nhs_number == nhs_number)
                    .where(scr_permissions.c.ods_code == session.ods_code)
                )
            ).scalar()
        return str(found) if found is not None else "Unknown"

    async def require(
        self, session: Session, nhs_number: str, *, emergency: str | None, needs_permission: bool
    ) -> str:
        """Admit the access, or refuse it; return how it was admitted."""
        if emergency:
            await self.alert(session, nhs_number, "2", emergency[:MAX_REASON])
            return "emergency"
        relationship = await self.relationship(session, nhs_number)
        if relationship is None:
            raise Forbidden(
                f"no legitimate relationship with patient {nhs_number}: claim one "
                "(POST AuditEvent, alert type 1) or use emergency access",
                code="ACCESS_DENIED",
            )
        if needs_permission and await self.permission(session, nhs_number) != "Yes":
            raise Forbidden(
                f"patient {nhs_number} has not given {session.ods_code} permission to view the "
                "record ($setPermission), and no emergency access was declared",
                code="ACCESS_DENIED",
            )
        return relationship

    async def set_permission(self, session: Session, nhs_number: str, code: str) -> None:
        """Record the patient's permission to view for the session's organisation."""
        values = {"permission": code, "set_by": session.user_id, "set_at": self.clock()}
        change = (
            update(scr_permissions)
            .where(scr_permissions.c.nhs_number == nhs_number)
            .where(scr_permissions.c.ods_code == session.ods_code)
            .values(**values)
        )
        try:
            async with self.store.begin() as conn:
                if (await conn.execute(change)).rowcount == 0:
                    await conn.execute(
                        insert(scr_permissions).values(
                            nhs_number=nhs_number, ods_code=session.ods_code, **values
                        )
                    )
        except IntegrityError:  # another request inserted it first: update theirs
            async with self.store.begin() as conn:
                await conn.execute(change)

    async def claim_relationship(self, session: Session, nhs_number: str, reason: str) -> None:
        """Create a self-claimed legitimate relationship (idempotent)."""
        try:
            async with self.store.begin() as conn:
                await conn.execute(
                    insert(legitimate_relationships).values(
                        user_id=session.user_id,
                        nhs_number=nhs_number,
                        reason=reason[:MAX_REASON],
                        created_at=self.clock(),
                    )
                )
        except IntegrityError:
            pass  # already claimed

    async def alert(
        self, session: Session, nhs_number: str, alert_type: str, reason: str
    ) -> dict[str, Any]:
        """Raise a privacy-officer alert; return it as a FHIR AuditEvent."""
        now = self.clock()
        event = audit_event(str(uuid.uuid4()), session, nhs_number, alert_type, reason, now)
        async with self.store.begin() as conn:
            await conn.execute(
                insert(privacy_alerts).values(
                    id=event["id"],
                    at=now,
                    alert_type=alert_type,
                    reason=reason[:MAX_REASON],
                    user_id=session.user_id,
                    ods_code=session.ods_code,
                    nhs_number=nhs_number,
                    resource=json.dumps(event, separators=(",", ":")),
                )
            )
        return event

    async def alerts(self, ods_code: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest privacy alerts raised at an organisation (its privacy officer's view)."""
        async with self.store.connect() as conn:
            rows = await conn.execute(
                select(privacy_alerts.c.resource)
                .where(privacy_alerts.c.ods_code == ods_code)
                .order_by(privacy_alerts.c.at.desc())
                .limit(limit)
            )
            return [json.loads(r.resource) for r in rows]


def audit_event(
    event_id: str, session: Session, nhs_number: str, alert_type: str, reason: str, now: float
) -> dict[str, Any]:
    """A privacy alert as a FHIR AuditEvent."""
    return {
        "resourceType": "AuditEvent",
        "id": event_id,
        "type": {"system": ALERT_SYSTEM, "code": alert_type, "display": ALERT_TYPES[alert_type]},
        "recorded": datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="seconds"),
        "purposeOfEvent": [{"coding": [{"system": REASON_SYSTEM, "code": reason}]}],
        "agent": [
            {
                "who": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/sds-user-id",
                        "value": session.user_id,
                    }
                },
                "requestor": True,
                "role": [{"coding": [{"code": session.role}]}],
            }
        ],
        "source": {"observer": ods_reference(session.ods_code)},
        "entity": [{"what": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}}}],
    }
