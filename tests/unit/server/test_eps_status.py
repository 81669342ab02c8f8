"""The EPS state machine as pure rules: every status against every action."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.server.domain import NotFound, RuleViolation
from harness.server.eps import status
from harness.server.eps.messages import check_character, new_prescription_id, valid_prescription_id
from harness.server.eps.status import Issue

ME, OTHER = "FA001", "FB002"
NOW = 1_000_000.0


def issue(code: str, dispenser: str | None = ME, items: dict[str, str] | None = None) -> Issue:
    default = {
        "0001": "0007", "0002": "0008", "0003": "0003", "0004": "0007", "0005": "0005",
        "0006": "0001", "0007": "0002", "0008": "0001", "0009": "0002", "9000": "0007",
        "9001": "0007", "9005": "0005",
    }[code]  # fmt: skip
    held = dispenser if code in ("0002", "0003", "0006", "0007", "0008", "0009") else None
    return Issue(code, items or {"a": default}, held, expires_at=NOW + 10, valid_from=NOW - 10)


def outcome(action: str, code: str) -> str:
    """The resulting status, or the refusal's code."""
    try:
        if action == "release":
            return status.release(issue(code), ME, NOW).status
        if action == "dispense":
            return status.dispense(issue(code), ME, {"a": "0001"}, NOW).status
        if action == "return":
            return status.return_(issue(code), ME, NOW).status
        if action == "claim":
            return status.claim(issue(code), ME, amendable=False).status
        if action == "cancel":
            return status.cancel(issue(code), "a", NOW)[1]
        raise AssertionError(action)
    except RuleViolation as exc:
        return exc.code


REFUSED = "PRESCRIPTION_INVALID_STATE_TRANSITION"
# status -> (release, dispense, return, claim, cancel)
TABLE = {
    "0001": ("0002", REFUSED, REFUSED, REFUSED, "R-0001"),
    "0002": (REFUSED, "0006", "0001", REFUSED, "R-0002"),
    "0003": (REFUSED, "0003", "0001", REFUSED, "R-0003"),
    "0005": (REFUSED, REFUSED, REFUSED, REFUSED, "R-0006"),
    "0006": (REFUSED, REFUSED, REFUSED, "0008", "R-0004"),
    "0007": (REFUSED, REFUSED, REFUSED, "0009", "R-0010"),
    "0008": (REFUSED, REFUSED, REFUSED, "CLAIM_AMEND_PERIOD_ISSUE", "R-0004"),
    "0009": (REFUSED, REFUSED, REFUSED, "CLAIM_AMEND_PERIOD_ISSUE", "R-0010"),
    "9000": (REFUSED, REFUSED, REFUSED, REFUSED, "R-0001"),
    "9005": (REFUSED, REFUSED, REFUSED, REFUSED, "R-0006"),
}


@pytest.mark.parametrize("code", sorted(TABLE))
@pytest.mark.parametrize(
    ("action", "column"),
    [("release", 0), ("dispense", 1), ("return", 2), ("claim", 3), ("cancel", 4)],
)
def test_transition_table(code: str, action: str, column: int) -> None:
    expected = TABLE[code][column]
    if code == "0003" and action == "dispense":
        expected = "0006"  # the open (partial) item is completed
    assert outcome(action, code) == expected


def test_partial_then_final_dispense() -> None:
    held = Issue("0002", {"a": "0008", "b": "0008"}, ME)
    partial = status.dispense(held, ME, {"a": "0001", "b": "0004"}, NOW)
    assert (partial.status, dict(partial.items)) == ("0003", {"a": "0001", "b": "0004"})
    final = status.dispense(partial, ME, {"b": "0003"}, NOW)
    assert final.status == "0003"  # 0003 (partial) is still open
    done = status.dispense(final, ME, {"b": "0001"}, NOW)
    assert done.status == "0006"
    nothing = status.dispense(held, ME, {"a": "0002", "b": "0002"}, NOW)
    assert nothing.status == "0007"
    with pytest.raises(RuleViolation) as refused:
        status.dispense(partial, ME, {"a": "0002"}, NOW)  # item a was already dispensed
    assert refused.value.code == "PRESCRIPTION_INVALID_LINE_STATE_TRANSITION"
    with pytest.raises(RuleViolation) as bad_code:
        status.dispense(held, ME, {"a": "0007"}, NOW)
    assert bad_code.value.code == "PRESCRIPTION_INVALID_LINE_STATE_TRANSITION"
    with pytest.raises(NotFound) as unknown:
        status.dispense(held, ME, {"z": "0001"}, NOW)
    assert unknown.value.code == "ITEM_NOT_FOUND"


