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

Reads need no record, which keeps the per-request cost to state-changing calls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from harness.server.store import Store
from harness.server.store.schema import idempotency

POLL_S = 0.05  # how often a waiting retry looks for the original's response


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

    def __init__(self, *, store: Store, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    async def claim(self, key: str, *, wait_s: float) -> StoredResponse | None:
        """Claim ``key`` for a new execution (``None``), or return the original's response.

        Raises:
            StillRunning: the original is still executing after ``wait_s``.
        """
        try:
            async with self.store.begin() as conn:
                await conn.execute(
                    insert(idempotency).values(key=key, state="pending", created_at=self.clock())
                )
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
        async with self.store.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(idempotency).where(
                            idempotency.c.key.startswith(f"{app}|", autoescape=True),
                            idempotency.c.key.endswith(f"|{request_id}", autoescape=True),
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
        """Store the response of a claimed execution."""
        async with self.store.begin() as conn:
            await conn.execute(
                update(idempotency)
                .where(idempotency.c.key == key)
                .values(
                    state="done",
                    status_code=response.status_code,
                    headers=json.dumps(response.headers),
                    body=response.body,
                )
            )

    async def release(self, key: str) -> None:
        """Give a claim up (the execution failed before changing anything)."""
        async with self.store.begin() as conn:
            await conn.execute(delete(idempotency).where(idempotency.c.key == key))
