"""Hostile soak: good clients keep their service while 5 % of the traffic attacks the server.

Good clients read PDS records with real sessions at ``HARNESS_SOAK_RATE_PER_S`` (default 40/s)
for a clean phase of ``HARNESS_SOAK_CLEAN_S`` (default 120 s), then for ``HARNESS_SOAK_DURATION_S``
(default 600 s) while attackers add 5 % of that rate in forged tokens, 1-MiB headers and
heads trickled a byte a second (each held until the server cuts it off). Passes when the good
clients get no 5xx, their p99 in the hostile phase is within 2× (+20 ms) of the clean phase's,
and the workers' memory at the end of the hostile phase is within 10 % (+30 MB) of its value
a third of the way in.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import live_session_headers, start_server, stop_server
from tests.security.raw import workers_rss

pytestmark = pytest.mark.soak

DURATION_S = float(os.environ.get("HARNESS_SOAK_DURATION_S", "600"))
CLEAN_S = float(os.environ.get("HARNESS_SOAK_CLEAN_S", "120"))
RATE_PER_S = float(os.environ.get("HARNESS_SOAK_RATE_PER_S", "40"))
HOSTILE_SHARE = 0.05
P99_FACTOR, P99_SLACK_S = 2.0, 0.020
RSS_FACTOR, RSS_SLACK_B = 1.10, 30 * 1024 * 1024
PDS = "/personal-demographics/FHIR/R4/Patient/9000000009"


def _attack(address: tuple[str, int], n: int) -> None:
    """One hostile request: a forged token, a giant header or a trickled head, in turn."""
    with contextlib.suppress(OSError), socket.create_connection(address, timeout=15) as sock:
        kind = n % 3
        if kind == 0:
            sock.sendall(
                f"GET {PDS} HTTP/1.1\r\nHost: x\r\nX-Request-ID: {uuid.uuid4()}\r\n"
                f"Authorization: Bearer 200000000001.forged{n}\r\n\r\n".encode()
            )
        elif kind == 1:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_048_576)
        else:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            for _ in range(12):
                time.sleep(1)
                sock.sendall(b"X")
        sock.recv(1024)


def test_good_clients_keep_their_service_under_hostile_traffic(tmp_path: Path) -> None:
    server = start_server(
        tmp_path, "--workers", "2", "--organisations", "200", "--seed", "7",
        "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'hostile.db'}",
        env={"HARNESS_RATE_LIMIT_PER_APP_PER_MINUTE": "10000000",
             "HARNESS_GLOBAL_RATE_LIMIT_PER_S": "100000"},
    )  # fmt: skip
    host, port = server.url.removeprefix("http://").split(":")
    headers = live_session_headers(server.url)
    samples: list[tuple[float, float, int]] = []  # (offset s, latency s, status)
    rss: list[tuple[float, int]] = []
    lock = threading.Lock()
    started = time.monotonic()
    end = started + CLEAN_S + DURATION_S
    try:

        def good(n: int, threads: int) -> None:
            interval = threads / RATE_PER_S
            next_at = started + n * interval / threads
            with httpx.Client(base_url=server.url, timeout=10) as http:
                while (now := time.monotonic()) < end:
                    if now < next_at:
                        time.sleep(next_at - now)
                    next_at += interval
                    t0 = time.monotonic()
                    response = http.get(PDS, headers={**headers, "X-Request-ID": str(uuid.uuid4())})
                    with lock:
                        samples.append((t0 - started, time.monotonic() - t0, response.status_code))

        def hostile() -> None:
            interval = 1 / (RATE_PER_S * HOSTILE_SHARE)
            n = 0
            attackers: list[threading.Thread] = []
            while time.monotonic() < started + CLEAN_S:
                time.sleep(0.2)
            while time.monotonic() < end:
                attacker = threading.Thread(target=_attack, args=((host, int(port)), n))
                attacker.start()
                attackers.append(attacker)
                n += 1
                time.sleep(interval)
            for attacker in attackers:
                attacker.join()

        threads = [threading.Thread(target=good, args=(n, 8)) for n in range(8)]
        threads.append(threading.Thread(target=hostile))
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            rss.append((time.monotonic() - started, workers_rss(server)))
            time.sleep(5)
    finally:
        stop_server(server)
    clean = np.array([lat for t, lat, _ in samples if t < CLEAN_S])
    hostile_phase = np.array([lat for t, lat, _ in samples if t >= CLEAN_S])
    p99_clean, p99_hostile = np.percentile(clean, 99), np.percentile(hostile_phase, 99)
    rss_early = max(b for t, b in rss if CLEAN_S <= t <= CLEAN_S + DURATION_S / 3)
    rss_end = max(b for t, b in rss if t >= CLEAN_S + 2 * DURATION_S / 3)
    errors = sum(1 for *_, status in samples if status >= 500)
    print(
        f"\nhostile soak: {len(samples)} good requests, {errors} 5xx; p99 clean "
        f"{p99_clean * 1000:.1f} ms, hostile {p99_hostile * 1000:.1f} ms; RSS a third in "
        f"{rss_early / 2**20:.0f} MB, at the end {rss_end / 2**20:.0f} MB"
    )
    assert len(samples) >= 0.8 * RATE_PER_S * (CLEAN_S + DURATION_S), "the client fell behind"
    assert errors == 0
    assert p99_hostile <= P99_FACTOR * p99_clean + P99_SLACK_S
    assert rss_end <= RSS_FACTOR * rss_early + RSS_SLACK_B
