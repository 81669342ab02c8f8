"""De-duplication of retried state-changing requests by ``X-Request-ID``, durably.

"If you re-send a failed request, use the same value": a retry must return the original
response and must never execute twice, even when it reaches another worker or arrives after a
restart. Each state-changing FHIR request first *claims* its key with an INSERT (the primary key
makes the claim atomic across workers and databases), runs, and then stores its response:

- a retry of a finished request gets the stored response back;
- a retry of a request still running waits for it (up to the client's ``X-Sync-Wait``) and then
  gets its response, or 503 with ``Retry-After`` while it is still running;
- server errors and 429s are not stored, so the retry runs again — the original failed before
  it changed anything (services change state in one transaction);
- a client that asked for the asynchronous pattern (``Prefer: respond-async``) polls the
  request's status URL instead of retrying: :meth:`IdempotencyStore.lookup` finds the record by
  the polling application and the ``X-Request-ID`` alone.

Records do not live for ever: a worker marks the claims it is running as alive every
:data:`HEARTBEAT_S` (``created_at``), a pending claim not marked for :data:`CLAIM_STALE_S` —
its worker died — is deleted so that a retry runs the request, and finished responses are
deleted after :data:`RETENTION_S` (:meth:`IdempotencyStore.clean`, run on a schedule).

Reads need no record, which keeps the per-request cost to state-changing calls. The claim is
written before the request runs (it is the exactly-once guard, so it cannot wait), but the
completion is not on the hot path: responses are queued and written in batches, one transaction
every ``flush_s`` (20 ms by default) or per :data:`BATCH_SIZE`, while the response goes out.
Until its batch is written, a retry or poll on the same worker is answered from the queue and
one on another worker waits (it polls every :data:`POLL_S`, longer than a flush interval).
Trade-off, as for the audit: a worker killed with SIGKILL loses at most one interval of
completions, and a retry of such a request then sees it "still running" (503) rather than run it
twice — the same answer as for a worker killed between its service's commit and an unbatched
completion, over a window of ``flush_s`` instead of one statement. ``flush_s = 0`` writes each
completion before its response.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from harness.server.batching import flush_periodically
from harness.server.store import Store
from harness.server.store.schema import idempotency

POLL_S = 0.05  # how often a waiting retry looks for the original's response
BATCH_SIZE = 200  # completions queued before a flush is due early
HEARTBEAT_S = 10.0  # how often a worker marks the claims it is still running as alive
# A pending claim not marked alive for this long was left by a dead worker: it is deleted, so
# the next retry runs the request (once). Longer than the 29-s X-Sync-Wait cap a client waits.
CLAIM_STALE_S = 60.0
RETENTION_S = 3600.0  # finished responses are replayed for an hour, then deleted


# Built once (why: harness.server.fastpath).
_CLAIM = insert(idempotency)
# One compiled statement for every batch (executemany); bind names differ from the columns'.
_COMPLETE = (
    update(idempotency)
    .where(idempotency.c.key == bindparam("k"))
    .values(
        state="done",
        status_code=bindparam("s"),
        headers=bindparam("h"),
        body=bindparam("b"),
    )
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response kept for replay."""

    status_code: int
    headers: list[tuple[str, str]]
    body: bytes


def _stored(row: Any) -> StoredResponse:
    headers = [(str(k), str(v)) for k, v in json.loads(row["headers"])]
    return StoredResponse(int(row["status_code"]), headers, bytes(row["body"]))


class StillRunning(Exception):
    """The original request has not finished within the retry's patience."""


