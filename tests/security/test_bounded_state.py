"""Every resource a caller can make grow has a bound and an expiry (findings 7, 9 and 10).

The stores are driven directly with a clock the test moves, so hours pass in milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from harness.server.idempotency import (
    CLAIM_STALE_S,
    RETENTION_S,
    IdempotencyStore,
    StillRunning,
    StoredResponse,
)
from harness.server.mesh.auth import CLOCK_TOLERANCE_S
from harness.server.platform import AUTH_FAILURE_ADDRESSES, FailedAuthLimiter
from harness.server.ratelimit import RateLimiter
from harness.server.store import Store, create_store, upgrade
from harness.server.store.schema import idempotency, mesh_nonces, sessions
from tests.factories import login, mesh_auth, rid


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now_s


def with_store(database_url: str, scenario: Callable[[Store, FakeClock], Awaitable[None]]) -> None:
    """Run ``scenario`` against a fresh store on ``database_url`` with a clock it can move."""

    async def run() -> None:
        clock = FakeClock()
        opened = create_store(database_url, clock=clock)
        await upgrade(opened)
        try:
            await scenario(opened, clock)
        finally:
            await opened.close()

    asyncio.run(run())


async def _rows(store: Store, table: object) -> int:
    async with store.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar())  # type: ignore[arg-type]


DONE = StoredResponse(201, [("content-type", "application/json")], b"{}")


def test_a_claim_left_by_a_dead_worker_is_freed_so_the_retry_runs_once(database_url: str) -> None:
    with_store(database_url, _a_claim_left_by_a_dead_worker_is_freed_so_the_retry_runs_once)


async def _a_claim_left_by_a_dead_worker_is_freed_so_the_retry_runs_once(
    db: Store, clock: FakeClock
) -> None:
    dead = IdempotencyStore(store=db, clock=clock)  # claims, then its process is killed
    live = IdempotencyStore(store=db, clock=clock)
    assert await dead.claim("k", wait_s=0.1) is None
    with pytest.raises(StillRunning):
        await live.claim("k", wait_s=0.1)  # the documented answer while the original may run
    clock.now_s += CLAIM_STALE_S + 1
    assert await live.clean() == 1
    assert await live.claim("k", wait_s=0.1) is None  # the retry executes ...
    await live.complete("k", DONE)
    assert await live.claim("k", wait_s=0.1) == DONE  # ... once


def test_a_claim_still_running_is_kept_alive_by_its_worker(database_url: str) -> None:
    with_store(database_url, _a_claim_still_running_is_kept_alive_by_its_worker)


async def _a_claim_still_running_is_kept_alive_by_its_worker(db: Store, clock: FakeClock) -> None:
    running = IdempotencyStore(store=db, clock=clock)
    assert await running.claim("slow", wait_s=0.1) is None
    for _ in range(3):  # three times the stale age, heartbeat after heartbeat
        clock.now_s += CLAIM_STALE_S / 2
        assert await running.heartbeat() == 1
        assert await running.clean() == 0
    await running.complete("slow", DONE)
    assert await running.heartbeat() == 0


def test_finished_responses_are_deleted_after_retention(database_url: str) -> None:
    with_store(database_url, _finished_responses_are_deleted_after_retention)


async def _finished_responses_are_deleted_after_retention(db: Store, clock: FakeClock) -> None:
    keeper = IdempotencyStore(store=db, clock=clock)
    for n in range(5):
        assert await keeper.claim(f"k{n}", wait_s=0.1) is None
        await keeper.complete(f"k{n}", DONE)
    clock.now_s += RETENTION_S - 1
    assert await keeper.clean() == 0
    clock.now_s += 2
    assert await keeper.clean() == 5
    assert await _rows(db, idempotency) == 0


def test_spent_nonces_are_deleted_once_no_token_could_reuse_them(database_url: str) -> None:
    with_store(database_url, _spent_nonces_are_deleted_once_no_token_could_reuse_them)


async def _spent_nonces_are_deleted_once_no_token_could_reuse_them(
    db: Store, clock: FakeClock
) -> None:
    from harness.server.mesh.directory import MeshDirectory
    from harness.server.mesh.service import MeshService

    mesh = MeshService(store=db, directory=MeshDirectory({}, {}), shared_key="k", clock=clock)
    async with db.begin() as conn:
        await conn.execute(
            insert(mesh_nonces),
            [
                {"mailbox_id": "X", "nonce": "old", "nonce_count": "0", "used_at": clock.now_s},
                {
                    "mailbox_id": "X",
                    "nonce": "new",
                    "nonce_count": "0",
                    "used_at": clock.now_s + 60,
                },
            ],
        )
    clock.now_s += 2 * CLOCK_TOLERANCE_S + 30
    assert await mesh.forget_nonces() == 1
    assert await _rows(db, mesh_nonces) == 1


def test_expired_sessions_are_deleted(client: TestClient) -> None:
    login(client)
    login(client, 1)
    identity = client.app.state.identity  # type: ignore[attr-defined]
    store = client.app.state.store  # type: ignore[attr-defined]
    assert client.portal.call(_rows, store, sessions) == 2  # type: ignore[union-attr]
    assert client.portal.call(identity.delete_expired) == 0  # type: ignore[union-attr]
    client.post("/admin/clock", json={"advance_s": 13 * 3600})
    assert client.portal.call(identity.delete_expired) == 2  # type: ignore[union-attr]
    assert client.portal.call(_rows, store, sessions) == 0  # type: ignore[union-attr]


def test_rate_limit_keys_of_quiet_callers_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        per_app_per_minute=300,
        spike_per_s=3,
        global_per_s=10_000,
        workers=1,
        spike_routes=(),
        clock=clock,
    )
    for n in range(1_000):
        limiter.check(app=f"asid:{n}", api="/personal-demographics", method="GET", path="/p")
    assert len(limiter) == 1_001  # one quota per caller, and the global limit
    clock.now_s += 30
    assert limiter.forget_idle() == 0  # still inside their minute
    clock.now_s += 31
    assert limiter.forget_idle() == 1_000
    assert len(limiter) == 1


def test_failed_authentications_are_tracked_for_a_bounded_number_of_addresses() -> None:
    clock = FakeClock()
    limiter = FailedAuthLimiter(limit=3, clock=clock)
    for n in range(AUTH_FAILURE_ADDRESSES + 500):
        limiter.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == AUTH_FAILURE_ADDRESSES
    for _ in range(3):
        limiter.failed("192.0.2.1")
    assert limiter.blocked("192.0.2.1") is not None
    clock.now_s += 61
    assert limiter.blocked("192.0.2.1") is None


def test_a_json_patch_is_capped(client: TestClient) -> None:
    _, headers = login(client)
    patch = [{"op": "test", "path": "/gender", "value": "male"}] * 60_000
    response = client.patch(
        "/personal-demographics/FHIR/R4/Patient/9000000009",
        json=patch,
        headers={
            **headers,
            **rid(),
            "If-Match": 'W/"1"',
            "Content-Type": "application/json-patch+json",
        },
    )
    assert response.status_code == 400
    assert "at most" in response.json()["issue"][0]["diagnostics"]


def test_a_mesh_nonce_is_compared_whole(client: TestClient) -> None:
    base = "n" * 64
    first = mesh_auth("X26ABC1", nonce=base + "-first")
    response = client.post("/messageexchange/X26ABC1", headers=first)
    # Longer nonces are refused outright: a prefix can no longer stand for the whole.
    assert response.status_code == 403
    ok = client.post("/messageexchange/X26ABC1", headers=mesh_auth("X26ABC1", nonce=base))
    assert ok.status_code == 200
    again = client.post("/messageexchange/X26ABC1", headers=mesh_auth("X26ABC1", nonce=base))
    assert again.status_code == 403
