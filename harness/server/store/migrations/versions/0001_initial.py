"""Initial schema: idempotency, audit, sessions, admin state, MESH messages, chunks, nonces.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "idempotency",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("headers", sa.Text),
        sa.Column("body", sa.LargeBinary),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("ods_code", sa.String(16)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(256), nullable=False),
        sa.Column("outcome", sa.Integer, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("urid", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("ods_code", sa.String(16), nullable=False),
        sa.Column("asid", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "admin_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "mesh_messages",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("sender", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(32), nullable=False),
        sa.Column("workflow_id", sa.String(128), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("chunks_total", sa.Integer, nullable=False),
        sa.Column("chunks_received", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("local_id", sa.String(256)),
        sa.Column("linked_message_id", sa.String(64)),
        sa.Column("status_code", sa.String(8)),
        sa.Column("status_description", sa.String(256)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("delivered_at", sa.Float),
        sa.Column("acknowledged_at", sa.Float),
        sa.Column("expired_at", sa.Float),
    )
    op.create_index("ix_mesh_inbox", "mesh_messages", ["recipient", "status", "id"])
    op.create_index("ix_mesh_sender_local", "mesh_messages", ["sender", "local_id"])
    op.create_table(
        "mesh_chunks",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("chunk_no", sa.Integer, primary_key=True),
        sa.Column("content_encoding", sa.String(32)),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "mesh_nonces",
        sa.Column("mailbox_id", sa.String(32), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("nonce_count", sa.String(16), primary_key=True),
        sa.Column("used_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    """Drop every table of the first schema."""
    for table in (
        "mesh_nonces",
        "mesh_chunks",
        "mesh_messages",
        "admin_state",
        "sessions",
        "audit",
        "idempotency",
    ):
        op.drop_table(table)
