"""Rate limits shared through the usage ledger: two limiters (two "workers") on one database.

The clock is injected and every sync is called directly, so each test fixes exactly what each
worker knows about the other when it decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.server.domain import TooManyRequests
from harness.server.metrics import Metrics
from harness.server.ratelimit import APP_BUCKET_MS, GLOBAL_DIAGNOSTICS, RateLimiter
from harness.server.ratelimit_ledger import SWEEP_MARGIN_MS, RateLimitLedger
from harness.server.store import Store, create_store, upgrade
from harness.server.store.schema import rate_limit_usage

T0 = 1_800_000_000.0  # a multiple of every bucket, so bucket boundaries are easy to reason about
SYNC_S = 0.25
ODS = "/organisation-data/FHIR/R4"
PATIENT = ("POST", "/personal-demographics/FHIR/R4/Patient")


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def limiter(
    clock: FakeClock,
    *,
    per_app: int = 10,
    spike: int = 3,
    global_per_s: int = 1_000,
    workers: int = 1,
    sync_s: float = SYNC_S,
) -> RateLimiter:
    return RateLimiter(
        per_app_per_minute=per_app,
        spike_per_s=spike,
        global_per_s=global_per_s,
        workers=workers,
        spike_routes=(" ".join(PATIENT),),
        clock=clock,
        sync_s=sync_s,
    )


def admitted(
    lim: RateLimiter, n: int, *, app: str = "A1", route: tuple[str, str] = ("GET", ODS)
) -> int:
    """How many of ``n`` requests ``lim`` admits."""
    count = 0
    for _ in range(n):
        try:
            lim.check(app=app, api=ODS, method=route[0], path=route[1])
        except TooManyRequests:
            continue
        count += 1
    return count


def run_with_stores(database_url: str, body: Callable[[Store, Store], Awaitable[None]]) -> None:
    """Run ``body`` with two stores (two "processes") on one upgraded database."""

    async def run() -> None:
        first = create_store(database_url, clock=lambda: T0)
        second = create_store(database_url, clock=lambda: T0)
        try:
            await upgrade(first)
            await body(first, second)
        finally:
            await first.close()
            await second.close()

    asyncio.run(run())


def test_without_a_ledger_each_worker_enforces_its_share() -> None:
    clock = FakeClock()
    lim = limiter(clock, per_app=10, workers=2, sync_s=0)
    assert admitted(lim, 8) == 5
    clock.now += 60.0
    assert admitted(lim, 8) == 5  # the window has rolled on
    with pytest.raises(TooManyRequests) as refused:
        lim.check(app="A1", api=ODS, method="GET", path=ODS)
    assert 1.0 <= refused.value.retry_after_s <= 60.0  # type: ignore[attr-defined]


def test_two_workers_share_the_per_application_quota(database_url: str) -> None:
    clock = FakeClock()
    a, b = limiter(clock, per_app=10, workers=2), limiter(clock, per_app=10, workers=2)

    async def body(store_a: Store, store_b: Store) -> None:
        ledger_a = RateLimitLedger(store=store_a, limiter=a, worker="a")
        ledger_b = RateLimitLedger(store=store_b, limiter=b, worker="b")
        await ledger_a.sync()
        await ledger_b.sync()
        # With the ledger current, one worker may take the whole quota (not 10 / 2)...
        assert admitted(a, 7) == 7
        clock.now += 0.3
        await ledger_a.sync()
        await ledger_b.sync()
        # ...and the other sees those 7 and admits only the remaining 3.
        assert admitted(b, 5) == 3
        with pytest.raises(TooManyRequests) as refused:
            b.check(app="A1", api=ODS, method="GET", path=ODS)
        assert "rate limit of 10 requests per minute" in str(refused.value)
        # B's own 3 leave the window at T0 + 60.3, A's bucket (T0 .. T0 + 5) at T0 + 65.
        assert 59.0 <= refused.value.retry_after_s <= 60.0  # type: ignore[attr-defined]
        assert admitted(a, 1) == 1  # A has not seen B's 3 yet: the overshoot of one interval
        clock.now += 0.1
        await ledger_b.sync()
        await ledger_a.sync()
        assert admitted(a, 1) == 0  # A now counts B's 3 as well
        assert admitted(a, 1, app="A2") == 1  # another application's quota is its own
        # B's own 3 (at T0 + 0.3) have left the window at T0 + 60.5; A's 8 count until the end
        # of their bucket (T0 .. T0 + 5) has left it too: bucketing refuses early, never late.
        clock.now = T0 + 60.5
        await ledger_a.sync()
        await ledger_b.sync()
        assert admitted(b, 10) == 2
        clock.now = T0 + APP_BUCKET_MS / 1000 + 60.0 - 0.01
        await ledger_b.sync()
        assert admitted(b, 10) == 0  # A's bucket is still in the window
        clock.now = T0 + APP_BUCKET_MS / 1000 + 60.0
        await ledger_b.sync()
        assert admitted(b, 10) == 8

    run_with_stores(database_url, body)


def test_global_and_spike_limits_are_shared(database_url: str) -> None:
    clock = FakeClock()
    a = limiter(clock, per_app=1_000, spike=3, global_per_s=8)
    b = limiter(clock, per_app=1_000, spike=3, global_per_s=8)

    async def body(store_a: Store, store_b: Store) -> None:
        ledger_a = RateLimitLedger(store=store_a, limiter=a, worker="a")
        ledger_b = RateLimitLedger(store=store_b, limiter=b, worker="b")
        await ledger_a.sync()
        await ledger_b.sync()
        assert admitted(a, 2, route=PATIENT) == 2
        clock.now += 0.25
        await ledger_a.sync()
        await ledger_b.sync()
        # Spike arrest: 3 per second for A1 in all. The refused third request still passed the
        # global limit (which counts what reaches the service): 2 + 3 so far.
        assert admitted(b, 3, route=PATIENT) == 1
        assert admitted(b, 2, app="A2", route=PATIENT) == 2  # 7
        assert admitted(b, 1, app="A3") == 1  # 8
        with pytest.raises(TooManyRequests) as refused:
            b.check(app="A3", api=ODS, method="GET", path=ODS)
        assert str(refused.value) == GLOBAL_DIAGNOSTICS
        # A's 100-ms bucket at T0 leaves the one-second window at T0 + 1.1; B's own 6 requests
        # (at T0 + 0.25) are still in it.
        clock.now = T0 + 1.1
        await ledger_b.sync()
        assert admitted(b, 5, app="A4") == 2

    run_with_stores(database_url, body)


def test_stale_ledger_falls_back_to_the_local_share(database_url: str) -> None:
    clock = FakeClock()
    a, b = limiter(clock, per_app=10, workers=2), limiter(clock, per_app=10, workers=2)

    async def body(store_a: Store, store_b: Store) -> None:
        ledger_a = RateLimitLedger(store=store_a, limiter=a, worker="a")
        ledger_b = RateLimitLedger(store=store_b, limiter=b, worker="b")
        assert admitted(b, 10) == 5  # no sync yet: the local share
        await ledger_b.sync()
        await ledger_a.sync()
        assert admitted(a, 10) == 5  # shared: the 5 B admitted count against A
        clock.now += 1.1  # more than four sync intervals without a sync
        assert admitted(a, 10, app="A2") == 5  # stale: the share again, not everything, not 0
        assert admitted(b, 10, app="A3") == 5

    run_with_stores(database_url, body)


def test_unreachable_database_logs_and_keeps_the_share(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    lim = limiter(clock, per_app=10, workers=2)
    metrics = Metrics()
    (tmp_path / "not-a-database").mkdir()  # a directory: SQLite cannot open it

    async def run() -> None:
        store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'not-a-database'}", clock=clock)
        ledger = RateLimitLedger(store=store, limiter=lim, worker="a", metrics=metrics)
        try:
            assert admitted(lim, 3) == 3
            with caplog.at_level(logging.WARNING, logger="harness.server.ratelimit_ledger"):
                await ledger.sync()  # does not raise
                await ledger.sync()
        finally:
            await store.close()

    asyncio.run(run())
    warnings = [r for r in caplog.records if "ledger unavailable" in r.getMessage()]
    assert len(warnings) == 1  # logged once per outage, not once per sync
    assert metrics.registry is not None
    assert metrics.registry.get_sample_value("spine_rate_limit_ledger_failures_total") == 2
    assert admitted(lim, 10) == 2  # the local share (10 / 2), of which 3 are used


def test_ledger_writes_only_live_rows_and_sweeps_dead_workers(database_url: str) -> None:
    clock = FakeClock()
    a, b = limiter(clock), limiter(clock)

    async def rows(store: Store, worker: str | None = None) -> int:
        query = select(func.count()).select_from(rate_limit_usage)
        if worker is not None:
            query = query.where(rate_limit_usage.c.worker == worker)
        async with store.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def body(store_a: Store, store_b: Store) -> None:
        ledger_a = RateLimitLedger(store=store_a, limiter=a, worker="a")
        ledger_b = RateLimitLedger(store=store_b, limiter=b, worker="b")
        admitted(a, 4)
        await ledger_a.sync()
        assert await rows(store_a, "a") == 2  # one bucket of the quota, one of the global limit
        clock.now += 0.05
        admitted(a, 1)
        await ledger_a.sync()  # the same buckets again: rewritten, not added
        async with store_a.connect() as conn:
            counts = sorted((await conn.execute(select(rate_limit_usage.c.count))).scalars())
        assert counts == [5, 5]
        await ledger_a.sync()  # nothing new: the finished global bucket is not written again
        # Worker "a" dies; once its rows are long expired, another worker's sweep removes them.
        clock.now += APP_BUCKET_MS / 1000 + 60.0 + 1.0 + SWEEP_MARGIN_MS / 1000
        ledger_b._syncs = 0  # the next sync sweeps
        await ledger_b.sync()
        assert await rows(store_b) == 0

    run_with_stores(database_url, body)


def _quota_rows(lim: RateLimiter) -> dict[str, int]:
    return {u.key: u.count for u in lim.pending_usage() if u.key.startswith("a|")}


def test_a_quota_is_shared_only_once_busy(database_url: str) -> None:
    # 2 % of 300 is 6: an application's first five requests on a worker stay out of the ledger.
    clock = FakeClock()
    a, b = limiter(clock, per_app=300, workers=2), limiter(clock, per_app=300, workers=2)
    assert a.share_from == 6

    async def body(store_a: Store, store_b: Store) -> None:
        ledger_a = RateLimitLedger(store=store_a, limiter=a, worker="a")
        ledger_b = RateLimitLedger(store=store_b, limiter=b, worker="b")
        assert admitted(a, 5, app="QUIET") == 5
        assert _quota_rows(a) == {}
        assert admitted(a, 6, app="BUSY") == 6
        # Sharing starts with every admission still in the window, not only the latest.
        assert _quota_rows(a) == {f"a|BUSY|{ODS}": 6}
        await ledger_a.sync()
        async with store_a.connect() as conn:
            keys = set((await conn.execute(select(rate_limit_usage.c.limit_key))).scalars())
        assert keys == {"g", f"a|BUSY|{ODS}"}  # the global key and the busy quota only
        clock.now += 0.3
        await ledger_b.sync()
        # B counts A's 6 for the busy application: it may admit 294 more, not 300.
        assert admitted(b, 300, app="BUSY") == 294
        # The quiet application's 5 are not seen: the documented bound, (workers - 1) x 5.
        assert admitted(b, 300, app="QUIET") == 300
        # Quiet for a whole window: cold again, so the next request is not written.
        clock.now += 61.0
        await ledger_a.sync()  # writes the finished bucket of the 6 and forgets it
        assert admitted(a, 1, app="BUSY") == 1
        assert _quota_rows(a) == {}

    run_with_stores(database_url, body)


def test_a_burst_inside_one_sync_interval_is_bounded_by_each_workers_own_view(
    database_url: str,
) -> None:
    # The documented overshoot bound (the others' admissions of two sync intervals) assumes
    # requests arrive at about the admitted rate. A burst inside one interval reaches every
    # worker before any sees the others: each admits up to its own view, so the cluster can
    # admit up to workers × limit in that second — and never more.
    clock = FakeClock()
    workers = [limiter(clock, per_app=10_000, global_per_s=40, workers=2) for _ in range(4)]

    async def body(store_a: Store, store_b: Store) -> None:
        ledgers = [
            RateLimitLedger(store=(store_a, store_b)[i % 2], limiter=w, worker=f"w{i}")
            for i, w in enumerate(workers)
        ]
        for ledger in ledgers:
            await ledger.sync()
        burst = sum(admitted(workers[i % 4], 1, app=f"A{i}") for i in range(400))
        assert burst == 4 * 40
        # Once the ledger has moved the burst, every worker refuses until it leaves the window.
        clock.now += SYNC_S
        for ledger in ledgers:
            await ledger.sync()
        assert sum(admitted(w, 10) for w in workers) == 0
        clock.now = T0 + 1.1  # the burst's 100-ms bucket has left the one-second window
        for ledger in ledgers:
            await ledger.sync()
        assert sum(admitted(workers[i % 4], 1, app=f"B{i}") for i in range(400)) == 4 * 40

    run_with_stores(database_url, body)


def test_the_ledger_reports_its_syncs_view_ages_and_local_share_checks(
    database_url: str,
) -> None:
    clock = FakeClock()
    a = limiter(clock, per_app=10, workers=2)
    metrics = Metrics()

    def value(name: str) -> float:
        found = metrics.registry.get_sample_value(name)  # type: ignore[union-attr]
        return 0.0 if found is None else float(found)

    async def body(store_a: Store, _: Store) -> None:
        ledger = RateLimitLedger(store=store_a, limiter=a, worker="a", metrics=metrics)
        assert admitted(a, 3) == 3  # before the first sync: checked on the local share
        await ledger.sync()
        assert value("spine_rate_limit_local_share_checks_total") == 3
        assert value("spine_rate_limit_ledger_sync_seconds_count") == 1
        assert value("spine_rate_limit_ledger_view_age_seconds_count") == 0  # no view before
        clock.now += 0.3
        await ledger.sync()
        assert value("spine_rate_limit_ledger_view_age_seconds_count") == 1
        assert value("spine_rate_limit_ledger_view_age_seconds_sum") == pytest.approx(0.3)
        assert value("spine_rate_limit_ledger_failures_total") == 0
        assert value("spine_rate_limit_local_share_checks_total") == 3  # shared since

    run_with_stores(database_url, body)
