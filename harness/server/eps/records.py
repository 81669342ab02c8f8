"""Stored prescription issues and the optimistic transitions that change them.

Every transition reads a prescription's issues, applies a pure rule, and writes with
``UPDATE … WHERE version = <read version>``. If another request changed an issue in between,
the update matches no row, the transaction rolls back and the rule is applied again to the
fresh state (:meth:`PrescriptionStore.transition`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from harness.server.domain import Conflict, NotFound
from harness.server.eps import status
from harness.server.store import Store, direct_read
from harness.server.store.schema import eps_prescriptions as table

# Built once with bind parameters (why: harness.server.fastpath). The update's SET clause comes
# from the keys of the parameters it is executed with; the WHERE parameters are named apart.
_ISSUES = direct_read(
    select(table)
    .where(table.c.prescription_id == bindparam("prescription_id"))
    .order_by(table.c.issue_no)
)
_UPDATE_ISSUE = (
    update(table)
    .where(table.c.prescription_id == bindparam("of_prescription"))
    .where(table.c.issue_no == bindparam("of_issue"))
    .where(table.c.version == bindparam("of_version"))
)
MAX_ATTEMPTS = 5  # re-applications of a rule after losing a race


@dataclass(frozen=True, slots=True)
class Row:
    """One stored issue."""

    prescription_id: str
    issue_no: int
    issues_total: int
    nhs_number: str
    prescriber_ods: str
    nominated_ods: str | None
    version: int
    issue: status.Issue
    history: list[dict[str, Any]]
    resource: dict[str, Any]
    claimed_at: float | None

    @classmethod
    def of(cls, row: Any) -> Row:
        """Build from a database row."""
        return cls(
            prescription_id=row.prescription_id,
            issue_no=int(row.issue_no),
            issues_total=int(row.issues_total),
            nhs_number=row.nhs_number,
            prescriber_ods=row.prescriber_ods,
            nominated_ods=row.nominated_ods,
            version=int(row.version),
            issue=status.Issue(
                status=row.status,
                items=json.loads(row.items),
                dispenser=row.dispenser_ods,
                cancel_pending=row.cancel_pending,
                valid_from=float(row.valid_from),
                expires_at=float(row.expires_at),
            ),
            history=json.loads(row.history),
            resource=json.loads(row.resource),
            claimed_at=row.claimed_at,
        )


Change = tuple[Row, dict[str, Any]]  # an issue and the columns to set on it


class Lost(Exception):
    """A conditional update matched no row: someone else changed the issue first."""


def values_of(issue: status.Issue) -> dict[str, Any]:
    """The columns that store an issue's state."""
    return {
        "status": issue.status,
        "items": json.dumps(dict(issue.items)),
        "dispenser_ods": issue.dispenser,
        "cancel_pending": issue.cancel_pending,
    }


def claim_deadline(claimed_at: float) -> float:
    """End of the period in which a claim may be amended: the 5th of the next month (UTC)."""
    moment = datetime.fromtimestamp(claimed_at, tz=UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 5, tzinfo=UTC).timestamp()


def current_issue(rows: list[Row]) -> Row:
    """The issue a prescriber or dispenser is dealing with now (the latest that is due)."""
    due = [r for r in rows if r.issue.status != "9000"]
    return due[-1] if due else rows[0]


class PrescriptionStore:
    """Loads and conditionally updates the issues of prescriptions."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    async def load(
        self, prescription_id: str, *, code: str = "PRESCRIPTION_NOT_FOUND"
    ) -> list[Row]:
        """Every issue of a prescription, in order.

        Raises:
            NotFound: no such prescription (``code``, ``R-0008`` for a cancel).
        """
        async with self.store.connect() as conn:
            result = await conn.execute(_ISSUES, {"prescription_id": prescription_id})
            rows = [Row.of(r) for r in result]
        if not rows:
            raise NotFound(f"prescription {prescription_id} not found", code=code)
        return rows

    async def commit(self, changes: list[Change]) -> None:
        """Apply every change in one transaction, each only if its issue is unchanged.

        Raises:
            Lost: an issue changed since it was read (the transaction is rolled back).
        """
        now = self.clock()
        async with self.store.begin() as conn:
            for row, values in changes:
                result = await conn.execute(
                    _UPDATE_ISSUE,
                    {
                        **values,
                        "version": row.version + 1,
                        "updated_at": now,
                        "of_prescription": row.prescription_id,
                        "of_issue": row.issue_no,
                        "of_version": row.version,
                    },
                )
                if result.rowcount != 1:
                    raise Lost

    async def transition(
        self, prescription_id: str, step: Callable[[list[Row]], list[Change]], **load: str
    ) -> list[Row]:
        """Apply ``step`` to the fresh state until its conditional updates all land."""
        for _ in range(MAX_ATTEMPTS):
            rows = await self.load(prescription_id, **load)
            try:
                await self.commit(step(rows))
            except Lost:
                continue
            return rows
        raise Conflict(
            f"prescription {prescription_id} is being changed by other requests; retry",
            code="FAILURE_TO_PROCESS_MESSAGE",
        )
