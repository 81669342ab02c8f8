"""The rig of docker-compose.yml without containers: a data centre dies under MESH traffic.

PostgreSQL (a throwaway database), two server groups of two ``harness serve`` processes each
("dc-a" active, "dc-b" backup) on 127.0.0.1, and a real HAProxy in front with
deploy/haproxy/haproxy.cfg — the same file, with only the replicas' addresses and the listening
ports rewritten for loopback. NHS England's ``mesh_client`` sends MESH messages through
HAProxy; half-way every dc-a process group is killed with SIGKILL. Clients must see failover
(sends succeed again through dc-b once HAProxy's checks mark dc-a down), and every message
that got a 202 with a message id must be downloadable exactly once afterwards.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import requests
from mesh_client import MeshClient

from tests.conftest import PROJECT_ROOT, free_port, fresh_postgres_database

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    # mesh-client leaves pooled sockets to the garbage collector (as in test_mesh_client.py).
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

HAPROXY_CFG = PROJECT_ROOT / "deploy" / "haproxy" / "haproxy.cfg"
KEY = b"TestKey"
GROUPS = {"dc-a": ("dc-a-1", "dc-a-2"), "dc-b": ("dc-b-1", "dc-b-2")}
SENDERS = ("X26ABC1", "X26ABC3")
RECIPIENT = "X26ABC2"
STEADY_S = 3.0  # traffic with every replica up, before the kill
AFTER_FAILOVER_S = 4.0  # traffic after HAProxy has marked dc-a down
FAILOVER_LIMIT_S = 10.0  # HAProxy must mark dc-a down within this (its checks: ~0.5-2 s)
SEND_PAUSE_S = 0.02  # between one sender's messages: a bounded rate, ~40 msg/s in all


def haproxy_binary() -> str:
    path = shutil.which("haproxy")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("haproxy is missing in CI (.ci/run installs Debian's haproxy)")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    return path


def loopback_config(ports: dict[str, int], listen_port: int, stats_port: int) -> str:
    """deploy/haproxy/haproxy.cfg with the replicas and listeners on 127.0.0.1."""
    text = HAPROXY_CFG.read_text()
    for name, port in ports.items():
        text, count = re.subn(rf"(server {name}) {name}:8000\b", rf"\1 127.0.0.1:{port}", text)
        assert count == 1, name
    text, count = re.subn(r"bind :8080\b", f"bind 127.0.0.1:{listen_port}", text)
    assert count == 1
    text, count = re.subn(r"bind :8404\b", f"bind 127.0.0.1:{stats_port}", text)
    assert count == 1
    return text


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        """SIGKILL the whole process group: the server and every worker it started."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start_replica(
    tmp_path: Path, name: str, database_url: str, directory_args: Sequence[str]
) -> Replica:
    """One ``harness serve`` replica; ``directory_args`` choose its organisations and mailboxes."""
    port = free_port()
    log_path = tmp_path / f"{name}.log"
    env = {**os.environ}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                *directory_args,
                "--database-url",
                database_url,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
            start_new_session=True,  # its own process group, so a kill takes every worker
        )
    return Replica(name, port, process, log_path)


def wait_ready(replica: Replica, deadline: float) -> None:
    url = f"http://127.0.0.1:{replica.port}/health/ready"
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(f"{replica.name} exited:\n{replica.log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{replica.name} not ready:\n{replica.log_path.read_text()}")


def server_states(stats_url: str) -> dict[str, tuple[str, int]]:
    """HAProxy's view of each server: (status, total sessions it was given)."""
    text = httpx.get(f"{stats_url}/stats;csv", timeout=2).text.lstrip("# ")
    return {
        row["svname"]: (row["status"], int(row["stot"] or 0))
        for row in csv.DictReader(io.StringIO(text))
        if row["pxname"] == "spine_servers" and row["svname"] not in {"FRONTEND", "BACKEND"}
    }


