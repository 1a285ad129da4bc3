"""Signature verdicts and reports kept at deposit, consent events, case completeness status (issue 8).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import JSONDocument, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.add_column(sa.Column("validation", JSONDocument, nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("validation_verdict", sa.String(16)))
    op.create_index("ix_objects_tenant_verdict", "archived_objects", ["tenant", "validation_verdict"],
                    sqlite_where=sa.text("validation_verdict IS NOT NULL"),
                    postgresql_where=sa.text("validation_verdict IS NOT NULL"))
    op.create_table(
        "validation_reports",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("validated_at", UTCDateTime(), nullable=False),
        sa.Column("report", JSONDocument, nullable=False),
        sa.Column("etsi_report", sa.LargeBinary),
    )
    op.create_table(
        "consent_events",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("event_time", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_consents_subject", "consent_events", ["tenant", "subject", "purpose", "event_time"])
    op.create_table(
        "case_status",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("case_ref", sa.String(256), primary_key=True),
        sa.Column("first_events", JSONDocument, nullable=False),
        sa.Column("chain", sa.String(64), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("due_at", UTCDateTime()),
    )
    op.create_index("ix_case_status_due", "case_status", ["complete", "due_at"])
    op.create_table(
        "tracker_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tracker_state")
    op.drop_index("ix_case_status_due", "case_status")
    op.drop_table("case_status")
    op.drop_index("ix_consents_subject", "consent_events")
    op.drop_table("consent_events")
    op.drop_table("validation_reports")
    op.drop_index("ix_objects_tenant_verdict", "archived_objects")
    with op.batch_alter_table("archived_objects") as batch:
        batch.drop_column("validation_verdict")
        batch.drop_column("validation")
