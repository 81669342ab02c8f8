"""Every published EPS example request, sent unchanged, gets the answer its file name gives.

Source: NHSDigital/electronic-prescription-service-api at commit
77e80e11f58013e89c6b4f1c3d767373faa8c29d, ``examples/`` (MIT; copies under ``published/``):
every request file (``…Request…json``). Its name gives the answer: ``…-200_OK`` a 200,
``…-400_<reason>`` a 400; the one file named for neither is the specification's "spine error:
patient deceased" example, a refusal.

The files of one folder with one number prefix are one flow on one prescription (``1-Prepare``,
``1-Process-Request-Send``, ``1-Task-Request-Release``, ``1-Process-Request-Dispense``,
``1-Claim`` …). As environment set-up, not as cases:

- each folder starts on a fresh server (``DELETE /admin/reset``: the published records stay),
  because the examples reuse prescription ids across folders, which a service that keeps its
  prescriptions refuses the second time;
- a flow that acts on a prescription it does not create (a cancel or a release of another
  folder's prescription, as the published flows were played one after another on one service)
  is preceded by that prescription's first published send;
- each flow is played on its own day: the server's clock is set (``POST /admin/clock``, test
  mode) to noon of the day its prescription became valid (``validityPeriod.start``, else
  ``authoredOn``), as the flows were recorded — EPS expires a prescription six months after
  that, and most examples are years old;
- each request is sent by a user of the organisation it names, with the role its side needs: the
  prescriber (the short-form prescription id's ODS code) for prepare, send and cancel, and the
  releasing pharmacy (the release's ``owner``) for the release and everything after it in the
  flow — some published dispense notifications and claims name another pharmacy as their
  sender, which would be a dispenser that never released the prescription. A message without
  those falls back to the pharmacy it names (the Task's ``owner``, the
  ``MessageHeader.sender``, the claim's provider), then to any organisation it names that the
  directory holds in the role.

Each case is judged on its status, the published media type and FHIR R4B validity.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conformance.conftest import differences
from tests.conformance.judging import params_of
from tests.conformance.test_eps import DISPENSING, EPS_MEDIA_TYPE, PRESCRIBING, SOURCE
from tests.conftest import ADMIN_TOKEN
from tests.factories import fhir_valid, login_as

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
PRESCRIBER_ROLE, DISPENSER_ROLE = "R8000", "R8003"
# (pattern of the file name, step of the flow, path, the acting organisation's side)
KINDS = [
    (r"Prepare-?Request", 0, f"{PRESCRIBING}/$prepare", "prescriber"),
    (r"Process-Request-(Multiple-DosageInstructions-)?Send|SendRequest", 1,
     f"{PRESCRIBING}/$process-message", "prescriber"),
    (r"Process-Request-Cancel", 2, f"{PRESCRIBING}/$process-message", "prescriber"),
    (r"Request-Release", 3, f"{DISPENSING}/Task/$release", "owner"),
    (r"Process-Request-Dispense", 4, f"{DISPENSING}/$process-message", "sender"),
    (r"Task-Request-(Withdraw|Return)", 5, f"{DISPENSING}/Task", "owner"),
    (r"Claim-Request", 6, f"{DISPENSING}/Claim", "claimant"),
    (r"VerifySignature", 7, f"{PRESCRIBING}/$verify-signature", "prescriber"),
]  # fmt: skip


@dataclass(frozen=True)
class Example:
    """One published request file and the answer its name gives."""

    file: str  # under the repository copy
    step: int  # its place in its flow
    path: str
    side: str
    status: int

    @property
    def id(self) -> str:
        return self.file.removeprefix("examples/").removesuffix(".json")

    @property
    def flow(self) -> tuple[str, int]:
        """Its folder and number prefix (0 when it has none)."""
        number = re.match(r"(\d+)-", Path(self.file).name)
        return str(Path(self.file).parent), int(number.group(1)) if number else 0


def _status(name: str) -> int:
    found = re.search(r"[-_](\d{3})_", name)
    return int(found.group(1)) if found else 400  # the one unnamed file: a refusal


def examples() -> list[Example]:
    """Every request file of the copy, in flow order."""
    found = []
    for path in sorted((SOURCE / "examples").rglob("*.json")):
        if "Request" not in path.name or "Response" in path.name:
            continue
        pattern, step, api_path, side = next(k for k in KINDS if re.search(k[0], path.name))
        del pattern
        name = str(path.relative_to(SOURCE))
        found.append(Example(name, step, api_path, side, _status(path.name)))
    return sorted(found, key=lambda e: (e.flow, e.step, e.file))


CASES = examples()
LISTED = differences().get("eps", {})
SHORT_FORM = re.compile(r'"([0-9A-F]{6}-[0-9A-Z]{6}-[0-9A-Z+]{6})"')


def _prescriptions(example: Example) -> set[str]:
    return set(SHORT_FORM.findall(_text(example.file)))


NHS_NUMBER = re.compile(r'"https://fhir.nhs.uk/Id/nhs-number",\s*"value":\s*"(\d{10})"')


def _patients(example: Example) -> set[str]:
    return set(NHS_NUMBER.findall(_text(example.file)))


def creators() -> dict[tuple[str, str], Example]:
    """The first published prescription-order (a 200 send) of each prescription id and
    patient: the examples send one id for two patients in two folders."""
    found: dict[tuple[str, str], Example] = {}
    for example in CASES:
        if example.step == 1 and example.status == 200:
            for key in itertools.product(_prescriptions(example), _patients(example)):
                found.setdefault(key, example)
    return found


def set_up(flow: list[Example], made: dict[tuple[str, str], Example]) -> list[Example]:
    """The sends of the prescriptions the flow acts on but does not create (see above)."""
    created = {p for e in flow if e.step == 1 for p in _prescriptions(e)}
    sends: list[Example] = []
    for example in (e for e in flow if e.step > 1):
        for prescription in sorted(_prescriptions(example) - created):
            mine = [made[p, n] for p, n in made if p == prescription and n in _patients(example)]
            anyone = [send for (p, _n), send in made.items() if p == prescription]
            sends += (mine or anyone)[:1]  # a message that names no patient: the first send
    return list(dict.fromkeys(sends))


@functools.cache
def _text(file: str) -> str:
    return (SOURCE / file).read_text()


def _read(example: Example) -> Any:
    return json.loads(_text(example.file))


def _resources(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        return [e.get("resource", {}) for e in body.get("entry", [])]
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        return [p["resource"] for p in body.get("parameter", []) if "resource" in p]
    return [body] if isinstance(body, dict) else []


def _organisation(reference: Any, resources: list[dict[str, Any]]) -> str | None:
    """The ODS code of an Organization reference: by identifier, or a (contained) resource."""
    if not isinstance(reference, dict):
        return None
    identifier = reference.get("identifier") or {}
    if identifier.get("system") == ODS:
        return str(identifier["value"])
    target = str(reference.get("reference", "")).lstrip("#").removeprefix("urn:uuid:")
    for resource in resources:
        if resource.get("id") == target or resource.get("fullUrl", "").endswith(target):
            codes = [i["value"] for i in resource.get("identifier", []) if i.get("system") == ODS]
            if codes:
                return str(codes[0])
            return _organisation(resource.get("organization"), resources)
    return None


def acting_organisations(example: Example, body: Any) -> list[str]:
    """The organisation that sends the request (see the module docstring), then the message's
    other organisations, for the examples whose first choice the directory does not hold."""
    text = json.dumps(body)
    resources = _resources(body)
    contained = [c for r in resources for c in r.get("contained", [])]
    first: str | None = None
    if example.side == "prescriber":
        prescription = re.search(r'"[0-9A-F]{6}-([0-9A-Z]{6})-[0-9A-Z+]{6}"', text)
        first = prescription.group(1).lstrip("0") if prescription else None
    elif example.side == "sender":
        header = next(r for r in resources if r.get("resourceType") == "MessageHeader")
        first = str(header["sender"]["identifier"]["value"])
    elif example.side == "owner" and body.get("resourceType") == "Task":
        first = str(body["owner"]["identifier"]["value"])
    elif example.side == "owner":
        owner = next(p for p in body["parameter"] if p["name"] == "owner")
        first = str(
            owner["valueIdentifier"]["value"]
            if "valueIdentifier" in owner
            else next(i["value"] for i in owner["resource"]["identifier"] if i["system"] == ODS)
        )
    else:
        first = _organisation(body.get("provider"), [*contained, *resources])
    others = re.findall(rf'"system":\s*"{re.escape(ODS)}",\s*"value":\s*"([A-Z0-9]+)"', text)
    return [c for c in dict.fromkeys([first, *others]) if c]


def flow_day(flow: list[Example]) -> datetime:
    """Noon of the day the flow's prescription became valid (else was authored)."""
    days = []
    for example in flow:
        text = _text(example.file)
        days += re.findall(r'"validityPeriod":\s*\{\s*"start":\s*"(\d{4}-\d{2}-\d{2})', text)
        days += re.findall(r'"authoredOn":\s*"(\d{4}-\d{2}-\d{2})', text)
    day = min(days) if days else "2022-10-21"  # a flow without a date: the examples' usual
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).replace(hour=12)


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _post(server: TestClient, example: Example, session: dict[str, str]) -> Any:
    return server.post(
        example.path,
        content=(SOURCE / example.file).read_bytes(),
        headers={**session, "X-Request-ID": str(uuid.uuid4()), "Content-Type": EPS_MEDIA_TYPE},
    )