@pytest.mark.parametrize(
    "act",
    [
        lambda held: status.release(held, ME, NOW),
        lambda held: status.dispense(held, ME, {"a": "0001"}, NOW),
        lambda held: status.return_(held, ME, NOW),
    ],
    ids=["release", "dispense", "return"],
)
def test_another_dispenser_is_named(act: Callable[[Issue], Issue]) -> None:
    held = Issue("0002", {"a": "0008"}, OTHER)
    with pytest.raises(RuleViolation) as refused:
        act(held)
    assert refused.value.code == "PRESCRIPTION_WITH_ANOTHER_DISPENSER"


def test_future_instances_and_expiry() -> None:
    future = Issue("9001", {"a": "0007"}, None, valid_from=NOW + 100, expires_at=NOW + 1000)
    assert status.effective(future, NOW) == "9001"
    assert status.effective(future, NOW + 100) == "0001"
    assert status.effective(future, NOW + 1000) == "0004"
    with pytest.raises(RuleViolation):
        status.release(future, ME, NOW)
    assert status.release(future, ME, NOW + 200).status == "0002"
    with pytest.raises(RuleViolation) as expired:
        status.cancel(future, "a", NOW + 2000)
    assert expired.value.code == "R-0005"


def test_cancel_marks_then_return_completes_it() -> None:
    held = Issue("0002", {"a": "0008"}, ME)
    marked, code = status.cancel(held, "a", NOW)
    assert (code, marked.status, marked.cancel_pending) == ("R-0002", "0002", "R-0002")
    returned = status.return_(marked, ME, NOW)
    assert (returned.status, dict(returned.items)) == ("0005", {"a": "0005"})
    two_items = Issue("0001", {"a": "0007", "b": "0007"}, None, expires_at=NOW + 10)
    one_cancelled, _ = status.cancel(two_items, "a", NOW)
    assert (one_cancelled.status, dict(one_cancelled.items)) == ("0001", {"a": "0005", "b": "0007"})
    assert status.cancel(one_cancelled, "b", NOW)[0].status == "0005"
    with pytest.raises(RuleViolation) as again:
        status.cancel(one_cancelled, "a", NOW)
    assert again.value.code == "R-0006"
    assert status.cancel(issue("9000"), "a", NOW)[0].status == "9005"


def test_withdraw_restores_the_previous_state() -> None:
    before = Issue("0002", {"a": "0008"}, ME)
    after = status.dispense(before, ME, {"a": "0001"}, NOW)
    assert status.withdraw(after, ME, before).status == "0002"
    with pytest.raises(RuleViolation):
        status.withdraw(before, ME, None)
    with pytest.raises(RuleViolation) as other:
        status.withdraw(after, OTHER, before)
    assert other.value.code == "PRESCRIPTION_WITH_ANOTHER_DISPENSER"
    claimed = status.claim(after, ME, amendable=False)
    with pytest.raises(RuleViolation):
        status.withdraw(claimed, ME, before)
    assert status.claim(claimed, ME, amendable=True).status == "0008"


def test_every_status_maps_to_a_task_status() -> None:
    task_statuses = {"requested", "accepted", "in-progress", "failed", "cancelled", "completed"}
    assert {task for _, task in status.STATUS.values()} <= task_statuses
    assert len(status.ITEM_STATUS) == 8


def test_short_form_prescription_ids() -> None:
    assert check_character("A0548BA99968451485"[:-1]) == check_character("A0548BA9996845148")
    for _ in range(200):
        value = new_prescription_id("A81001")
        assert valid_prescription_id(value, "A81001")
        assert not valid_prescription_id(value, "B82002")
        broken = value[:-1] + ("0" if value[-1] != "0" else "1")
        assert not valid_prescription_id(broken)
    assert valid_prescription_id(new_prescription_id("RJ1"), "RJ1")  # padded to 000RJ1
    assert not valid_prescription_id("not-an-id")
