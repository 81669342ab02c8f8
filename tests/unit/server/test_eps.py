"""EPS over HTTP: prescribing, dispensing, the state machine, concurrency, RBAC."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from harness.server.eps.service import EpsService
from harness.server.identity.service import Session
from tests import builders
from tests.factories import fhir_valid, login_as, org_code, outcome_code, rid

PRESCRIBING = "/fhir-prescribing/FHIR/R4"
DISPENSING = "/fhir-dispensing/FHIR/R4"
PATIENT = "9000000009"


@dataclass
class World:
    client: TestClient
    gp_ods: str
    gp: dict[str, str]
    pharmacy: str
    pharmacist: dict[str, str]
    other_pharmacy: str
    other_pharmacist: dict[str, str]

    def post(self, path: str, body: Any, headers: dict[str, str], **extra: str) -> Any:
        return self.client.post(path, json=body, headers={**headers, **rid(), **extra})

    def create(self, **kwargs: Any) -> tuple[str, list[str]]:
        kwargs.setdefault("nominated", self.pharmacy)
        pid, lines, body = builders.order(self.gp_ods, PATIENT, **kwargs)
        response = self.post(f"{PRESCRIBING}/$process-message", body, self.gp)
        assert response.status_code == 200, response.text
        fhir_valid(response.json())
        return pid, lines

    def release(self, pid: str | None = None, *, other: bool = False) -> Any:
        owner, headers = (
            (self.other_pharmacy, self.other_pharmacist)
            if other
            else (self.pharmacy, self.pharmacist)
        )
        return self.post(f"{DISPENSING}/Task/$release", builders.release(owner, pid), headers)

    def dispense(
        self, pid: str, codes: dict[str, str], *, other: bool = False, **extra: str
    ) -> Any:
        owner, headers = (
            (self.other_pharmacy, self.other_pharmacist)
            if other
            else (self.pharmacy, self.pharmacist)
        )
        body = builders.dispense(pid, codes, PATIENT, owner)
        return self.post(f"{DISPENSING}/$process-message", body, headers, **extra)

    def task(self, pid: str, action: str) -> Any:
        return self.post(
            f"{DISPENSING}/Task", builders.task(pid, action, self.pharmacy), self.pharmacist
        )

    def claim(self, pid: str) -> Any:
        return self.post(
            f"{DISPENSING}/Claim", builders.claim(pid, PATIENT, self.pharmacy), self.pharmacist
        )

    def cancel(
        self, pid: str, line: str, headers: dict[str, str] | None = None, nhs: str = PATIENT
    ) -> Any:
        body = builders.cancel(pid, line, nhs)
        return self.post(f"{PRESCRIBING}/$process-message", body, headers or self.gp)

    def track(self, pid: str) -> list[tuple[str, dict[str, str]]]:
        response = self.client.get(
            f"{PRESCRIBING}/Task", params={"focus:identifier": pid}, headers={**self.gp, **rid()}
        )
        assert response.status_code == 200, response.text
        body = fhir_valid(response.json())
        return [
            (
                e["resource"]["businessStatus"]["coding"][0]["code"],
                {
                    o["valueReference"]["identifier"]["value"]: o["type"]["coding"][0]["code"]
                    for o in e["resource"]["output"]
                },
            )
            for e in body["entry"]  # type: ignore[attr-defined]
        ]

    def advance(self, seconds: float) -> None:
        """Move the server clock on; sessions expire, so log in again."""
        assert self.client.post("/admin/clock", json={"advance_s": seconds}).status_code == 200
        self.gp = login_as(self.client, self.gp_ods, "R8000")
        self.pharmacist = login_as(self.client, self.pharmacy, "R8003")
        self.other_pharmacist = login_as(self.client, self.other_pharmacy, "R8003")

    def statuses(self, pid: str) -> list[str]:
        return [code for code, _ in self.track(pid)]


@pytest.fixture
def world(client: TestClient) -> World:
    gp_ods = org_code(client, "gp-practice")
    pharmacy, other = (
        org_code(client, "community-pharmacy", 0),
        org_code(client, "community-pharmacy", 1),
    )
    return World(
        client,
        gp_ods,
        login_as(client, gp_ods, "R8000"),
        pharmacy,
        login_as(client, pharmacy, "R8003"),
        other,
        login_as(client, other, "R8003"),
    )


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return fhir_valid(response.json())


def refused(response: Any, status_code: int, code: str) -> None:
    assert response.status_code == status_code, response.text
    assert outcome_code(response) == code


def test_prescription_lifecycle(world: World) -> None:
    pid, (a, b) = world.create()
    assert world.track(pid) == [("0001", {a: "0007", b: "0007"})]
    released = ok(world.release(pid))
    bundle = released["parameter"][0]["resource"]  # type: ignore[index]
    assert bundle["total"] == 1
    assert world.track(pid) == [("0002", {a: "0008", b: "0008"})]
    ok(world.dispense(pid, {a: "0001", b: "0004"}))
    assert world.track(pid) == [("0003", {a: "0001", b: "0004"})]
    ok(world.dispense(pid, {b: "0001"}))
    assert world.statuses(pid) == ["0006"]
    ok(world.claim(pid))
    assert world.statuses(pid) == ["0008"]
    ok(world.claim(pid))  # an amendment within the claim period
    world.advance(40 * 86_400)
    refused(world.claim(pid), 400, "CLAIM_AMEND_PERIOD_ISSUE")


def test_not_dispensed_is_no_claimed(world: World) -> None:
    pid, (a, b) = world.create()
    ok(world.release(pid))
    ok(world.dispense(pid, {a: "0002", b: "0002"}))
    assert world.statuses(pid) == ["0007"]
    ok(world.claim(pid))
    assert world.statuses(pid) == ["0009"]


def test_refused_transitions(world: World) -> None:
    pid, (a, b) = world.create()
    refused(world.dispense(pid, {a: "0001"}), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    refused(world.claim(pid), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    refused(world.task(pid, "return"), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    refused(world.task(pid, "withdraw"), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    ok(world.release(pid))
    refused(world.release(pid, other=True), 400, "PRESCRIPTION_WITH_ANOTHER_DISPENSER")
    refused(
        world.dispense(pid, {a: "0001"}, other=True), 400, "PRESCRIPTION_WITH_ANOTHER_DISPENSER"
    )
    refused(world.release(pid), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    refused(world.dispense(pid, {"no-such-item": "0001"}), 404, "ITEM_NOT_FOUND")
    ok(world.dispense(pid, {a: "0001"}))
    refused(world.dispense(pid, {a: "0002"}), 400, "PRESCRIPTION_INVALID_LINE_STATE_TRANSITION")
    ok(world.dispense(pid, {b: "0001"}))
    # Dispensed: never dispensed again.
    refused(
        world.dispense(pid, {a: "0001", b: "0001"}), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION"
    )
    ok(world.claim(pid))
    refused(world.task(pid, "withdraw"), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    missing = builders.order(world.gp_ods, PATIENT)[0]
    refused(world.release(missing), 404, "PRESCRIPTION_NOT_FOUND")


def test_return_lets_another_pharmacy_release(world: World) -> None:
    pid, _ = world.create()
    ok(world.release(pid))
    ok(world.task(pid, "return"))
    assert world.statuses(pid) == ["0001"]
    ok(world.release(pid, other=True))
    assert world.statuses(pid) == ["0002"]


def test_withdraw_undoes_the_last_notification(world: World) -> None:
    pid, (a, b) = world.create()
    ok(world.release(pid))
    ok(world.dispense(pid, {a: "0001", b: "0004"}))
    ok(world.dispense(pid, {b: "0001"}))
    ok(world.task(pid, "withdraw"))
    assert world.track(pid) == [("0003", {a: "0001", b: "0004"})]
    ok(world.task(pid, "withdraw"))
    assert world.track(pid) == [("0002", {a: "0008", b: "0008"})]
    refused(world.task(pid, "withdraw"), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    ok(world.dispense(pid, {a: "0001", b: "0001"}))
    assert world.statuses(pid) == ["0006"]


def _cancel_code(response: Any) -> str:
    body = ok(response)
    return str(body["issue"][0]["details"]["coding"][0]["code"])  # type: ignore[index]


def test_cancel_response_codes(world: World) -> None:
    pid, (a, b) = world.create()
    assert _cancel_code(world.cancel(pid, a)) == "R-0001"
    assert world.track(pid) == [("0001", {a: "0005", b: "0007"})]
    refused(world.cancel(pid, a), 400, "R-0006")
    assert _cancel_code(world.cancel(pid, b)) == "R-0001"
    assert world.statuses(pid) == ["0005"]
    refused(world.release(pid), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")

    held, (c, _) = world.create()
    ok(world.release(held))
    assert _cancel_code(world.cancel(held, c)) == "R-0002"
    ok(world.task(held, "return"))  # returning completes the cancellation
    assert world.statuses(held) == ["0005"]

    active, (e, f) = world.create()
    ok(world.release(active))
    ok(world.dispense(active, {e: "0001", f: "0004"}))
    assert _cancel_code(world.cancel(active, f)) == "R-0003"
    ok(world.dispense(active, {f: "0001"}))
    refused(world.cancel(active, f), 400, "R-0004")

    nothing, (g, h) = world.create()
    ok(world.release(nothing))
    ok(world.dispense(nothing, {g: "0002", h: "0002"}))
    refused(world.cancel(nothing, g), 400, "R-0010")

    other_gp = login_as(world.client, org_code(world.client, "gp-practice", 1), "R8000")
    fresh, (i, _) = world.create()
    refused(world.cancel(fresh, i, other_gp), 400, "R-0007")
    refused(world.cancel(fresh, i, nhs="9000000017"), 400, "R-5000")
    refused(world.cancel(builders.order(world.gp_ods, PATIENT)[0], i), 404, "R-0008")
    malformed = builders.cancel(fresh, i, PATIENT)
    malformed["entry"].append(malformed["entry"][-1])
    refused(world.post(f"{PRESCRIBING}/$process-message", malformed, world.gp), 400, "R-5888")


def test_nominated_release_in_batches_of_25(world: World) -> None:
    ids = {world.create(items=1)[0] for _ in range(27)}
    world.create(items=1, nominated=world.other_pharmacy)
    first = ok(world.release())["parameter"][0]["resource"]  # type: ignore[index]
    second = ok(world.release())["parameter"][0]["resource"]  # type: ignore[index]
    assert (first["total"], second["total"]) == (25, 2)
    released = [
        e["resource"]["entry"][2]["resource"]["groupIdentifier"]["value"]
        for batch in (first, second)
        for e in batch["entry"]
    ]
    assert set(released) == ids
    assert len(released) == len(ids)
    refused(world.release(), 200, "NO_MORE_PRESCRIPTIONS")
    assert ok(world.release(other=True))["parameter"][0]["resource"]["total"] == 1  # type: ignore[index]


def test_repeat_dispensing_course(world: World) -> None:
    pid, (a,) = world.create(repeats=2, items=1)
    assert world.statuses(pid) == ["0001", "9000", "9000"]
    ok(world.release(pid))
    ok(world.dispense(pid, {a: "0001"}))
    assert world.statuses(pid) == ["0006", "0001", "9000"]
    ok(world.claim(pid))
    assert world.statuses(pid) == ["0008", "0001", "9000"]
    assert _cancel_code(world.cancel(pid, a)) == "R-0001"
    assert world.statuses(pid) == ["0008", "0005", "9005"]


def test_post_dated_and_expired_prescriptions(world: World) -> None:
    import datetime as dt

    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).date().isoformat()
    pid, (_a, _) = world.create(start=start)
    assert world.statuses(pid) == ["9001"]
    refused(world.release(pid), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    world.advance(11 * 86_400)
    assert world.statuses(pid) == ["0001"]
    ok(world.release(pid))
    plain, (b, _) = world.create()
    world.advance(200 * 86_400)
    assert world.statuses(plain) == ["0004"]
    refused(world.release(plain), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    refused(world.cancel(plain, b), 400, "R-0005")


def test_two_concurrent_dispenses_exactly_one_succeeds(world: World) -> None:
    pid, (a, b) = world.create()
    ok(world.release(pid))
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(
            pool.map(lambda _: world.dispense(pid, {a: "0001", b: "0001"}).status_code, range(4))
        )
    assert statuses == [200, 400, 400, 400]
    assert world.statuses(pid) == ["0006"]


def test_concurrent_dispenses_in_the_service_exactly_one_succeeds(world: World) -> None:
    pid, (a, b) = world.create()
    ok(world.release(pid))
    service: EpsService = world.client.app.state.eps  # type: ignore[attr-defined]
    session = Session("t", "u", "1", "R8003", world.pharmacy, "a", 0.0)
    body = builders.dispense(pid, {a: "0001", b: "0001"}, PATIENT, world.pharmacy)

    async def race() -> list[object]:
        return list(
            await asyncio.gather(
                *(service.dispense(session, body) for _ in range(3)), return_exceptions=True
            )
        )

    assert world.client.portal is not None
    outcomes = world.client.portal.call(race)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1, outcomes
    assert all(
        getattr(o, "code", None) == "PRESCRIPTION_INVALID_STATE_TRANSITION"
        for o in outcomes
        if isinstance(o, BaseException)
    )


def test_concurrent_batches_never_share_a_prescription(world: World) -> None:
    ids = {world.create(items=1)[0] for _ in range(12)}
    second_pharmacist = login_as(world.client, world.pharmacy, "R8003", user=1)

    def batch(headers: dict[str, str]) -> list[str]:
        body = world.post(
            f"{DISPENSING}/Task/$release", builders.release(world.pharmacy), headers
        ).json()
        if body["resourceType"] == "OperationOutcome":
            return []
        entries = body["parameter"][0]["resource"]["entry"]
        return [e["resource"]["entry"][2]["resource"]["groupIdentifier"]["value"] for e in entries]

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(batch, [world.pharmacist, second_pharmacist])
    assert not set(first) & set(second)
    assert set(first) | set(second) == ids


def test_retried_notification_is_replayed_not_repeated(world: World) -> None:
    pid, (a, b) = world.create()
    ok(world.release(pid))
    same = {"X-Request-ID": str(uuid.uuid4())}
    first = world.dispense(pid, {a: "0001", b: "0001"}, **same)
    again = world.dispense(pid, {a: "0001", b: "0001"}, **same)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    ok(world.task(pid, "withdraw"))  # exactly one notification was recorded
    refused(world.task(pid, "withdraw"), 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")


def test_an_amended_dispense_notification_takes_the_place_of_the_last(world: World) -> None:
    pid, (a, b) = world.create()
    ok(world.release(pid))
    ok(world.dispense(pid, {a: "0001", b: "0001"}))
    assert world.track(pid) == [("0006", {a: "0001", b: "0001"})]
    second = world.dispense(pid, {a: "0001"})  # not an amendment: a second dispense
    refused(second, 400, "PRESCRIPTION_INVALID_STATE_TRANSITION")
    amend = builders.dispense(pid, {a: "0001", b: "0004"}, PATIENT, world.pharmacy)
    header = amend["entry"][0]["resource"]
    header["extension"] = [
        {
            "url": "https://fhir.nhs.uk/StructureDefinition/Extension-replacementOf",
            "valueIdentifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": "x"},
        }
    ]
    ok(world.post(f"{DISPENSING}/$process-message", amend, world.pharmacist))
    assert world.track(pid) == [("0003", {a: "0001", b: "0004"})]  # as if it had been the first


def test_prescription_checks(world: World) -> None:
    gp, url = world.gp, f"{PRESCRIBING}/$process-message"
    pid, _, body = builders.order(world.gp_ods, PATIENT)
    broken_id = pid[:-1] + ("0" if pid[-1] != "0" else "1")
    _, _, bad_id = builders.order(world.gp_ods, PATIENT, prescription_id=broken_id)
    refused(world.post(url, bad_id, gp), 400, "INVALID_VALUE")
    # The check character is checked, not whose ODS code the id carries: EPS accepts the
    # published 5EA56C-Z6EA5E-710A1O from A99968 (tests/conformance/test_eps_examples.py).
    other_org = builders.order(org_code(world.client, "gp-practice", 1), PATIENT)[2]
    ok(world.post(url, other_org, gp))
    refused(
        world.post(url, builders.order(world.gp_ods, PATIENT, nominated=world.gp_ods)[2], gp),
        400,
        "INVALID_VALUE",
    )
    refused(
        world.post(url, builders.order(world.gp_ods, "9111231130")[2], gp), 400, "INVALID_VALUE"
    )
    refused(
        world.post(url, builders.order(world.gp_ods, PATIENT, items=5)[2], gp),
        400,
        "INVALID_MESSAGE",
    )
    ok(world.post(url, body, gp))
    refused(world.post(url, body, gp), 409, "DUPLICATE_PRESCRIPTION")
    wrong_event = builders.dispense(pid, {}, PATIENT, world.pharmacy)
    refused(world.post(url, wrong_event, gp), 400, "INVALID_MESSAGE")
    not_json = world.client.post(url, content=b"<xml/>", headers={**gp, **rid()})
    refused(not_json, 400, "INVALID_MESSAGE")


def test_prepare_returns_a_digest(world: World) -> None:
    _, _, body = builders.order(world.gp_ods, PATIENT)
    answer = ok(world.post(f"{PRESCRIBING}/$prepare", body, world.gp))
    names = [p["name"] for p in answer["parameter"]]  # type: ignore[attr-defined]
    assert names == ["digest", "timestamp", "algorithm"]


@pytest.mark.parametrize(
    ("org_type", "role", "action"),
    [
        ("gp-practice", "R8001", "create"),  # a nurse cannot prescribe here
        ("gp-practice", "R8008", "prepare"),
        ("community-pharmacy", "R8003", "create"),  # a pharmacist cannot prescribe
        ("gp-practice", "R8000", "release"),  # a GP cannot dispense
        ("community-pharmacy", "R8008", "release"),  # nor can a pharmacy's admin staff
        ("community-pharmacy", "R8008", "dispense"),
    ],
)
def test_rbac_on_prescriptions(world: World, org_type: str, role: str, action: str) -> None:
    ods = org_code(world.client, org_type)
    headers = login_as(world.client, ods, role)
    pid, lines, body = builders.order(ods, PATIENT)
    path, sent = {
        "create": (f"{PRESCRIBING}/$process-message", body),
        "prepare": (f"{PRESCRIBING}/$prepare", body),
        "release": (f"{DISPENSING}/Task/$release", builders.release(ods)),
        "dispense": (
            f"{DISPENSING}/$process-message",
            builders.dispense(pid, {lines[0]: "0001"}, PATIENT, ods),
        ),
    }[action]
    refused(world.post(path, sent, headers), 403, "ACCESS_DENIED")


def test_release_owner_and_tracker_access(world: World) -> None:
    pid, _ = world.create()
    wrong_owner = builders.release(world.other_pharmacy, pid)
    refused(
        world.post(f"{DISPENSING}/Task/$release", wrong_owner, world.pharmacist),
        403,
        "ACCESS_DENIED",
    )
    stranger = login_as(world.client, org_code(world.client, "community-pharmacy", 2), "R8003")
    response = world.client.get(
        f"{PRESCRIBING}/Task", params={"focus:identifier": pid}, headers={**stranger, **rid()}
    )
    refused(response, 403, "ACCESS_DENIED")


def test_openapi_describes_eps(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in [
        (f"{PRESCRIBING}/$prepare", "post"),
        (f"{PRESCRIBING}/$process-message", "post"),
        (f"{PRESCRIBING}/Task", "get"),
        (f"{DISPENSING}/Task/$release", "post"),
        (f"{DISPENSING}/$process-message", "post"),
        (f"{DISPENSING}/Task", "post"),
        (f"{DISPENSING}/Claim", "post"),
    ]:
        operation = paths[path][method]
        assert "application/fhir+json" in operation["responses"]["200"]["content"]
        if method == "post":
            schema = operation["requestBody"]["content"]["application/fhir+json"]["schema"]
            assert schema["properties"]["resourceType"]


# The published shapes (NHSDigital/electronic-prescription-service-api, examples/): release
# owner as an Organization resource, authorizingPrescription referencing a contained
# MedicationRequest, and a Claim naming its prescription by Extension-DM-GroupIdentifier.
def _published_release(owner: str, pid: str) -> dict[str, Any]:
    body = builders.release(owner, pid)
    organisation = {
        "resourceType": "Organization",
        "identifier": [{"system": builders.ODS, "value": owner}],
        "name": "The Simple Pharmacy",
    }
    body["parameter"][0] = {"name": "owner", "resource": organisation}
    return body


def _published_dispense(body: dict[str, Any]) -> dict[str, Any]:
    for entry in body["entry"]:
        dispense = entry["resource"]
        if dispense["resourceType"] != "MedicationDispense":
            continue
        authorising = dispense["authorizingPrescription"][0]
        group = authorising["extension"][0]["extension"][0]["valueIdentifier"]
        dispense["contained"] = [
            {
                "resourceType": "MedicationRequest",
                "id": "m1",
                "status": "active",
                "intent": "order",
                "subject": dispense["subject"],
                "medicationCodeableConcept": dispense["medicationCodeableConcept"],
                "groupIdentifier": group,
                "identifier": [authorising["identifier"]],
            }
        ]
        dispense["authorizingPrescription"] = [{"reference": "#m1"}]
    return body


def _published_claim(body: dict[str, Any]) -> dict[str, Any]:
    pid = body["prescription"]["identifier"]
    body["prescription"] = {
        "extension": [
            {
                "url": builders.GROUP_IDENTIFIER_URL,
                "extension": [{"url": "shortForm", "valueIdentifier": pid}],
            }
        ]
    }
    return body


def test_prescription_lifecycle_in_the_published_shapes(world: World) -> None:
    pid, (a, b) = world.create()
    release = _published_release(world.pharmacy, pid)
    ok(world.post(f"{DISPENSING}/Task/$release", release, world.pharmacist))
    notification = _published_dispense(
        builders.dispense(pid, {a: "0001", b: "0001"}, PATIENT, world.pharmacy)
    )
    fhir_valid(notification)
    ok(world.post(f"{DISPENSING}/$process-message", notification, world.pharmacist))
    assert world.track(pid) == [("0006", {a: "0001", b: "0001"})]
    claim = _published_claim(builders.claim(pid, PATIENT, world.pharmacy))
    ok(world.post(f"{DISPENSING}/Claim", claim, world.pharmacist))
    assert world.statuses(pid) == ["0008"]


def test_published_refusals_of_malformed_messages(world: World) -> None:
    _, _, order = builders.order(world.gp_ods, PATIENT, nominated=world.pharmacy)
    for entry in order["entry"]:
        if entry["resource"]["resourceType"] == "MedicationRequest":
            entry["resource"]["intent"] = "plan"
    response = world.post(f"{PRESCRIBING}/$process-message", order, world.gp)
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert (issue["code"], issue["diagnostics"]) == (
        "value",
        "MedicationRequest.intent must be order, original-order or instance-order.",
    )
    pid, (a, b) = world.create()
    ok(world.release(pid))
    notification = builders.dispense(pid, {a: "0002", b: "0002"}, PATIENT, world.pharmacy)
    dispenses = [e["resource"] for e in notification["entry"]][-2:]
    for dispense, reason in zip(dispenses, ("0008", "0004"), strict=True):
        dispense["extension"] = [
            {
                "url": "https://fhir.nhs.uk/StructureDefinition/"
                "Extension-DM-PrescriptionNonDispensingReason",
                "valueCoding": {"code": reason},
            }
        ]
    response = world.post(f"{DISPENSING}/$process-message", notification, world.pharmacist)
    refused(response, 400, "INVALID_VALUE")
    assert response.json()["issue"][0]["code"] == "invalid"
    assert "prescriptionNonDispensingReason" in response.json()["issue"][0]["diagnostics"]


def test_published_reference_to_a_missing_contained_request_is_refused(world: World) -> None:
    pid, (a, _) = world.create()
    ok(world.release(pid))
    notification = _published_dispense(builders.dispense(pid, {a: "0001"}, PATIENT, world.pharmacy))
    notification["entry"][-1]["resource"]["authorizingPrescription"] = [{"reference": "#m9"}]
    response = world.post(f"{DISPENSING}/$process-message", notification, world.pharmacist)
    refused(response, 400, "INVALID_MESSAGE")
