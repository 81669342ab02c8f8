"""The benchmark's request mix: every catalogue interaction, weighted like the 2014 month.

Each request is drawn with the weight of its interaction in :data:`harness.spine.catalogue.
USAGE` and sent by an organisation of a type that uses it, logged in with a role allowed to.
Stateful flows follow their state machines: prescriptions created in the run are released
(by id, or in nominated batches), dispensed, claimed, returned, withdrawn and cancelled; MESH
messages sent are downloaded and acknowledged; SCR uploads name the record they replace. When
a flow has nothing to act on (say, no released prescription is waiting when a dispense
notification is due), the request still goes out and is refused by the business rules (a 4xx),
which costs the server the same lookup — those are counted, never treated as server errors.
"""

from __future__ import annotations

import bisect
import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np

from harness.server.mesh.auth import make_token
from harness.server.pds.population import Population, nhs_number_of
from harness.server.sds.service import INTERACTION_SYSTEM, SERVICE_INTERACTIONS
from harness.spine import CATALOGUE, OrgType, build_directory
from harness.spine.catalogue import USAGE
from tests import builders
from tests.benchmarks.openloop import Request

ROLE = {OrgType.COMMUNITY_PHARMACY: "R8003"}  # everyone else logs in as R8000
ORGS_PER_TYPE = 10
PATIENTS_PER_ORG = 8
PDS = "/personal-demographics/FHIR/R4"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
PATCH_HEADERS = {"Content-Type": "application/json-patch+json", "If-Match": 'W/"1"'}


Flow = tuple[str, list[str], str, str]  # prescription id, line items, pharmacy, NHS number