class Player:
    """Plays the flows on one server, holding its sessions (see the module docstring)."""

    def __init__(self, server: TestClient) -> None:
        self.server = server
        self.sessions: dict[tuple[str, str], dict[str, str]] = {}
        self.made = creators()

    def session(self, candidates: list[str], role: str) -> dict[str, str] | None:
        """A session of the first candidate that the directory holds in ``role``."""
        for ods in candidates:
            if (ods, role) not in self.sessions:
                known = self.server.get(f"/admin/credentials/{ods}", headers=_admin())
                if known.status_code != 200 or role not in known.json()["roles"]:
                    continue
                self.sessions[ods, role] = login_as(self.server, ods, role)
            return self.sessions[ods, role]
        return None

    def admin(self, method: str, path: str, **kwargs: Any) -> None:
        answer = self.server.request(method, path, headers=_admin(), **kwargs)
        assert answer.status_code == 200, answer.text
        self.sessions.clear()  # a reset ends them; on another day they are expired or early

    def play(self, flow: list[Example]) -> dict[str, Any]:
        """The answers to one flow's examples, after its set-up."""
        self.admin("POST", "/admin/clock", json={"at": flow_day(flow).isoformat()})
        for send in set_up(flow, self.made):
            prescriber = self.session(acting_organisations(send, _read(send)), PRESCRIBER_ROLE)
            assert prescriber is not None, send.file
            sent = _post(self.server, send, prescriber)
            assert sent.status_code in (200, 409), (send.file, sent.text[:300])  # 409: sent
        found: dict[str, Any] = {}
        releaser: list[str] = []
        for example in flow:
            role = PRESCRIBER_ROLE if example.side == "prescriber" else DISPENSER_ROLE
            candidates = acting_organisations(example, _read(example))
            if example.step == 3:
                releaser = candidates[:1]
            elif example.step > 3:
                candidates = [*releaser, *candidates]
            acting = self.session(candidates, role)
            found[example.id] = (
                _post(self.server, example, acting)
                if acting is not None
                else f"no organisation of {candidates} in the directory holds {role}"
            )
        return found


