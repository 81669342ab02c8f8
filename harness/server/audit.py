"""The audit trail: who accessed which patient data, written in batches off the hot path.

Every access to patient data is recorded (Spine keeps subject-access and access-alerting
trails). Requests put records on an in-memory queue and return; a background task writes the
queue to storage every ``flush_s`` or when it holds ``batch_size`` records, so auditing adds
no database round trip to a request. Records still queued are written on shutdown; a worker
killed with SIGKILL loses at most one interval of audit records (documented trade-off).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import NamedTuple, overload

from sqlalchemy import insert
from sqlalchemy.exc import DataError, IntegrityError

from harness.server.batching import flush_periodically
from harness.server.store import Store
from harness.server.store.schema import audit, column_length

log = logging.getLogger(__name__)
BATCH_SIZE = 500
_INSERT = insert(audit)
_REQUEST_ID_CHARS = column_length(audit, "request_id")
_ACTOR_CHARS = column_length(audit, "actor")
_ODS_CHARS = column_length(audit, "ods_code")
_ACTION_CHARS = column_length(audit, "action")
_RESOURCE_CHARS = column_length(audit, "resource")


@overload
def _fit(text: str, length: int | None) -> str: ...
@overload
def _fit(text: None, length: int | None) -> None: ...
def _fit(text: str | None, length: int | None) -> str | None:
    """``text`` without NUL characters (PostgreSQL refuses them), cut to ``length``."""
    if text is None:
        return None
    text = text.replace("\x00", "")
    return text if length is None or len(text) <= length else text[: length - 1] + "…"


class AuditRecord(NamedTuple):
    """One access. A named tuple: its ``_asdict`` row is far cheaper than ``dataclasses.asdict``'s
    deep copy, and every request that touches patient data makes one."""

    at: float
    request_id: str | None
    actor: str
    ods_code: str | None
    action: str
    resource: str
    outcome: int


class AuditLog:
    """A batching writer of :class:`AuditRecord`."""

    def __init__(self, *, store: Store, clock: Callable[[], float], flush_s: float) -> None:
        self.store = store
        self.clock = clock
        self.flush_s = flush_s
        self._queue: list[AuditRecord] = []
        self._wake = asyncio.Event()
        self.written = 0
        self.refused = 0  # records the database refused (dropped, logged)

    def record(
        self,
        *,
        actor: str,
        action: str,
        resource: str,
        outcome: int,
        request_id: str | None = None,
        ods_code: str | None = None,
    ) -> None:
        """Queue a record (never blocks, never touches storage).

        Text is cut to its column's length, so that no caller-supplied value (a long search
        string in ``resource``) can make the batch fail on PostgreSQL and stop the trail.
        """
        self._queue.append(
            AuditRecord(
                self.clock(),
                _fit(request_id, _REQUEST_ID_CHARS),
                _fit(actor, _ACTOR_CHARS),
                _fit(ods_code, _ODS_CHARS),
                _fit(action, _ACTION_CHARS),
                _fit(resource, _RESOURCE_CHARS),
                outcome,
            )
        )
        if len(self._queue) >= BATCH_SIZE:
            self._wake.set()

    async def flush(self) -> int:
        """Write every queued record now; return how many."""
        batch, self._queue = self._queue, []
        if not batch:
            return 0
        try:
            async with self.store.begin() as conn:
                await conn.execute(_INSERT, [r._asdict() for r in batch])
        except (DataError, IntegrityError):
            # A record the database refuses would fail every batch it is in, for ever: write
            # the others one by one and drop only the refused ones (logged).
            return await self._write_each(batch)
        except Exception:
            # Storage unreachable: keep the records for the next attempt rather than lose them.
            self._queue = batch + self._queue
            raise
        self.written += len(batch)
        return len(batch)

    async def _write_each(self, batch: list[AuditRecord]) -> int:
        written = 0
        for record in batch:
            try:
                async with self.store.begin() as conn:
                    await conn.execute(_INSERT, record._asdict())
                written += 1
            except (DataError, IntegrityError):
                self.refused += 1
                log.error("audit record refused by the database, dropped: %r", record)
        self.written += written
        return written

    async def run(self) -> None:
        """Flush periodically until cancelled, then flush what is left."""
        await flush_periodically(self.flush, self._wake, self.flush_s, "audit")