class Mix:
    """Requests for :func:`tests.benchmarks.openloop.run_step`, with the flows' state."""

    def __init__(
        self, base_url: str, admin: dict[str, str], *, organisations: int, seed: int
    ) -> None:
        self.base_url = base_url
        self.admin = admin
        self.rng = np.random.default_rng(seed)
        self.directory = build_directory(organisations, 0)
        self.population = Population(
            1_000_000,
            0,
            [o.ods_code for o in self.directory.of_type(OrgType.GP_PRACTICE)],
            [o.ods_code for o in self.directory.of_type(OrgType.COMMUNITY_PHARMACY)],
        )
        self.kinds = [i.id for i in CATALOGUE]
        weights = np.array([sum(USAGE[k].values()) for k in self.kinds])
        self.set_weights(weights / weights.sum())
        # Which organisation types send each interaction, and how often (cumulative).
        self._senders: dict[str, tuple[list[OrgType], list[float]]] = {}
        for kind in self.kinds:
            types = [t for t, w in USAGE[kind].items() if w > 0]
            self._senders[kind] = (types, _cumulative([USAGE[kind][t] for t in types]))
        self.sessions: dict[OrgType, list[dict[str, Any]]] = {}
        self.registered: dict[str, list[str]] = defaultdict(list)  # GP -> patients
        self.nominating: dict[str, list[str]] = defaultdict(list)  # pharmacy -> patients
        self.created: deque[Flow] = deque()
        self.released: deque[Flow] = deque()
        self.dispensed: deque[Flow] = deque()
        self.latest_scr: dict[str, str] = {}
        self.mesh_sent: deque[str] = deque()
        self.mesh_downloaded: deque[str] = deque()
        self.refused_by_rules = 0

    # ---------------------------------------------------------------- setup (not measured)
    def setup(self) -> None:
        """Log in ``ORGS_PER_TYPE`` organisations of each type; find their patients."""
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            for org_type in OrgType:
                orgs = self.directory.of_type(org_type)[:ORGS_PER_TYPE]
                self.sessions[org_type] = [self._login(client, o.ods_code, org_type) for o in orgs]
        gps = {s["ods"] for s in self.sessions[OrgType.GP_PRACTICE]}
        pharmacies = {s["ods"] for s in self.sessions[OrgType.COMMUNITY_PHARMACY]}
        index = int(self.rng.integers(0, 500_000))
        while any(len(self.registered[g]) < PATIENTS_PER_ORG for g in gps) or any(
            len(self.nominating[p]) < PATIENTS_PER_ORG for p in pharmacies
        ):
            person = self.population.person(index)
            index += 1
            if person.restricted:
                continue
            if person.gp_ods in gps and len(self.registered[person.gp_ods]) < PATIENTS_PER_ORG:
                self.registered[person.gp_ods].append(person.nhs_number)
            pharmacy = person.pharmacy_ods
            if pharmacy in pharmacies and len(self.nominating[pharmacy]) < PATIENTS_PER_ORG:
                self.nominating[pharmacy].append(person.nhs_number)

    def _login(self, client: httpx.Client, ods: str, org_type: OrgType) -> dict[str, Any]:
        cred = client.get(f"/admin/credentials/{ods}", headers=self.admin).json()
        role = ROLE.get(org_type, "R8000")
        session = client.post(
            "/authentication/session",
            json={"user_id": cred["users"][0], "role": role},
            headers={"apikey": cred["api_key"], "X-Request-ID": str(uuid.uuid4())},
        )
        session.raise_for_status()
        body = session.json()
        return {
            "ods": ods,
            "type": org_type,
            "apikey": cred["api_key"],
            "user": cred["users"][1],
            "role": role,
            "headers": {
                "Authorization": f"Bearer {body['access_token']}",
                "NHSD-Session-URID": body["urid"],
            },
        }

    # ---------------------------------------------------------------- drawing requests
    # Draws use bisect over cumulative weights and ``rng.random()`` (0.5 us): numpy's weighted
    # ``choice`` costs ~15 us a call, and the generator shares the server's two cores.
    def set_weights(self, p: np.ndarray) -> None:
        """How often each interaction of :attr:`kinds` is drawn (a probability vector)."""
        self._kind_cdf = _cumulative(list(p))

    def _index(self, n: int) -> int:
        return min(int(self.rng.random() * n), n - 1)

    def _pick(self, cdf: list[float]) -> int:
        """An index drawn with the weights whose running sums are ``cdf``."""
        return bisect.bisect_right(cdf, self.rng.random() * cdf[-1])

    def _session(self, kind: str) -> dict[str, Any]:
        types, cdf = self._senders[kind]
        org_type = types[self._pick(cdf)]
        sessions = self.sessions[org_type]
        return sessions[self._index(len(sessions))]

    def _of(self, org_type: OrgType, ods: str) -> dict[str, Any]:
        return next(s for s in self.sessions[org_type] if s["ods"] == ods)

    def _person(self) -> Any:
        return self.population.person(self._index(self.population.size))

    def _nhs_number(self) -> str:
        # The same draw as _person's, without deriving the whole person (~24 us).
        return nhs_number_of(self._index(self.population.size))

    def next(self) -> Request:
        """The next request of the mix."""
        kind = self.kinds[self._pick(self._kind_cdf)]
        session = self._session(kind)
        builder = getattr(self, "_" + kind.replace(".", "_").replace("-", "_"))
        request: Request = builder(session)
        request.kind = kind
        request.headers.setdefault("X-Request-ID", str(uuid.uuid4()))
        return request

    def _fhir(
        self, session: dict[str, Any], method: str, path: str, body: Any = None, **headers: str
    ) -> Request:
        sent = {**session["headers"], **headers}
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/fhir+json")
        return Request("", method, path, sent, payload)

    def _refused(self, status: int) -> None:
        if 400 <= status < 500:
            self.refused_by_rules += 1

    # PDS
    def _pds_retrieve(self, s: dict[str, Any]) -> Request:
        return self._fhir(s, "GET", f"{PDS}/Patient/{self._nhs_number()}")

    def _pds_search(self, s: dict[str, Any]) -> Request:
        p = self._person()
        query = urlencode(
            {
                "family": p.family,
                "given": p.given,
                "birthdate": f"eq{p.birth_date}",
                "_max-results": 10,
            }
        )
        return self._fhir(s, "GET", f"{PDS}/Patient?{query}")

    def _pds_update(self, s: dict[str, Any]) -> Request:
        ops = [{"op": "replace", "path": "/gender", "value": "other"}]
        return self._fhir(s, "PATCH", f"{PDS}/Patient/{self._nhs_number()}", ops, **PATCH_HEADERS)

    # EPS
    def _order(self, s: dict[str, Any]) -> tuple[Flow, dict[str, Any]]:
        pharmacies = self.sessions[OrgType.COMMUNITY_PHARMACY]
        pharmacy = pharmacies[self._index(len(pharmacies))]["ods"]
        nhs = self._nhs_number()
        pid, lines, body = builders.order(s["ods"], nhs, nominated=pharmacy)
        return (pid, lines, pharmacy, nhs), body

    def _eps_prepare(self, s: dict[str, Any]) -> Request:
        return self._fhir(s, "POST", "/fhir-prescribing/FHIR/R4/$prepare", self._order(s)[1])

    def _eps_create(self, s: dict[str, Any]) -> Request:
        flow, body = self._order(s)
        request = self._fhir(s, "POST", "/fhir-prescribing/FHIR/R4/$process-message", body)

        def done(status: int, _body: bytes) -> None:
            if status == 200:
                self.created.append(flow)

        request.on_done = done
        return request

    def _take(self, queue: deque[Flow]) -> Flow:
        if queue:
            return queue.popleft()
        pharmacy = self.sessions[OrgType.COMMUNITY_PHARMACY][0]["ods"]
        gp = self.sessions[OrgType.GP_PRACTICE][0]["ods"]
        unknown = builders.order(gp, "9000000009")[0]
        return unknown, [str(uuid.uuid4())], pharmacy, "9000000009"

    def _eps_cancel(self, s: dict[str, Any]) -> Request:
        pid, lines, _, nhs = self._take(self.created)
        body = builders.cancel(pid, lines[0], nhs)
        request = self._fhir(s, "POST", "/fhir-prescribing/FHIR/R4/$process-message", body)
        request.on_done = lambda status, _b: self._refused(status)
        return request

    def _eps_release(self, s: dict[str, Any]) -> Request:
        if self.created and self.rng.random() < 0.75:
            flow = self.created.popleft()
            pid, _, pharmacy, _ = flow
            pharmacist = self._of(OrgType.COMMUNITY_PHARMACY, pharmacy)
            request = self._fhir(
                pharmacist,
                "POST",
                "/fhir-dispensing/FHIR/R4/Task/$release",
                builders.release(pharmacy, pid),
            )

            def one(status: int, _body: bytes) -> None:
                if status == 200:
                    self.released.append(flow)
                self._refused(status)

            request.on_done = one
            return request
        pharmacy = s["ods"]
        request = self._fhir(
            s, "POST", "/fhir-dispensing/FHIR/R4/Task/$release", builders.release(pharmacy)
        )

        def batch(status: int, body: bytes) -> None:
            answer = json.loads(body)
            if status != 200 or answer["resourceType"] != "Parameters":
                return
            for entry in answer["parameter"][0]["resource"]["entry"]:
                requests = [e["resource"] for e in entry["resource"]["entry"]][2:]
                pid = requests[0]["groupIdentifier"]["value"]
                lines = [r["identifier"][0]["value"] for r in requests]
                nhs = requests[0]["subject"]["identifier"]["value"]
                self.released.append((pid, lines, pharmacy, nhs))

        request.on_done = batch
        return request

    def _dispensing(
        self, queue: deque[Flow], path: str, make: Any, then: deque[Flow] | None
    ) -> Request:
        item = self._take(queue)
        pid, lines, pharmacy, _ = item
        pharmacist = self._of(OrgType.COMMUNITY_PHARMACY, pharmacy)
        request = self._fhir(
            pharmacist, "POST", f"/fhir-dispensing/FHIR/R4/{path}", make(pid, lines, pharmacy)
        )

        def done(status: int, _body: bytes) -> None:
            if status == 200 and then is not None:
                then.append(item)
            self._refused(status)

        request.on_done = done
        return request

    def _eps_dispense_notification(self, s: dict[str, Any]) -> Request:
        return self._dispensing(
            self.released,
            "$process-message",
            lambda pid, lines, ph: builders.dispense(
                pid, dict.fromkeys(lines, "0001"), "9000000009", ph
            ),
            self.dispensed,
        )

    def _eps_claim(self, s: dict[str, Any]) -> Request:
        return self._dispensing(
            self.dispensed, "Claim", lambda pid, _l, ph: builders.claim(pid, "9000000009", ph), None
        )

    def _eps_return(self, s: dict[str, Any]) -> Request:
        return self._dispensing(
            self.released,
            "Task",
            lambda pid, _l, ph: builders.task(pid, "return", ph),
            self.created,
        )

    def _eps_withdraw(self, s: dict[str, Any]) -> Request:
        return self._dispensing(
            self.dispensed,
            "Task",
            lambda pid, _l, ph: builders.task(pid, "withdraw", ph),
            self.released,
        )

    # SCR
    def _scr_view(self, s: dict[str, Any]) -> Request:
        if s["type"] is OrgType.COMMUNITY_PHARMACY:
            patients = self.nominating[s["ods"]]
            nhs = patients[self._index(len(patients))]
            return self._fhir(
                s, "GET", f"/summary-care-record/FHIR/R4/DocumentReference?patient={nhs}"
            )
        nhs = self._nhs_number()  # no relationship: emergency access, alerted
        path = f"/summary-care-record/FHIR/R4/DocumentReference?patient={nhs}"
        return self._fhir(s, "GET", path, **{"NHSD-Emergency-Access": "emergency-care"})

    def _scr_upload(self, s: dict[str, Any]) -> Request:
        patients = self.registered[s["ods"]]
        nhs = patients[self._index(len(patients))]
        _, body = builders.scr_document(nhs, s["ods"], replaces=self.latest_scr.get(nhs))
        request = self._fhir(s, "POST", "/summary-care-record/FHIR/R4/Bundle", body)

        def done(status: int, answer: bytes) -> None:
            if status == 201:
                self.latest_scr[nhs] = json.loads(answer)["id"]
            self._refused(status)

        request.on_done = done
        return request

    # SDS and identity
    def _lookup(self, s: dict[str, Any], resource: str) -> Request:
        used = [i.id for i in CATALOGUE if USAGE.get(i.id, {}).get(s["type"], 0) > 0]
        interaction = SERVICE_INTERACTIONS[used[self._index(len(used))]]
        query = f"organization={ODS}|{s['ods']}&identifier={INTERACTION_SYSTEM}|{interaction}"
        return Request(
            "", "GET", f"/spine-directory/FHIR/R4/{resource}?{query}", {"apikey": s["apikey"]}
        )

    def _sds_endpoint_lookup(self, s: dict[str, Any]) -> Request:
        return self._lookup(s, "Endpoint")

    def _sds_device_lookup(self, s: dict[str, Any]) -> Request:
        return self._lookup(s, "Device")

    def _auth_session(self, s: dict[str, Any]) -> Request:
        body = json.dumps({"user_id": s["user"], "role": s["role"]}).encode()
        headers = {"apikey": s["apikey"], "Content-Type": "application/json"}
        return Request("", "POST", "/authentication/session", headers, body)

    # MESH (the test mailboxes X26ABC1 → X26ABC2)
    def _mesh(self, mailbox: str) -> dict[str, str]:
        token = make_token(
            mailbox,
            "password",
            shared_key="TestKey",
            nonce=str(uuid.uuid4()),
            nonce_count=0,
            now_s=time.time(),
        )
        return {"Authorization": token, "Accept": "application/vnd.mesh.v2+json"}

    def _mesh_poll(self, s: dict[str, Any]) -> Request:
        return Request(
            "", "GET", "/messageexchange/X26ABC2/inbox?max_results=100", self._mesh("X26ABC2")
        )

    def _mesh_send(self, s: dict[str, Any]) -> Request:
        headers = {
            **self._mesh("X26ABC1"),
            "Mex-To": "X26ABC2",
            "Mex-WorkflowID": "TEST_WORKFLOW",
            "Content-Type": "application/octet-stream",
        }
        request = Request("", "POST", "/messageexchange/X26ABC1/outbox", headers, b"x" * 2048)

        def done(status: int, body: bytes) -> None:
            if status == 202:
                self.mesh_sent.append(json.loads(body)["message_id"])

        request.on_done = done
        return request

    def _mesh_download(self, s: dict[str, Any]) -> Request:
        if not self.mesh_sent:
            return self._mesh_poll(s)
        message_id = self.mesh_sent.popleft()
        request = Request(
            "", "GET", f"/messageexchange/X26ABC2/inbox/{message_id}", self._mesh("X26ABC2")
        )
        request.on_done = lambda status, _b: (
            self.mesh_downloaded.append(message_id) if status == 200 else None
        )
        return request

    def _mesh_acknowledge(self, s: dict[str, Any]) -> Request:
        if not self.mesh_downloaded:
            return self._mesh_poll(s)
        message_id = self.mesh_downloaded.popleft()
        path = f"/messageexchange/X26ABC2/inbox/{message_id}/status/acknowledged"
        return Request("", "PUT", path, self._mesh("X26ABC2"))


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(float(w) for w in weights))
