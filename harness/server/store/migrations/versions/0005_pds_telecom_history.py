"""PDS: emails and phone numbers an update replaced, searched with ``_history=true``.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the telecom history beside the family-name history."""
    op.create_table(
        "pds_telecom_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("nhs_number", sa.String(10), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.Float, nullable=False),
    )
    op.create_index("ix_pds_telecom_history_nhs_number", "pds_telecom_history", ["nhs_number"])


def downgrade() -> None:
    """Drop the telecom history."""
    op.drop_index("ix_pds_telecom_history_nhs_number", table_name="pds_telecom_history")
    op.drop_table("pds_telecom_history")
