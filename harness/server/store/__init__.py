"""Storage: one async SQLAlchemy engine over SQLite (WAL) or PostgreSQL, with migrations.

SQLite is the embedded default — one file under ``.harness/``, in WAL mode so readers never
wait for the writer, with a busy timeout so several worker processes share it. PostgreSQL
(``postgresql+asyncpg://…``) is for real deployments and many replicas. Both run the same
Core statements; the differences (pragmas, pool sizes) are confined to :func:`create_store`.
"""

from __future__ import annotations

from harness.server.store.engine import (
    DIRECT_READ_OPTION,
    DirectReads,
    Store,
    StoreUnavailable,
    create_store,
    direct_read,
)
from harness.server.store.migrate import HEAD_REVISION, current_revision, upgrade

__all__ = [
    "DIRECT_READ_OPTION",
    "HEAD_REVISION",
    "DirectReads",
    "Store",
    "StoreUnavailable",
    "create_store",
    "current_revision",
    "direct_read",
    "upgrade",
]