@pytest.fixture(scope="module")
def answers(server: TestClient) -> dict[str, Any]:
    """Every example's answer, sent folder by folder and flow by flow (see the docstring)."""
    flows: dict[tuple[str, int], list[Example]] = {}
    for example in CASES:
        flows.setdefault(example.flow, []).append(example)
    player = Player(server)
    found: dict[str, Any] = {}
    folder = None
    for (where, _number), flow in flows.items():
        if where != folder:
            player.admin("DELETE", "/admin/reset")
            folder = where
        found.update(player.play(flow))
    player.admin("DELETE", "/admin/reset")
    player.admin("POST", "/admin/clock", json={"at": datetime.now(UTC).isoformat()})
    return found


@pytest.mark.parametrize("case", params_of(CASES, LISTED))
def test_published_example_request(answers: dict[str, Any], case: Example) -> None:
    """A published EPS example request gets the status its file name gives."""
    response = answers[case.id]
    assert not isinstance(response, str), response
    failures = [] if response.status_code == case.status else [f"status {response.status_code}"]
    if response.headers.get("content-type") != EPS_MEDIA_TYPE:
        failures.append(f"content-type {response.headers.get('content-type')!r}")
    body = response.json()
    fhir_valid(body)
    assert not failures, (case.file, failures, response.text[:600])


def test_every_listed_difference_is_a_case() -> None:
    from tests.conformance import test_eps

    assert set(LISTED) <= {c.id for c in CASES} | {c.id for c in test_eps.CASES}


def test_every_request_file_is_a_case() -> None:
    copied = [p for p in (SOURCE / "examples").rglob("*Request*.json") if "Response" not in p.name]
    assert len(CASES) == len(copied) > 150
