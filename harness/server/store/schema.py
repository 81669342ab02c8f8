"""Tables of the reference server (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Schema changes go through Alembic revisions in ``migrations/versions``; this module is the
target those revisions build, and tests check that the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

idempotency = Table(
    "idempotency",
    metadata,
    # application | method | path | X-Request-ID: a retry must match all four.
    Column("key", String(400), primary_key=True),
    Column("state", String(16), nullable=False),  # pending | done
    Column("status_code", Integer),
    Column("headers", Text),  # JSON list of [name, value]
    Column("body", LargeBinary),
    Column("created_at", Float, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("request_id", String(64)),
    Column("actor", String(128), nullable=False),  # user id or application ASID
    Column("ods_code", String(16)),
    Column("action", String(64), nullable=False),
    Column("resource", String(256), nullable=False),
    Column("outcome", Integer, nullable=False),  # HTTP status
)

sessions = Table(
    "sessions",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("urid", String(16), nullable=False),
    Column("role", String(16), nullable=False),
    Column("ods_code", String(16), nullable=False),
    Column("asid", String(16), nullable=False),
    Column("expires_at", Float, nullable=False),
)

admin_state = Table(
    "admin_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("version", Integer, nullable=False),
)

mesh_messages = Table(
    "mesh_messages",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("sender", String(32), nullable=False),
    Column("recipient", String(32), nullable=False),
    Column("workflow_id", String(128), nullable=False),
    Column("message_type", String(16), nullable=False),  # DATA | REPORT
    Column("status", String(16), nullable=False),  # uploading|accepted|acknowledged|undeliverable
    Column("chunks_total", Integer, nullable=False),
    Column("chunks_received", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("headers", Text, nullable=False),  # JSON of the optional mex-* values
    Column("local_id", String(256)),
    Column("linked_message_id", String(64)),
    Column("status_code", String(8)),
    Column("status_description", String(256)),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Column("acknowledged_at", Float),
    Column("expired_at", Float),
)
Index("ix_mesh_inbox", mesh_messages.c.recipient, mesh_messages.c.status, mesh_messages.c.id)
Index("ix_mesh_sender_local", mesh_messages.c.sender, mesh_messages.c.local_id)

mesh_chunks = Table(
    "mesh_chunks",
    metadata,
    Column("message_id", String(64), primary_key=True),
    Column("chunk_no", Integer, primary_key=True),
    Column("content_encoding", String(32)),
    Column("data", LargeBinary, nullable=False),
)

mesh_nonces = Table(
    "mesh_nonces",
    metadata,
    Column("mailbox_id", String(32), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("nonce_count", String(16), primary_key=True),
    Column("used_at", Float, nullable=False),
)
