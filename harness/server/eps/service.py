"""EPS rules over storage: prescriptions move through the state machine one conditional update
at a time.

Every transition reads the prescription's issues, applies a pure rule from
:mod:`harness.server.eps.status`, and writes with ``UPDATE … WHERE version = <read version>``.
If another request changed the issue in between, the update matches no row, the transaction
rolls back and the rule is applied again to the fresh state — which then refuses a second
dispense of an already dispensed prescription. So concurrent and retried requests can never
both succeed at the same step, across workers and on SQLite or PostgreSQL, without any lock
held in memory. A nominated release claims each prescription with its own conditional update,
so two pharmacists' batches never share a prescription.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from harness.server.datatypes import informational
from harness.server.domain import BadRequest, Conflict, Forbidden, NotFound, RuleViolation
from harness.server.eps import messages, status
from harness.server.eps.records import (
    Change,
    Lost,
    PrescriptionStore,
    Row,
    claim_deadline,
    current_issue,
    values_of,
)
from harness.server.eps.resources import prepare_parameters, release_parameters, task_resource
from harness.server.identity.rbac import ROLE_ACTIVITIES, require_interaction
from harness.server.identity.service import Session
from harness.server.pds.service import PdsService
from harness.server.store import Store
from harness.server.store.schema import eps_prescriptions as table
from harness.spine import Directory, OrgType

_INSERT = insert(table)  # built once: see harness.server.eps.records
RELEASE_BATCH = 25  # "up to 25 nominated prescriptions per request"
ERD_INTERVAL_S = 28 * 86_400  # issues of a repeat-dispensing course fall due four-weekly


class EpsService:
    """Prescriptions of one store, linked to the directory's organisations and PDS patients."""

    def __init__(
        self, *, store: Store, pds: PdsService, directory: Directory, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.records = PrescriptionStore(store, clock)
        self.pds = pds
        self.directory = directory
        self.clock = clock

    # ---------------------------------------------------------------- prescribing
    async def _check_order(self, session: Session, bundle: Any) -> messages.Order:
        order = messages.read_order(bundle)
        # The check character only: the published examples send ids whose middle part is not
        # the sender's ODS code (5EA56C-Z6EA5E-710A1O from A99968), and nor the specification
        # nor the coordinator's validator ties the two.
        if not messages.valid_prescription_id(order.prescription_id):
            raise BadRequest(
                f"{order.prescription_id!r} is not a valid short-form prescription id",
                code="INVALID_VALUE",
            )
        try:
            await self.pds.record(order.nhs_number)
        except (BadRequest, NotFound) as exc:
            raise BadRequest(f"patient: {exc.diagnostics}", code="INVALID_VALUE") from None
        nominated = order.nominated_ods
        if nominated is not None and (
            nominated not in self.directory
            or self.directory[nominated].org_type is not OrgType.COMMUNITY_PHARMACY
        ):
            raise BadRequest(
                f"nominated pharmacy {nominated} is not a pharmacy in the directory",
                code="INVALID_VALUE",
            )
        return order

    async def prepare(self, session: Session, bundle: Any) -> dict[str, Any]:
        """``$prepare``: check a prescription and return the digest to sign."""
        require_interaction(session.role, "eps.prepare")
        await self._check_order(session, bundle)
        return prepare_parameters(bundle, self.clock())

    async def create(self, session: Session, bundle: Any) -> tuple[str, dict[str, Any]]:
        """Create a prescription (every issue of an eRD course); return its id and answer."""
        require_interaction(session.role, "eps.create")
        order = await self._check_order(session, bundle)
        now = self.clock()
        valid_from = order.valid_from or now
        expires_at = order.expires_at or valid_from + status.VALIDITY_S
        rows = []
        for issue_no in range(1, order.issues + 1):
            first_status = "9001" if valid_from > now else "0001"
            start = valid_from + (issue_no - 1) * ERD_INTERVAL_S
            rows.append(
                {
                    "prescription_id": order.prescription_id,
                    "issue_no": issue_no,
                    "issues_total": order.issues,
                    "nhs_number": order.nhs_number,
                    "prescriber_ods": session.ods_code,
                    "prescriber_user": session.user_id,
                    "nominated_ods": order.nominated_ods,
                    "dispenser_ods": None,
                    "status": first_status if issue_no == 1 else "9000",
                    "version": 1,
                    "cancel_pending": None,
                    "items": json.dumps(dict.fromkeys(order.items, "0007")),
                    "history": "[]",
                    "valid_from": start,
                    "expires_at": max(expires_at, start + status.VALIDITY_S)
                    if issue_no > 1
                    else expires_at,
                    "resource": json.dumps(bundle, separators=(",", ":")),
                    "created_at": now,
                    "updated_at": now,
                    "claimed_at": None,
                }
            )
        try:
            async with self.store.begin() as conn:
                await conn.execute(_INSERT, rows)
        except IntegrityError:
            raise Conflict(
                f"prescription {order.prescription_id} already exists",
                code="DUPLICATE_PRESCRIPTION",
            ) from None
        text = f"prescription {order.prescription_id} created ({order.issues} issue(s))"
        return order.prescription_id, informational(text)

    async def cancel(self, session: Session, bundle: Any) -> tuple[str, dict[str, Any]]:
        """Cancel one line item: at once, or marked while with a dispenser (R-0002/R-0003)."""
        require_interaction(session.role, "eps.cancel")
        request = messages.read_cancel(bundle)
        outcome: list[str] = []

        def step(rows: list[Row]) -> list[Change]:
            outcome.clear()
            if rows[0].prescriber_ods != session.ods_code:
                raise RuleViolation(
                    "Cancellation requested by a prescriber of another organisation",
                    code="R-0007",
                )
            if rows[0].nhs_number != request.nhs_number:
                raise RuleViolation("NHS number does not match the prescription", code="R-5000")
            current = current_issue(rows)
            now = self.clock()
            issue, code = status.cancel(current.issue, request.item, now)
            outcome.append(code)
            changes = [(current, values_of(issue))]
            for future in rows:
                if future.issue_no > current.issue_no and future.issue.status == "9000":
                    cancelled, _ = status.cancel(future.issue, request.item, now)
                    changes.append((future, values_of(cancelled)))
            return changes

        await self.records.transition(request.prescription_id, step, code="R-0008")
        texts = {
            "R-0001": "Prescription/item was cancelled",
            "R-0002": "Prescription/item was not cancelled. With dispenser. Marked for "
            "cancellation",
            "R-0003": "Prescription/item was not cancelled. With dispenser active. Marked for "
            "cancellation",
        }
        return request.prescription_id, informational(texts[outcome[0]], outcome[0])

    async def track(self, session: Session, prescription_id: str) -> list[dict[str, Any]]:
        """The prescription's issues as Tasks, for its prescriber, nominee or dispenser."""
        activities = {"B0058", "B0420"}
        if not any(_may(session.role, a) for a in activities):
            require_interaction(session.role, "eps.create")  # raises, naming the activity
        rows = await self.records.load(prescription_id)
        involved = {rows[0].prescriber_ods, rows[0].nominated_ods} | {
            r.issue.dispenser for r in rows
        }
        if session.ods_code not in involved:
            raise Forbidden(
                "only the prescriber, the nominated pharmacy or the dispenser may track this "
                "prescription",
                code="ACCESS_DENIED",
            )
        now = self.clock()
        return [
            task_resource(r, replace(r.issue, status=status.effective(r.issue, now))) for r in rows
        ]

    # ---------------------------------------------------------------- dispensing
    async def release(self, session: Session, parameters: Any) -> tuple[list[str], dict[str, Any]]:
        """Release one prescription by id, or the pharmacy's next nominated batch (≤ 25)."""
        require_interaction(session.role, "eps.release")
        owner, prescription_id = messages.read_release(parameters)
        if owner.upper() != session.ods_code:
            raise Forbidden(
                "the release owner must be the user's organisation", code="ACCESS_DENIED"
            )
        if prescription_id is not None:
            released = [await self._release_one(session.ods_code, prescription_id)]
        else:
            released = await self._release_nominated(session.ods_code)
            if not released:
                return [], informational(
                    "There are no more nominated prescriptions to release", "NO_MORE_PRESCRIPTIONS"
                )
        return [r.prescription_id for r in released], release_parameters(released)

    async def _release_one(self, dispenser: str, prescription_id: str) -> Row:
        chosen: list[Row] = []

        def step(rows: list[Row]) -> list[Change]:
            now = self.clock()
            due = [r for r in rows if status.effective(r.issue, now) == "0001"]
            row = due[0] if due else current_issue(rows)
            chosen[:] = [row]
            return [(row, values_of(status.release(row.issue, dispenser, now)))]

        await self.records.transition(prescription_id, step)
        return chosen[0]

    async def _release_nominated(self, dispenser: str) -> list[Row]:
        now = self.clock()
        async with self.store.connect() as conn:
            result = await conn.execute(
                select(table)
                .where(table.c.nominated_ods == dispenser)
                .where(table.c.status.in_(("0001", "9001")))
                .where(table.c.valid_from <= now)
                .where(table.c.expires_at > now)
                .order_by(table.c.created_at, table.c.prescription_id, table.c.issue_no)
                .limit(RELEASE_BATCH)
            )
            candidates = [Row.of(r) for r in result]
        released = []
        for row in candidates:
            try:
                await self.records.commit(
                    [(row, values_of(status.release(row.issue, dispenser, now)))]
                )
            except (Lost, RuleViolation):
                continue  # another pharmacist's batch took it first
            released.append(row)
        return released

    async def dispense(self, session: Session, bundle: Any) -> tuple[str, dict[str, Any]]:
        """Record a dispense notification; the prescription can never be dispensed twice.

        An amendment (``MessageHeader`` extension ``replacementOf``) takes the place of the
        dispenser's last notification: it applies to the issue as that one found it.
        """
        require_interaction(session.role, "eps.dispense-notification")
        notification = messages.read_dispense(bundle)
        dispenser = session.ods_code
        result: list[str] = []

        def step(rows: list[Row]) -> list[Change]:
            now = self.clock()
            mine = [
                r
                for r in rows
                if r.issue.status in status.WITH_DISPENSER and r.issue.dispenser == dispenser
            ]
            row = mine[0] if mine else current_issue(rows)
            before, history = row.issue, list(row.history)
            if notification.replaces:
                row, _, before = _undo_last_notification(rows, dispenser)
                history = row.history[:-1]
            issue = status.dispense(before, dispenser, notification.items, now)
            promote = issue.status in ("0006", "0007") and row.issue_no < row.issues_total
            snapshot = {
                "status": before.status,
                "items": dict(before.items),
                "promoted": promote,
            }
            changes = [(row, {**values_of(issue), "history": json.dumps([*history, snapshot])})]
            if promote:
                following = rows[row.issue_no]  # issues are 1-based and ordered
                if following.issue.status == "9000":
                    # The next issue becomes available at once (Spine releases it a week
                    # before it is due; a simplification).
                    due = min(following.issue.valid_from, now)
                    changes.append((following, {"status": "0001", "valid_from": due}))
            result[:] = [issue.status]
            return changes

        await self.records.transition(notification.prescription_id, step)
        text = f"dispense notification recorded: {result[0]} ({status.STATUS[result[0]][0]})"
        return notification.prescription_id, informational(text)

    async def task(self, session: Session, task: Any) -> tuple[str, dict[str, Any]]:
        """A return (``rejected``) or a withdrawal (``in-progress``) of a dispense."""
        action, prescription_id = messages.read_task(task)
        require_interaction(session.role, f"eps.{action}")
        dispenser = session.ods_code

        def give_back(rows: list[Row]) -> list[Change]:
            now = self.clock()
            held = [r for r in rows if r.issue.status in status.WITH_DISPENSER]
            row = held[0] if held else current_issue(rows)
            return [(row, values_of(status.return_(row.issue, dispenser, now)))]

        def take_back(rows: list[Row]) -> list[Change]:
            row, last, issue = _undo_last_notification(rows, dispenser)
            changes = [(row, {**values_of(issue), "history": json.dumps(row.history[:-1])})]
            if last and last["promoted"]:
                following = rows[row.issue_no]
                if following.issue.status != "0001":
                    raise RuleViolation(
                        "the next issue has already been released; the notification stands",
                        code="PRESCRIPTION_INVALID_STATE_TRANSITION",
                    )
                changes.append((following, {"status": "9000"}))
            return changes

        await self.records.transition(
            prescription_id, give_back if action == "return" else take_back
        )
        done = "returned" if action == "return" else "dispense notification withdrawn"
        return prescription_id, informational(f"prescription {prescription_id} {done}")

    async def claim(self, session: Session, claim: Any) -> tuple[str, dict[str, Any]]:
        """Claim for a dispensed (0008) or not dispensed (0009) issue; amend within the period."""
        require_interaction(session.role, "eps.claim")
        prescription_id = messages.read_claim(claim)
        dispenser = session.ods_code

        def step(rows: list[Row]) -> list[Change]:
            now = self.clock()
            ours = [r for r in rows if r.issue.dispenser == dispenser]
            open_ = [r for r in ours if r.issue.status in ("0006", "0007")]
            claimed = [r for r in ours if r.issue.status in ("0008", "0009")]
            row = open_[0] if open_ else claimed[-1] if claimed else current_issue(rows)
            amendable = row.claimed_at is not None and now < claim_deadline(row.claimed_at)
            issue = status.claim(row.issue, dispenser, amendable)
            return [(row, {**values_of(issue), "claimed_at": row.claimed_at or now})]

        await self.records.transition(prescription_id, step)
        return prescription_id, informational(f"claim for {prescription_id} received")


def _may(role: str, activity: str) -> bool:
    return activity in ROLE_ACTIVITIES.get(role, frozenset())


def _undo_last_notification(
    rows: list[Row], dispenser: str
) -> tuple[Row, dict[str, Any] | None, status.Issue]:
    """The row the dispenser's last notification changed, that notification's snapshot, and
    the issue as the notification found it — what a withdrawal restores and an amendment applies
    to. :func:`status.withdraw` refuses when there is no notification of the dispenser's to undo.
    """
    notified = [r for r in rows if r.history and r.issue.status in ("0003", "0006", "0007")]
    row = notified[-1] if notified else current_issue(rows)
    last = row.history[-1] if row.history else None
    previous = status.Issue(last["status"], last["items"], dispenser) if last else None
    return row, last, status.withdraw(row.issue, dispenser, previous)
