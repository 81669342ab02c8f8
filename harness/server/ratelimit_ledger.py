"""The rate-limit usage ledger: what every worker admitted, shared through the database.

Each worker process runs :meth:`RateLimitLedger.sync` in the background every
``rate_limit_sync_s``. One sync

1. upserts, in one transaction, this worker's admitted counts for the (limit key, bucket) pairs
   it admitted into since the last write (rows are per worker, so the write is an idempotent
   "set" that no other worker contends for) and deletes this worker's expired rows;
2. reads back the totals of all *other* workers per (limit key, bucket) for the buckets still
   inside their windows, and hands them to the :class:`~harness.server.ratelimit.RateLimiter`.

Every :data:`SWEEP_EVERY_SYNCS` syncs a worker also deletes rows that expired long ago whoever
wrote them — those of workers that died. The same Core statements run on SQLite and PostgreSQL;
only the upsert comes from the dialect (both spell it ``ON CONFLICT … DO UPDATE``).

A failed sync (database unreachable, stalled or refusing) is logged once, not raised: the
limiter keeps admitting on its local share once its picture of the others goes stale, and the
next good sync restores the global limits. See :mod:`harness.server.ratelimit` for the bound on
how far the shared limits can be overshot.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from typing import Any

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from harness.server.metrics import Metrics
from harness.server.ratelimit import RateLimiter, Usage
from harness.server.store import Store, StoreUnavailable
from harness.server.store.schema import rate_limit_usage

log = logging.getLogger(__name__)
SWEEP_EVERY_SYNCS = 40  # ~10 s at the default interval
SWEEP_MARGIN_MS = 60_000  # rows this long past expiry belong to workers that stopped syncing
READ_GROUP_MS = 15_000  # quota rows read back merged into groups of this much expiry

_t = rate_limit_usage.c


def worker_id() -> str:
    """A name for this worker process, unique across replicas and restarts."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RateLimitLedger:
    """Moves one worker's rate-limit usage to and from the database.

    Args:
        store: the database.
        limiter: this worker's limiter.
        worker: this worker's name in the ledger (default: :func:`worker_id`).
        metrics: where to report sync durations, view ages, failures and local-share checks.
    """

    def __init__(
        self,
        *,
        store: Store,
        limiter: RateLimiter,
        worker: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.limiter = limiter
        self.worker = worker or worker_id()
        self.metrics = metrics
        self._local_share_reported = 0
        self._syncs = 0
        self._failing = False
        self._upsert_stmt: Any = None

    def _upsert(self) -> Any:
        """One row's upsert, built once: executed with many parameter sets it stays compiled.

        (A multi-row ``VALUES`` statement is compiled afresh for every row count — that
        compilation was most of the ledger's cost.)
        """
        if self._upsert_stmt is None:
            keys = [_t.limit_key, _t.bucket_ms, _t.worker]
            dialect = postgresql if self.store.engine.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(rate_limit_usage)
            self._upsert_stmt = stmt.on_conflict_do_update(
                index_elements=keys,
                set_={"count": stmt.excluded["count"], "expires_ms": stmt.excluded["expires_ms"]},
            )
        return self._upsert_stmt

    def _others(self, now_ms: int) -> Any:
        """The other workers' live usage, summed per key and coarse expiry group.

        Rows of one quota key are merged into groups of :data:`READ_GROUP_MS` of expiry and
        given the group's *latest* expiry: fewer rows to read and install, and a count that
        lingers at most one group longer than its bucket — refusing slightly early, never
        admitting extra.
        """
        group = case((func.substr(_t.limit_key, 1, 1) == "a", READ_GROUP_MS), else_=1)
        return (
            select(
                _t.limit_key, func.min(_t.bucket_ms), func.sum(_t.count), func.max(_t.expires_ms)
            )
            .where(and_(_t.expires_ms > now_ms, _t.worker != self.worker))
            .group_by(_t.limit_key, _t.expires_ms // group)
        )

    async def sync(self) -> None:
        """Write this worker's new usage, read everyone else's (never raises for storage)."""
        started = time.perf_counter()
        if self.metrics is not None:
            local = self.limiter.local_share_checks
            self.metrics.local_share_checks.inc(local - self._local_share_reported)
            self._local_share_reported = local
        now = self.limiter.clock()
        now_ms = int(now * 1000)
        rows = self.limiter.pending_usage()
        sweep = self._syncs % SWEEP_EVERY_SYNCS == 0
        self._syncs += 1
        try:
            if rows or sweep:
                async with self.store.begin() as conn:
                    if rows:
                        await conn.execute(
                            self._upsert(),
                            [
                                {
                                    "limit_key": r.key,
                                    "bucket_ms": r.bucket_ms,
                                    "worker": self.worker,
                                    "count": r.count,
                                    "expires_ms": r.expires_ms,
                                }
                                for r in rows
                            ],
                        )
                    await conn.execute(
                        delete(rate_limit_usage).where(
                            and_(_t.worker == self.worker, _t.expires_ms <= now_ms)
                        )
                    )
                    if sweep:
                        await conn.execute(
                            delete(rate_limit_usage).where(
                                _t.expires_ms <= now_ms - SWEEP_MARGIN_MS
                            )
                        )
                self.limiter.written(now)
            # Read through the async engine: on SQLite the store's own connections run on the
            # event loop, and this aggregate over every live row must not hold requests up.
            async with self.store.engine.connect() as conn:
                result = (await conn.execute(self._others(now_ms))).all()
        except (StoreUnavailable, SQLAlchemyError, OSError) as exc:
            if not self._failing:
                log.warning(
                    "rate-limit ledger unavailable (%s); this worker enforces its local share "
                    "of each limit until the ledger is back",
                    exc,
                )
            self._failing = True
            if self.metrics is not None:
                self.metrics.ledger_failures.inc()
            return
        age_s = self.limiter.apply_others(
            (Usage(str(k), int(b), int(c), int(e)) for k, b, c, e in result), now
        )
        if self.metrics is not None:
            self.metrics.ledger_sync.observe(time.perf_counter() - started)
            if math.isfinite(age_s):
                self.metrics.ledger_view_age.observe(age_s)
        if self._failing:
            log.warning("rate-limit ledger available again; limits are global once more")
            self._failing = False