@dataclass
class Attempt:
    started: float
    ended: float
    body: bytes
    message_id: str | None = None
    error: str | None = None


@dataclass
class Traffic:
    """MESH senders through HAProxy, each in its own thread with its own client."""

    url: str
    attempts: list[Attempt] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send_loop(self, mailbox: str) -> None:
        with MeshClient(self.url, mailbox, "password", shared_key=KEY, timeout=10) as client:
            while not self.stop.is_set():
                body = f"{mailbox} {uuid.uuid4()}".encode()
                attempt = Attempt(time.monotonic(), 0.0, body)
                try:
                    attempt.message_id = client.send_message(
                        RECIPIENT, body, workflow_id="TEST_WORKFLOW"
                    )
                except Exception as exc:  # any failure a client would see counts
                    attempt.error = f"{type(exc).__name__}: {exc}"[:200]
                attempt.ended = time.monotonic()
                with self.lock:
                    self.attempts.append(attempt)
                time.sleep(SEND_PAUSE_S)


@contextlib.contextmanager
def loopback_rig(
    tmp_path: Path, database_url: str, directory_args: Sequence[str], *, start_s: float = 40
) -> Iterator[dict[str, object]]:
    """docker-compose.yml's servers and HAProxy on 127.0.0.1: url, stats_url and replicas."""
    haproxy = haproxy_binary()
    deadline = time.monotonic() + start_s
    replicas: dict[str, Replica] = {}
    haproxy_process: subprocess.Popen[bytes] | None = None
    try:
        # dc-a-1 migrates the empty database first; the others start once it is ready, as in
        # docker-compose.yml (two replicas migrating one database at once would race).
        replicas["dc-a-1"] = start_replica(tmp_path, "dc-a-1", database_url, directory_args)
        wait_ready(replicas["dc-a-1"], deadline)
        for name in ("dc-a-2", "dc-b-1", "dc-b-2"):
            replicas[name] = start_replica(tmp_path, name, database_url, directory_args)
        for replica in replicas.values():
            wait_ready(replica, deadline)
        listen_port, stats_port = free_port(), free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(
            loopback_config({n: r.port for n, r in replicas.items()}, listen_port, stats_port)
        )
        haproxy_log = tmp_path / "haproxy.log"
        with haproxy_log.open("wb") as log:
            haproxy_process = subprocess.Popen(
                [haproxy, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        url, stats_url = f"http://127.0.0.1:{listen_port}", f"http://127.0.0.1:{stats_port}"
        while True:
            assert haproxy_process.poll() is None, haproxy_log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                states = server_states(stats_url)
                if all(status == "UP" for status, _ in states.values()) and len(states) == 4:
                    break
            assert time.monotonic() < deadline, f"HAProxy never saw every replica up: {states}"
            time.sleep(0.1)
        yield {"url": url, "stats_url": stats_url, "replicas": replicas}
    finally:
        if haproxy_process is not None:
            haproxy_process.terminate()
            haproxy_process.wait(timeout=10)
        for replica in replicas.values():
            replica.kill()


@pytest.fixture
def rig(tmp_path: Path, postgres_url: str, mesh_seed: Path) -> Iterator[dict[str, object]]:
    database_url = fresh_postgres_database(postgres_url, prefix="failover")
    args = ("--organisations", "200", "--seed", "7", "--mesh-directory", str(mesh_seed))
    with loopback_rig(tmp_path, database_url, args) as rig:
        yield rig


def test_killing_a_data_centre_fails_over_and_loses_no_accepted_message(
    rig: dict[str, object],
) -> None:
    url, stats_url = str(rig["url"]), str(rig["stats_url"])
    replicas = rig["replicas"]
    assert isinstance(replicas, dict)
    traffic = Traffic(url)
    threads = [threading.Thread(target=traffic.send_loop, args=(m,)) for m in SENDERS]
    for thread in threads:
        thread.start()
    try:
        time.sleep(STEADY_S)
        before = server_states(stats_url)
        kill_started = time.monotonic()
        for name in GROUPS["dc-a"]:
            replicas[name].kill()
        killed_at = time.monotonic()  # both process groups are gone (reaped) from here on
        down_at = None
        while down_at is None and time.monotonic() - killed_at < FAILOVER_LIMIT_S:
            states = server_states(stats_url)
            if all(states[name][0].startswith("DOWN") for name in GROUPS["dc-a"]):
                down_at = time.monotonic()
            time.sleep(0.05)
        assert down_at is not None, f"HAProxy did not mark dc-a down: {server_states(stats_url)}"
        time.sleep(AFTER_FAILOVER_S)
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(timeout=30)
    after = server_states(stats_url)

    attempts = sorted(traffic.attempts, key=lambda a: a.started)
    accepted = [a for a in attempts if a.message_id is not None]
    failed = [a for a in attempts if a.error is not None]
    steady = [a for a in attempts if a.ended < kill_started]
    after_failover = [a for a in attempts if a.started > down_at + 0.5]
    first_success_after_kill = min(
        (a.ended for a in accepted if a.started > killed_at), default=float("nan")
    )
    last_failure = max((a.ended for a in failed), default=killed_at)
    print(
        f"\nfailover: {len(attempts)} sends, {len(accepted)} accepted, {len(failed)} failed; "
        f"dc-a killed in {killed_at - kill_started:.3f} s, marked down by HAProxy "
        f"{down_at - killed_at:.2f} s after; first send accepted through dc-b "
        f"{first_success_after_kill - killed_at:.2f} s after the kill, last failure ended "
        f"{last_failure - killed_at:.2f} s after it; sessions before {before}, after {after}"
    )
    for attempt in failed:
        print(f"  failed at +{attempt.started - killed_at:.2f} s: {attempt.error}")

    # Before the kill: everything succeeds, and the backup data centre gets nothing.
    assert steady, "no traffic before the kill"
    assert all(a.message_id for a in steady), [a.error for a in steady if a.error]
    assert all(before[name][0] == "UP" for name in before)
    assert before["dc-b-1"][1] == before["dc-b-2"][1] == 0
    # After HAProxy noticed: every send succeeds again, through dc-b.
    assert len(after_failover) >= 20
    assert all(a.message_id for a in after_failover), [a.error for a in after_failover]
    assert after["dc-b-1"][1] > 0
    assert after["dc-b-2"][1] > 0
    # Failures only while HAProxy had not noticed yet.
    assert all(kill_started - 1.0 < a.started < down_at + 0.5 for a in failed)

    # No accepted message lost or duplicated: the recipient (served by dc-b) gets each exactly
    # once, with its body; a send that failed may or may not have been stored (its 202 was
    # lost with the server), but never twice.
    sent_bodies = {a.body: a for a in attempts}
    with MeshClient(url, RECIPIENT, "password", shared_key=KEY, timeout=10) as receiver:
        inbox = list(receiver.iterate_message_ids())
        assert len(inbox) == len(set(inbox))
        accepted_ids = {a.message_id for a in accepted}
        assert accepted_ids <= set(inbox), f"lost: {accepted_ids - set(inbox)}"
        bodies = []
        for message_id in inbox:
            with receiver.retrieve_message(message_id) as message:
                body = message.read()
                message.acknowledge()
            bodies.append(body)
            source = sent_bodies[body]
            assert source.message_id in (message_id, None)
        assert len(bodies) == len(set(bodies)), "a message was stored twice"
        stored_without_202 = len(inbox) - len(accepted_ids)
        print(f"  inbox {len(inbox)}: every accepted one once, {stored_without_202} without 202")
        assert stored_without_202 <= len(failed)
        assert list(receiver.iterate_message_ids()) == []
        with pytest.raises(requests.HTTPError) as gone:
            receiver.retrieve_message(accepted[0].message_id)
        assert gone.value.response.status_code == 410
    # Close what mesh-client left to the garbage collector while the warning filters apply.
    gc.collect()
