"""Rate limits hold across workers and replicas: real servers sharing one database.

- SQLite: one ``harness serve --workers 2``.
- PostgreSQL: two replicas (``--workers 2`` each) on different ports, as dc-a and dc-b,
  started at the same moment on an empty database (so both run the migrations at once).

Every request goes on a fresh connection, so the kernel spreads them over a replica's workers,
and the requests alternate between replicas. The admitted total must be the configured limit
within the documented bound — the other workers' admissions of two sync intervals — never the
per-replica sum.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.spine import build_directory
from tests.conftest import (
    LiveServer,
    fresh_postgres_database,
    live_session_headers,
    start_small_server,
    stop_server,
)

pytestmark = pytest.mark.integration

QUOTA_PER_MINUTE = 30
GLOBAL_PER_S = 40
SYNC_S = 0.25  # the default rate_limit_sync_s
SEED = 7
ODS_PATH = "/organisation-data/FHIR/R4/Organization"
ENV = {
    "HARNESS_RATE_LIMIT_PER_APP_PER_MINUTE": str(QUOTA_PER_MINUTE),
    "HARNESS_GLOBAL_RATE_LIMIT_PER_S": str(GLOBAL_PER_S),
    "HARNESS_RATE_LIMIT_SYNC_S": str(SYNC_S),
}


def overshoot_bound(admitted_per_s: float) -> int:
    """The most a cluster may admit over a limit while admitting ``admitted_per_s`` in all.

    Another worker's admission is written at its next sync and read at this worker's next:
    up to two intervals unseen. Half an interval more covers syncs delayed on a busy core.
    """
    return int(admitted_per_s * 2.5 * SYNC_S) + 1


def _start(tmp_path: Path, database_url: str) -> LiveServer:
    return start_small_server(tmp_path, database_url, env=ENV)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Base URLs: one SQLite server, or two replicas of one PostgreSQL database.

    One set per backend for the module (two PostgreSQL replicas take half a minute to start on
    a busy machine): one test spends an application's quota, the other the global limit per
    second, so neither sees the other's admissions.
    """
    tmp_path = tmp_path_factory.mktemp(f"limits-{request.param}")
    servers: list[LiveServer] = []
    try:
        if request.param == "sqlite":
            servers.append(_start(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'limits.db'}"))
        else:
            url = fresh_postgres_database(request.getfixturevalue("postgres_url"), prefix="rl")
            # Both at once, as replicas may now start: each migrates the empty database under
            # the migration lock.
            with ThreadPoolExecutor(2) as pool:
                futures = [pool.submit(_start, tmp_path, url) for _ in range(2)]
                wait(futures)
            servers.extend(f.result() for f in futures if f.exception() is None)
            for future in futures:
                if (exc := future.exception()) is not None:
                    raise exc
        yield [s.url for s in servers]
    finally:
        for server in servers:
            stop_server(server)


def _paced(
    urls: list[str], path: str, headers: dict[str, str], count: int, rate_per_s: float
) -> list[tuple[float, httpx.Response]]:
    """``count`` GETs at ``rate_per_s``, each on a new connection, alternating over ``urls``."""
    fresh = httpx.Limits(max_keepalive_connections=0)
    clients = [httpx.Client(base_url=url, limits=fresh) for url in urls]
    out = []
    try:
        first = started = time.monotonic()
        for i in range(count):
            behind = time.monotonic() - (started + i / rate_per_s)
            if behind > 1 / rate_per_s:
                # Never catch up in a burst: after a stall (a busy CI core) the backlog would
                # reach the workers faster than the rate, and each admits up to its own view
                # until the next sync — a larger overshoot than the steady rate's bound
                # (measured: 90-108 in one second on two PostgreSQL replicas after a 0.5-1 s
                # stall; test_ratelimit.py pins the burst bound of workers × limit).
                started += behind
            time.sleep(max(0.0, started + i / rate_per_s - time.monotonic()))
            sent = time.monotonic()
            response = clients[i % len(clients)].get(
                path, headers={**headers, "X-Request-ID": str(uuid.uuid4())}
            )
            assert response.status_code in {200, 429}, response.text
            out.append((sent, response))
        achieved = count / (time.monotonic() - first)
        # Without catch-up bursts a slow machine's client reaches ~80 % of the rate (79.5/s of
        # 100/s seen in CI); 60 % still offers the global limit half as much again.
        assert achieved >= 0.6 * rate_per_s, f"the client sent only {achieved:.0f} per s"
    finally:
        for client in clients:
            client.close()
    return out


def ledger_health(url: str) -> dict[str, float]:
    """One replica's ledger metrics: syncs, failures, local-share checks, slowest view and sync.

    The slowest values are the upper bounds of the highest histogram buckets that hold any
    observation (``inf`` when one exceeded the largest bucket).
    """
    health: dict[str, float] = {}
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = sample.name
            if name == "spine_rate_limit_ledger_failures_total":
                health["failures"] = sample.value
            elif name == "spine_rate_limit_local_share_checks_total":
                health["local_share_checks"] = sample.value
            elif name == "spine_rate_limit_ledger_sync_seconds_count":
                health["syncs"] = sample.value
            elif name.endswith("_bucket") and name.startswith("spine_rate_limit_ledger_"):
                what = "slowest_sync_s" if "_sync_" in name else "oldest_view_s"
                le = float(sample.labels["le"])
                below = health.setdefault(f"_{what}_below", 0.0)
                if sample.value > below:  # cumulative: the first bucket holding them all
                    health[f"_{what}_below"] = sample.value
                    health[what] = le
    return {k: v for k, v in health.items() if not k.startswith("_")}


def test_per_application_quota_is_global(replicas: list[str]) -> None:
    headers = live_session_headers(replicas[0])
    ods = build_directory(200, SEED).organisations[0].ods_code
    path = f"{ODS_PATH}/{ods}"
    # One connection, so one worker: it may use the whole quota, not a per-worker share.
    with httpx.Client(base_url=replicas[0]) as client:
        first = [
            client.get(path, headers={**headers, "X-Request-ID": str(uuid.uuid4())}).status_code
            for _ in range(20)
        ]
    assert first == [200] * 20
    rate_per_s = 20.0
    responses = _paced(replicas, path, headers, 60, rate_per_s)
    admitted = 20 + sum(r.status_code == 200 for _, r in responses)
    assert QUOTA_PER_MINUTE <= admitted <= QUOTA_PER_MINUTE + overshoot_bound(rate_per_s), admitted
    refused = [r for _, r in responses if r.status_code == 429]
    assert refused, "the quota was never enforced"
    body = refused[-1].json()
    assert body["issue"][0]["details"]["coding"][0]["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(refused[-1].headers["Retry-After"]) <= 60
    # Every replica refuses once the quota is spent, not only the one that admitted most.
    last_round = responses[-len(replicas) * 3 :]
    assert all(r.status_code == 429 for _, r in last_round)


def test_global_limit_is_global(replicas: list[str]) -> None:
    rate_per_s = 100.0  # offered: two and a half times the limit
    responses = _paced(replicas, "/messageexchange/_ping", {}, 300, rate_per_s)
    admitted = [t for t, r in responses if r.status_code == 200]
    assert any(r.status_code == 429 for _, r in responses)
    # The most admitted in any one-second window (by send time), against the limit.
    busiest = max(sum(1 for u in admitted if t <= u < t + 1.0) for t in admitted)
    assert busiest >= GLOBAL_PER_S, busiest
    bound = GLOBAL_PER_S + overshoot_bound(GLOBAL_PER_S)
    # On failure, say whether the ledger kept up: slow or failed syncs widen the bound.
    health = {url: ledger_health(url) for url in replicas}
    assert busiest <= bound, f"{busiest} admitted in one second; ledger: {health}"
    for url, replica in health.items():
        assert replica["failures"] == 0, (url, replica)
        assert replica["syncs"] > 0, (url, replica)
