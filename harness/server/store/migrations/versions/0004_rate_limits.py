"""Rate-limit usage shared by every worker and replica (issue 10).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the usage ledger: admitted requests per limit key, bucket and worker."""
    op.create_table(
        "rate_limit_usage",
        sa.Column("limit_key", sa.String(200), primary_key=True),
        sa.Column("bucket_ms", sa.BigInteger, primary_key=True),
        sa.Column("worker", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_rate_limit_usage_expires", "rate_limit_usage", ["expires_ms"])


def downgrade() -> None:
    """Drop the usage ledger."""
    op.drop_index("ix_rate_limit_usage_expires", table_name="rate_limit_usage")
    op.drop_table("rate_limit_usage")
