"""PDS: records created with POST /Patient, coverage, and history (filled in by issue 5's work).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the NHS number allocations, family-name history and coverage tables."""
    op.create_table(
        "pds_allocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "pds_name_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("nhs_number", sa.String(10), nullable=False),
        sa.Column("family", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.Float, nullable=False),
    )
    op.create_index("ix_pds_name_history_nhs_number", "pds_name_history", ["nhs_number"])
    op.create_table(
        "pds_coverage",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subscriber_nhs", sa.String(10), nullable=False),
        sa.Column("beneficiary_nhs", sa.String(10), nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_pds_coverage_subscriber", "pds_coverage", ["subscriber_nhs", "created_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_pds_coverage_subscriber", table_name="pds_coverage")
    op.drop_table("pds_coverage")
    op.drop_index("ix_pds_name_history_nhs_number", table_name="pds_name_history")
    op.drop_table("pds_name_history")
    op.drop_table("pds_allocations")
