"""The EPS state machine: prescription and line-item status codes and the allowed transitions.

Spine tracks every prescription *issue* with a four-digit status (``domain/spine.md`` §2.3):

====  ==========================  ===========  ==========================================
code  status                      Task.status  reached by
====  ==========================  ===========  ==========================================
0001  To Be Dispensed             requested    create; return; the next eRD issue
0002  With Dispenser              accepted     release (by id, or a nominated batch ≤ 25)
0003  With Dispenser - Active     in-progress  partial dispense notification
0004  Expired                     failed       6 months after the start (standard rule)
0005  Cancelled                   cancelled    cancel, or return while marked to cancel
0006  Dispensed                   completed    final notification, something dispensed
0007  Not Dispensed               completed    final notification, nothing dispensed
0008  Claimed                     completed    claim of 0006
0009  No-Claimed                  completed    claim of 0007
9000  Repeat Dispense future      requested    create of a repeat-dispensing (eRD) course
9001  Prescription future         requested    create with a start date in the future
9005  Cancelled future instance   cancelled    cancel of an eRD course
====  ==========================  ===========  ==========================================

Line items: 0001 Dispensed, 0002 Not Dispensed, 0003 Dispensed - Partial, 0004 Not Dispensed -
Owing, 0005 Cancelled, 0006 Expired, 0007 To be Dispensed, 0008 With Dispenser.

Everything else is refused with ``PRESCRIPTION_INVALID_STATE_TRANSITION`` (or
``PRESCRIPTION_WITH_ANOTHER_DISPENSER``, ``PRESCRIPTION_INVALID_LINE_STATE_TRANSITION``). A
prescription already dispensed is never dispensed again: a notification needs 0002 or 0003.
The functions here are pure; :mod:`harness.server.eps.service` applies them with conditional
updates so that concurrent requests cannot both pass the same check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from harness.server.domain import NotFound, RuleViolation

VALIDITY_S = 182 * 86_400  # prescriptions are valid for six months (standard rule, unverified)

STATUS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "0000": ("Awaiting Release Ready", "requested"),
        "0001": ("To Be Dispensed", "requested"),
        "0002": ("With Dispenser", "accepted"),
        "0003": ("With Dispenser - Active", "in-progress"),
        "0004": ("Expired", "failed"),
        "0005": ("Cancelled", "cancelled"),
        "0006": ("Dispensed", "completed"),
        "0007": ("Not Dispensed", "completed"),
        "0008": ("Claimed", "completed"),
        "0009": ("No-Claimed", "completed"),
        "9000": ("Repeat Dispense future instance", "requested"),
        "9001": ("Prescription future instance", "requested"),
        "9005": ("Cancelled future instance", "cancelled"),
    }
)
ITEM_STATUS: Mapping[str, str] = MappingProxyType(
    {
        "0001": "Dispensed",
        "0002": "Not Dispensed",
        "0003": "Dispensed - Partial",
        "0004": "Not Dispensed - Owing",
        "0005": "Cancelled",
        "0006": "Expired",
        "0007": "To be Dispensed",
        "0008": "With Dispenser",
    }
)
DISPENSE_CODES = frozenset({"0001", "0002", "0003", "0004"})  # what a notification may say
OPEN_ITEMS = frozenset({"0003", "0004", "0007", "0008"})  # items a dispenser can still act on
WITH_DISPENSER = frozenset({"0002", "0003"})


@dataclass(frozen=True, slots=True)
class Issue:
    """The state of one prescription issue that the rules look at and change."""

    status: str
    items: Mapping[str, str]  # line item id -> line item status
    dispenser: str | None
    cancel_pending: str | None = None
    valid_from: float = 0.0
    expires_at: float = float("inf")


def effective(issue: Issue, now: float) -> str:
    """The status as of ``now``: future instances fall due and open issues expire."""
    status = issue.status
    if status == "9001" and now >= issue.valid_from:
        status = "0001"
    if status in ("0001", "9001") and now >= issue.expires_at:
        return "0004"
    return status


def _refuse(status: str, action: str) -> RuleViolation:
    name = STATUS.get(status, ("unknown", ""))[0]
    return RuleViolation(
        f"cannot {action} a prescription with status {status} ({name})",
        code="PRESCRIPTION_INVALID_STATE_TRANSITION",
    )


def _mine(issue: Issue, dispenser: str, status: str, action: str) -> None:
    if status in WITH_DISPENSER and issue.dispenser != dispenser:
        raise RuleViolation(
            f"cannot {action}: the prescription is with another dispenser",
            code="PRESCRIPTION_WITH_ANOTHER_DISPENSER",
        )


def release(issue: Issue, dispenser: str, now: float) -> Issue:
    """0001 → 0002, with ``dispenser``."""
    status = effective(issue, now)
    _mine(issue, dispenser, status, "release")
    if status != "0001":
        raise _refuse(status, "release")
    items = {k: "0008" if v == "0007" else v for k, v in issue.items.items()}
    return replace(issue, status="0002", items=items, dispenser=dispenser)


def dispense(issue: Issue, dispenser: str, notified: Mapping[str, str], now: float) -> Issue:
    """A dispense notification: 0002/0003 → 0003 (items still open), 0006 or 0007."""
    status = effective(issue, now)
    _mine(issue, dispenser, status, "dispense")
    if status not in WITH_DISPENSER:
        raise _refuse(status, "dispense")
    items = dict(issue.items)
    for item, code in notified.items():
        if item not in items:
            raise NotFound(f"line item {item} is not on this prescription", code="ITEM_NOT_FOUND")
        if code not in DISPENSE_CODES or items[item] not in OPEN_ITEMS:
            raise RuleViolation(
                f"line item {item} cannot go from {items[item]} "
                f"({ITEM_STATUS.get(items[item], '?')}) to {code}",
                code="PRESCRIPTION_INVALID_LINE_STATE_TRANSITION",
            )
        items[item] = code
    if any(code in OPEN_ITEMS for code in items.values()):
        new_status = "0003"
    else:
        new_status = "0006" if "0001" in items.values() else "0007"
    pending = issue.cancel_pending if new_status == "0003" else None
    return replace(issue, status=new_status, items=items, cancel_pending=pending)


def return_(issue: Issue, dispenser: str, now: float) -> Issue:
    """Give a downloaded prescription back: 0002/0003 → 0001, or 0005 if marked to cancel."""
    status = effective(issue, now)
    _mine(issue, dispenser, status, "return")
    if status not in WITH_DISPENSER:
        raise _refuse(status, "return")
    if issue.cancel_pending:
        items = {k: "0005" if v in OPEN_ITEMS else v for k, v in issue.items.items()}
        return replace(issue, status="0005", items=items, dispenser=None, cancel_pending=None)
    items = {k: "0007" if v == "0008" else v for k, v in issue.items.items()}
    return replace(issue, status="0001", items=items, dispenser=None)


def withdraw(issue: Issue, dispenser: str, previous: Issue | None) -> Issue:
    """Undo the last dispense notification (not once claimed)."""
    if issue.status not in ("0003", "0006", "0007") or previous is None:
        raise _refuse(issue.status, "withdraw a dispense notification of")
    if issue.dispenser != dispenser:
        raise RuleViolation(
            "only the dispenser that sent a notification can withdraw it",
            code="PRESCRIPTION_WITH_ANOTHER_DISPENSER",
        )
    return replace(issue, status=previous.status, items=previous.items)


def claim(issue: Issue, dispenser: str, amendable: bool) -> Issue:
    """0006 → 0008 and 0007 → 0009; a claimed issue may be amended within the claim period."""
    if issue.dispenser != dispenser and issue.status in ("0006", "0007", "0008", "0009"):
        raise RuleViolation(
            "only the dispenser that dispensed a prescription can claim for it",
            code="PRESCRIPTION_WITH_ANOTHER_DISPENSER",
        )
    if issue.status in ("0008", "0009"):
        if not amendable:
            raise RuleViolation(
                "the claim can no longer be amended: the claim period has ended",
                code="CLAIM_AMEND_PERIOD_ISSUE",
            )
        return issue
    if issue.status == "0006":
        return replace(issue, status="0008")
    if issue.status == "0007":
        return replace(issue, status="0009")
    raise _refuse(issue.status, "claim for")


# Cancel outcomes: (new issue, response code). R-0001 (success) is by analogy with the
# documented R-codes; 0002/0003 are answers, not refusals: the cancel waits for the dispenser.
CANCEL_REFUSALS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "0004": ("R-0005", "Prescription has expired"),
        "0005": ("R-0006", "Prescription/item had already been cancelled"),
        "9005": ("R-0006", "Prescription/item had already been cancelled"),
        "0006": ("R-0004", "Prescription/item had already been dispensed"),
        "0008": ("R-0004", "Prescription/item had already been dispensed"),
        "0007": ("R-0010", "Prescription/item was not dispensed"),
        "0009": ("R-0010", "Prescription/item was not dispensed"),
    }
)


def cancel(issue: Issue, item: str, now: float) -> tuple[Issue, str]:
    """Cancel one line item (and the issue once every item is cancelled)."""
    status = effective(issue, now)
    if item not in issue.items:
        raise NotFound(f"line item {item} is not on this prescription", code="R-0008")
    if status in CANCEL_REFUSALS or issue.items[item] == "0005":
        code, text = CANCEL_REFUSALS.get(status, CANCEL_REFUSALS["0005"])
        raise RuleViolation(text, code=code)
    if status in WITH_DISPENSER:
        code = "R-0002" if status == "0002" else "R-0003"
        return replace(issue, cancel_pending=code), code
    items = {**issue.items, item: "0005"}
    if all(code == "0005" for code in items.values()):
        new_status = "9005" if status in ("9000", "9001") else "0005"
        return replace(issue, status=new_status, items=items), "R-0001"
    return replace(issue, items=items), "R-0001"
