"""National services: PDS written patients, EPS prescriptions, SCR documents and access control.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of PDS, EPS and SCR."""
    op.create_table(
        "pds_patients",
        sa.Column("nhs_number", sa.String(10), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("birth_date", sa.String(10)),
        sa.Column("family", sa.String(128)),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_pds_patients_birth_date", "pds_patients", ["birth_date"])
    op.create_table(
        "eps_prescriptions",
        sa.Column("prescription_id", sa.String(20), primary_key=True),
        sa.Column("issue_no", sa.Integer, primary_key=True),
        sa.Column("issues_total", sa.Integer, nullable=False),
        sa.Column("nhs_number", sa.String(10), nullable=False),
        sa.Column("prescriber_ods", sa.String(16), nullable=False),
        sa.Column("prescriber_user", sa.String(64), nullable=False),
        sa.Column("nominated_ods", sa.String(16)),
        sa.Column("dispenser_ods", sa.String(16)),
        sa.Column("status", sa.String(4), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("cancel_pending", sa.String(8)),
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("history", sa.Text, nullable=False),
        sa.Column("valid_from", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("claimed_at", sa.Float),
    )
    op.create_index(
        "ix_eps_nominated", "eps_prescriptions", ["nominated_ods", "status", "created_at"]
    )
    op.create_index("ix_eps_nhs_number", "eps_prescriptions", ["nhs_number"])
    op.create_table(
        "scr_documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("nhs_number", sa.String(10), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("bundle", sa.Text, nullable=False),
        sa.Column("author_ods", sa.String(16), nullable=False),
        sa.Column("author_user", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ux_scr_documents_patient_seq", "scr_documents", ["nhs_number", "seq"], unique=True
    )
    op.create_table(
        "scr_permissions",
        sa.Column("nhs_number", sa.String(10), primary_key=True),
        sa.Column("ods_code", sa.String(16), primary_key=True),
        sa.Column("permission", sa.String(16), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", sa.Float, nullable=False),
    )
    op.create_table(
        "legitimate_relationships",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("nhs_number", sa.String(10), primary_key=True),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "privacy_alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("alert_type", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("ods_code", sa.String(16), nullable=False),
        sa.Column("nhs_number", sa.String(10), nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
    )
    op.create_index("ix_privacy_alerts_org", "privacy_alerts", ["ods_code", "at"])


def downgrade() -> None:
    """Drop the tables of PDS, EPS and SCR."""
    for table in (
        "privacy_alerts",
        "legitimate_relationships",
        "scr_permissions",
        "scr_documents",
        "eps_prescriptions",
        "pds_patients",
    ):
        op.drop_table(table)
