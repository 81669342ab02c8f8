"""Tables of the reference server (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Schema changes go through Alembic revisions in ``migrations/versions``; this module is the
target those revisions build, and tests check that the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import (
    BigInteger,
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


def column_length(table: Table, name: str) -> int | None:
    """The length of a ``String(n)`` column (``None`` for unbounded text or other types)."""
    length = getattr(table.c[name].type, "length", None)
    return int(length) if length is not None else None


def overlong(table: Table, row: Mapping[str, object]) -> tuple[str, int] | None:
    """The first text value of ``row`` longer than ``table``'s column allows, as (column,
    length), or ``None``. PostgreSQL refuses such a statement and SQLite stores it, so services
    check first and refuse the request in their API's own terms, the same on both."""
    for name, value in row.items():
        if isinstance(value, str):
            length = column_length(table, name)
            if length is not None and len(value) > length:
                return name, length
    return None


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
    Column("status", String(16), nullable=False),  # harness.server.mesh.status.MessageStatus
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

# ---------------------------------------------------------------- national services (0002)
# PDS stores only what was written: a patient appears here after its first update, holding the
# whole current resource; every other patient is derived from its NHS number.
pds_patients = Table(
    "pds_patients",
    metadata,
    Column("nhs_number", String(10), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("resource", Text, nullable=False),  # JSON of the current Patient
    Column("birth_date", String(10)),  # copies kept for search
    Column("family", String(128)),
    Column("updated_at", Float, nullable=False),
)
Index("ix_pds_patients_birth_date", pds_patients.c.birth_date)

# ---------------------------------------------------------------- PDS records (0003)
# NHS numbers of patients created with POST /Patient: the autoincrement id is the allocation
# (atomic in the database, so two workers or replicas never get the same one); the number is
# derived from it, past every derived population (``harness.server.pds.service``).
pds_allocations = Table(
    "pds_allocations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,  # never reuse an id, even the highest after a delete
)

# Family names a patient had before an update replaced them (searched with _history=true).
pds_name_history = Table(
    "pds_name_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("nhs_number", String(10), nullable=False),
    Column("family", String(128), nullable=False),
    Column("version", Integer, nullable=False),  # the version that replaced the name
    Column("changed_at", Float, nullable=False),
)
Index("ix_pds_name_history_nhs_number", pds_name_history.c.nhs_number)

# Emails and phone numbers (system "email" or "phone") an update replaced, as sent.
pds_telecom_history = Table(
    "pds_telecom_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("nhs_number", String(10), nullable=False),
    Column("system", String(16), nullable=False),
    Column("value", String(256), nullable=False),
    Column("version", Integer, nullable=False),  # the version that replaced the value
    Column("changed_at", Float, nullable=False),
)
Index("ix_pds_telecom_history_nhs_number", pds_telecom_history.c.nhs_number)

# Coverage (EHIC, overseas visitor insurance) recorded against patients.
pds_coverage = Table(
    "pds_coverage",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("subscriber_nhs", String(10), nullable=False),  # searched by subscriber:identifier
    Column("beneficiary_nhs", String(10), nullable=False),
    Column("resource", Text, nullable=False),  # JSON of the Coverage as created
    Column("created_at", Float, nullable=False),
)
Index("ix_pds_coverage_subscriber", pds_coverage.c.subscriber_nhs, pds_coverage.c.created_at)

eps_prescriptions = Table(
    "eps_prescriptions",
    metadata,
    # One row per issue: a repeat-dispensing prescription has issues 1..issues_total.
    Column("prescription_id", String(20), primary_key=True),
    Column("issue_no", Integer, primary_key=True),
    Column("issues_total", Integer, nullable=False),
    Column("nhs_number", String(10), nullable=False),
    Column("prescriber_ods", String(16), nullable=False),
    Column("prescriber_user", String(64), nullable=False),
    Column("nominated_ods", String(16)),
    Column("dispenser_ods", String(16)),
    Column("status", String(4), nullable=False),  # Spine prescription status code
    Column("version", Integer, nullable=False),  # every transition is a conditional update
    Column("cancel_pending", String(8)),  # R-0002 / R-0003 while with a dispenser
    Column("items", Text, nullable=False),  # JSON: line items and their status codes
    Column("history", Text, nullable=False),  # JSON: item states before each notification
    Column("valid_from", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("resource", Text, nullable=False),  # JSON of the prescription as created
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("claimed_at", Float),
)
Index(
    "ix_eps_nominated",
    eps_prescriptions.c.nominated_ods,
    eps_prescriptions.c.status,
    eps_prescriptions.c.created_at,
)
Index("ix_eps_nhs_number", eps_prescriptions.c.nhs_number)

scr_documents = Table(
    "scr_documents",
    metadata,
    Column("id", String(36), primary_key=True),  # the composition's UUID
    Column("nhs_number", String(10), nullable=False),
    Column("seq", Integer, nullable=False),  # 1, 2, … per patient: an update must name the latest
    Column("bundle", Text, nullable=False),
    Column("author_ods", String(16), nullable=False),
    Column("author_user", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ux_scr_documents_patient_seq", scr_documents.c.nhs_number, scr_documents.c.seq, unique=True)

scr_permissions = Table(
    "scr_permissions",
    metadata,
    Column("nhs_number", String(10), primary_key=True),
    Column("ods_code", String(16), primary_key=True),
    Column("permission", String(16), nullable=False),  # Yes | No
    Column("set_by", String(64), nullable=False),
    Column("set_at", Float, nullable=False),
)

legitimate_relationships = Table(
    "legitimate_relationships",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("nhs_number", String(10), primary_key=True),
    Column("reason", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

privacy_alerts = Table(
    "privacy_alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("at", Float, nullable=False),
    Column("alert_type", String(8), nullable=False),  # 1 self-claimed LR, 2 emergency access
    Column("reason", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("ods_code", String(16), nullable=False),
    Column("nhs_number", String(10), nullable=False),
    Column("resource", Text, nullable=False),  # the AuditEvent
)
Index("ix_privacy_alerts_org", privacy_alerts.c.ods_code, privacy_alerts.c.at)

# ---------------------------------------------------------------- shared rate limits
rate_limit_usage = Table(
    "rate_limit_usage",
    metadata,
    # g (global) | s|<app> (spike arrest) | a|<app>|<api> (per-application quota)
    Column("limit_key", String(200), primary_key=True),
    Column("bucket_ms", BigInteger, primary_key=True),  # bucket start, epoch ms
    Column("worker", String(64), primary_key=True),  # one process of one replica
    Column("count", Integer, nullable=False),  # requests that worker admitted in the bucket
    Column("expires_ms", BigInteger, nullable=False),  # the bucket's end leaves the window
)
Index("ix_rate_limit_usage_expires", rate_limit_usage.c.expires_ms)
