"""No data lost under faults: a ledger of everything the server accepted, checked afterwards.

A live two-worker server takes MESH messages and EPS prescriptions (create, release, dispense)
from a few client threads, which retry after errors and timeouts with the same X-Request-ID,
while a chaos thread SIGKILLs worker processes (uvicorn's supervisor restarts them) and stalls
storage through the admin API. Afterwards every accepted message (202 with an id) is delivered
exactly once and stays acknowledged, no prescription is dispensed twice, and every retried
request with the same X-Request-ID got its original answer (was executed once). SQLite and
PostgreSQL; about a minute each, on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from harness.server.pds.population import nhs_number_of
from harness.spine import OrgType, build_directory
from tests import builders
from tests.conftest import ADMIN_TOKEN, MESH_SEED, LiveServer, start_server, stop_server
from tests.factories import V2, mesh_auth

pytestmark = pytest.mark.integration

TRAFFIC_S = float(os.environ.get("HARNESS_LEDGER_TRAFFIC_S", "30"))
RETRYABLE = frozenset({429, 500, 502, 503, 504})
MX = "/messageexchange"
PRESCRIBING, DISPENSING = "/fhir-prescribing/FHIR/R4", "/fhir-dispensing/FHIR/R4"
UNLIMITED = {
    "HARNESS_RATE_LIMIT_PER_APP_PER_MINUTE": "10000000",
    "HARNESS_SPIKE_ARREST_PER_S": "100000",
    "HARNESS_GLOBAL_RATE_LIMIT_PER_S": "100000",
}


DRAIN_MAX_S = 180  # a bound, not an expectation: draining stops as soon as it is done


def mesh(mailbox: str) -> dict[str, str]:
    return {**mesh_auth(mailbox), **V2}


@dataclass
class Ledger:
    accepted: dict[str, bytes] = field(default_factory=dict)  # message id -> body
    acknowledged: set[str] = field(default_factory=set)
    downloads: dict[str, int] = field(default_factory=dict)
    dispensed: list[str] = field(default_factory=list)
    retried: list[tuple[str, int, str]] = field(default_factory=list)  # (what, status, code)
    kills: int = 0
    stalls: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def retrying(
    ledger: Ledger, send: Callable[[], httpx.Response], what: str, stop: float
) -> httpx.Response | None:
    """Send until an answer that is not an error to retry; note requests that needed retries."""
    attempts = 0
    while time.monotonic() < stop:
        attempts += 1
        try:
            response = send()
        except httpx.HTTPError:
            ledger.errors += 1
            time.sleep(0.2)
            continue
        if response.status_code in RETRYABLE:
            ledger.errors += 1
            time.sleep(0.2)
            continue
        if attempts > 1:
            code = ""
            if response.status_code >= 400 and "issue" in response.text:
                code = response.json()["issue"][0]["details"]["coding"][0]["code"]
            with ledger.lock:
                ledger.retried.append((what, response.status_code, code))
        return response
    return None


def login(http: httpx.Client, ods: str, role: str) -> dict[str, str]:
    cred = http.get(
        f"/admin/credentials/{ods}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json()
    for _ in range(50):
        try:
            response = http.post(
                "/authentication/session",
                json={"user_id": cred["users"][0], "role": role},
                headers={"apikey": cred["api_key"], "X-Request-ID": str(uuid.uuid4())},
            )
            if response.status_code == 201:
                body = response.json()
                return {
                    "Authorization": f"Bearer {body['access_token']}",
                    "NHSD-Session-URID": body["urid"],
                }
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("could not log in")


def sender(url: str, ledger: Ledger, stop: float, n: int) -> None:
    with httpx.Client(base_url=url, timeout=5) as http:
        i = 0
        while time.monotonic() < stop:
            i += 1
            body = f"message {n}-{i} {uuid.uuid4()}".encode()
            response = retrying(
                ledger,
                lambda body=body: http.post(  # type: ignore[misc]
                    f"{MX}/X26ABC1/outbox",
                    content=body,
                    headers={
                        **mesh("X26ABC1"),
                        "Mex-To": "X26ABC2",
                        "Mex-WorkflowID": "TEST_WORKFLOW",
                    },
                ),
                "mesh.send",
                stop,
            )
            if response is not None and response.status_code == 202:
                with ledger.lock:
                    ledger.accepted[response.json()["message_id"]] = body


def receive_all(http: httpx.Client, ledger: Ledger, stop: float) -> int:
    """One pass over the inbox: download, check, acknowledge. Returns ids seen."""
    try:
        listed = http.get(f"{MX}/X26ABC2/inbox", headers=mesh("X26ABC2"))
    except httpx.HTTPError:
        return -1
    if listed.status_code != 200:
        return -1
    ids = listed.json()["messages"]
    for message_id in ids:
        with ledger.lock:
            if message_id in ledger.acknowledged:
                ledger.downloads[message_id] = ledger.downloads.get(message_id, 0) + 100
                continue  # listed again after its acknowledgement: a ledger violation
        got = retrying(
            ledger,
            lambda m=message_id: http.get(f"{MX}/X26ABC2/inbox/{m}", headers=mesh("X26ABC2")),  # type: ignore[misc]
            "mesh.download",
            stop,
        )
        if got is None or got.status_code != 200:
            continue
        acked = retrying(
            ledger,
            lambda m=message_id: http.put(  # type: ignore[misc]
                f"{MX}/X26ABC2/inbox/{m}/status/acknowledged", headers=mesh("X26ABC2")
            ),
            "mesh.acknowledge",
            stop,
        )
        if acked is not None and acked.status_code == 200:
            with ledger.lock:
                ledger.downloads[message_id] = ledger.downloads.get(message_id, 0) + 1
                ledger.acknowledged.add(message_id)
                assert ledger.accepted.get(message_id, got.content) == got.content
    return len(ids)


def receiver(url: str, ledger: Ledger, stop: float) -> None:
    with httpx.Client(base_url=url, timeout=5) as http:
        while time.monotonic() < stop:
            receive_all(http, ledger, stop)
            time.sleep(0.1)


def prescriber_and_dispenser(url: str, ledger: Ledger, stop: float, orgs: tuple[str, str]) -> None:
    gp_ods, pharmacy = orgs
    with httpx.Client(base_url=url, timeout=5) as http:
        gp, pharmacist = login(http, gp_ods, "R8000"), login(http, pharmacy, "R8003")
        i = 0
        while time.monotonic() < stop - 5:
            i += 1
            nhs = nhs_number_of(i % 500)
            pid, lines, order = builders.order(gp_ods, nhs, nominated=pharmacy)
            steps: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
                ("eps.create", f"{PRESCRIBING}/$process-message", order, gp),
                ("eps.release", f"{DISPENSING}/Task/$release", builders.release(pharmacy, pid),
                 pharmacist),
                ("eps.dispense", f"{DISPENSING}/$process-message",
                 builders.dispense(pid, dict.fromkeys(lines, "0001"), nhs, pharmacy), pharmacist),
            ]  # fmt: skip
            for what, path, body, headers in steps:
                request_id = str(uuid.uuid4())  # the same for every retry of this step
                response = retrying(
                    ledger,
                    lambda p=path, b=body, h=headers, r=request_id: http.post(  # type: ignore[misc]
                        p, json=b, headers={**h, "X-Request-ID": r}
                    ),
                    what,
                    stop,
                )
                if response is None or response.status_code != 200:
                    break
                if what == "eps.dispense":
                    with ledger.lock:
                        ledger.dispensed.append(pid)


def chaos(server: LiveServer, ledger: Ledger, stop: float, rng: random.Random) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    while time.monotonic() < stop - 8:
        time.sleep(rng.uniform(2.0, 4.0))
        if rng.random() < 0.5:
            workers = psutil.Process(server.process.pid).children(recursive=True)
            workers = [w for w in workers if "resource_tracker" not in " ".join(w.cmdline())]
            if workers:
                os.kill(rng.choice(workers).pid, signal.SIGKILL)
                ledger.kills += 1
        else:
            try:
                response = httpx.post(
                    f"{server.url}/admin/faults",
                    json={"kind": "stall-storage", "duration_s": 1.5},
                    headers=admin,
                    timeout=5,
                )
                if response.status_code == 201:
                    ledger.stalls += 1
            except httpx.HTTPError:
                pass


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    from tests.conftest import fresh_postgres_database

    return fresh_postgres_database(request.getfixturevalue("postgres_url"), prefix="ledger")


def test_nothing_accepted_is_lost_under_kills_and_stalls(tmp_path: Path, database: str) -> None:
    seed = tmp_path / "mesh.yaml"
    seed.write_text(MESH_SEED)
    server = start_server(
        tmp_path, "--workers", "2", "--organisations", "200", "--seed", "7",
        "--mesh-directory", str(seed), "--test-mode", "--database-url", database, env=UNLIMITED,
    )  # fmt: skip
    directory = build_directory(200, 7)
    orgs = [
        (
            directory.of_type(OrgType.GP_PRACTICE)[n].ods_code,
            directory.of_type(OrgType.COMMUNITY_PHARMACY)[n].ods_code,
        )
        for n in range(2)
    ]
    ledger = Ledger()
    rng = random.Random(20140822)
    stop = time.monotonic() + TRAFFIC_S
    threads = [
        threading.Thread(target=sender, args=(server.url, ledger, stop, n)) for n in range(2)
    ]
    threads.append(threading.Thread(target=receiver, args=(server.url, ledger, stop)))
    threads += [
        threading.Thread(target=prescriber_and_dispenser, args=(server.url, ledger, stop, o))
        for o in orgs
    ]
    threads.append(threading.Thread(target=chaos, args=(server, ledger, stop, rng)))
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TRAFFIC_S + 60)
        # Faults over: drain the inbox until every accepted message has been received, or
        # until the inbox is empty three times running (what is missing then is lost). A
        # slow machine only makes the drain longer; a fixed deadline would call a message that
        # is still waiting in the inbox "lost".
        drain_until = time.monotonic() + DRAIN_MAX_S
        empty = 0
        with httpx.Client(base_url=server.url, timeout=5) as http:
            while time.monotonic() < drain_until:
                listed = receive_all(http, ledger, drain_until)
                if set(ledger.accepted) <= ledger.acknowledged:
                    break
                empty = empty + 1 if listed == 0 else 0
                if empty >= 3:
                    break
                time.sleep(0.2)
            waiting = [
                m
                for m in set(ledger.accepted) - ledger.acknowledged
                if http.get(f"{MX}/X26ABC2/inbox/{m}", headers=mesh("X26ABC2")).status_code == 200
            ]
            assert not waiting, f"{len(waiting)} messages still in the inbox after draining"
            for message_id in sorted(ledger.acknowledged)[:200]:
                again = http.get(f"{MX}/X26ABC2/inbox/{message_id}", headers=mesh("X26ABC2"))
                assert again.status_code == 410, (message_id, again.status_code)
    finally:
        stop_server(server)
    print(
        f"\nledger on {database.split(':')[0]}: {len(ledger.accepted)} messages accepted, "
        f"{len(ledger.acknowledged)} acknowledged, {len(ledger.dispensed)} prescriptions "
        f"dispensed, {len(ledger.retried)} retried requests, {ledger.errors} errors/timeouts, "
        f"{ledger.kills} workers killed, {ledger.stalls} storage stalls"
    )
    assert ledger.accepted, "no traffic got through"
    assert ledger.kills >= 1, "no worker was killed: the test proves nothing"
    assert ledger.stalls >= 1, "storage was never stalled: the test proves nothing"
    lost = set(ledger.accepted) - ledger.acknowledged
    assert not lost, f"{len(lost)} accepted messages never delivered"
    twice = {m: n for m, n in ledger.downloads.items() if n != 1}
    assert not twice, f"messages delivered or listed after acknowledgement: {twice}"
    assert len(ledger.dispensed) == len(set(ledger.dispensed))
    # A retried create/release/dispense must get the original answer, never the refusal a
    # second execution would meet (duplicate prescription, invalid state transition).
    executed_twice = [r for r in ledger.retried if r[0].startswith("eps.") and r[1] != 200]
    assert not executed_twice, executed_twice