class IdempotencyStore:
    """Claims, completions and replays of idempotency keys."""

    def __init__(self, *, store: Store, clock: Callable[[], float], flush_s: float = 0.0) -> None:
        self.store = store
        self.clock = clock
        self.flush_s = flush_s
        # Completed but not yet written, by key; kept until its batch commits.
        self._unflushed: dict[str, StoredResponse] = {}
        self._wake = asyncio.Event()
        self.written = 0
        self._running: set[str] = set()  # keys this worker has claimed and not yet finished

    async def claim(self, key: str, *, wait_s: float) -> StoredResponse | None:
        """Claim ``key`` for a new execution (``None``), or return the original's response.

        Raises:
            StillRunning: the original is still executing after ``wait_s``.
        """
        try:
            async with self.store.begin() as conn:
                await conn.execute(
                    _CLAIM, {"key": key, "state": "pending", "created_at": self.clock()}
                )
            self._running.add(key)
            return None
        except IntegrityError:
            pass
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            async with self.store.connect() as conn:
                row = (
                    (await conn.execute(select(idempotency).where(idempotency.c.key == key)))
                    .mappings()
                    .first()
                )
            if (queued := self._unflushed.get(key)) is not None:
                return queued
            if row is None:
                # The original failed and released its claim: run this one.
                return await self.claim(key, wait_s=wait_s)
            if row["state"] == "done":
                return _stored(row)
            if asyncio.get_running_loop().time() >= deadline:
                raise StillRunning(key)
            await asyncio.sleep(POLL_S)

    async def lookup(self, app: str | None, request_id: str) -> StoredResponse | None:
        """The finished response of ``app``'s request ``request_id``, or ``None`` if unknown.

        Raises:
            StillRunning: the request is still executing.
        """
        prefix, suffix = f"{app}|", f"|{request_id}"
        for key, queued in self._unflushed.items():
            if key.startswith(prefix) and key.endswith(suffix):
                return queued
        async with self.store.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(idempotency).where(
                            idempotency.c.key.startswith(prefix, autoescape=True),
                            idempotency.c.key.endswith(suffix, autoescape=True),
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        if row["state"] != "done":
            raise StillRunning(request_id)
        return _stored(row)

    async def complete(self, key: str, response: StoredResponse) -> None:
        """Store the response of a claimed execution: queued for the next batch, or written
        now when batching is off."""
        self._unflushed[key] = response
        self._running.discard(key)
        if not self.flush_s:
            await self.flush()
        elif len(self._unflushed) >= BATCH_SIZE:
            self._wake.set()

    async def flush(self) -> int:
        """Write every queued completion in one transaction; return how many."""
        batch = dict(self._unflushed)
        if not batch:
            return 0
        rows = [
            {"k": key, "s": r.status_code, "h": json.dumps(r.headers), "b": r.body}
            for key, r in batch.items()
        ]
        async with self.store.begin() as conn:
            await conn.execute(_COMPLETE, rows)
        # Only now may retries read them from storage; a failed write keeps them queued.
        for key, response in batch.items():
            if self._unflushed.get(key) is response:
                del self._unflushed[key]
        self.written += len(batch)
        return len(batch)

    async def run(self) -> None:
        """Write batches every ``flush_s`` until cancelled, then write what is left."""
        await flush_periodically(self.flush, self._wake, self.flush_s, "idempotency")

    async def release(self, key: str) -> None:
        """Give a claim up (the execution failed before changing anything)."""
        self._running.discard(key)
        async with self.store.begin() as conn:
            await conn.execute(delete(idempotency).where(idempotency.c.key == key))

    async def heartbeat(self) -> int:
        """Mark the claims this worker is still running as alive; return how many."""
        # Finished but not yet written counts too: the claim must outlive a slow flush.
        keys = list(self._running | self._unflushed.keys())
        if not keys:
            return 0
        async with self.store.begin() as conn:
            await conn.execute(
                update(idempotency)
                .where(idempotency.c.key.in_(keys), idempotency.c.state == "pending")
                .values(created_at=self.clock())
            )
        return len(keys)

    async def clean(self) -> int:
        """Delete claims left by dead workers and responses past retention; return how many."""
        now = self.clock()
        async with self.store.begin() as conn:
            result = await conn.execute(
                delete(idempotency).where(
                    or_(
                        and_(
                            idempotency.c.state == "pending",
                            idempotency.c.created_at < now - CLAIM_STALE_S,
                        ),
                        idempotency.c.created_at < now - RETENTION_S,
                    )
                )
            )
        return int(result.rowcount or 0)
