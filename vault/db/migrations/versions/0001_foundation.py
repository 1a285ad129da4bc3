"""Foundation: archived objects, API keys, access journal, idempotency records.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import JSONDocument, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archived_objects",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(256), nullable=False),
        sa.Column("contract_number", sa.String(256)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("event_time", UTCDateTime()),
        sa.Column("timeline_at", UTCDateTime(), nullable=False),
        sa.Column("sender", sa.String(320)),
        sa.Column("recipient", sa.String(320)),
        sa.Column("filename", sa.String(255)),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("sha512", sa.String(128), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.BigInteger, nullable=False),
        sa.Column("retention_start", UTCDateTime()),
        sa.Column("retention_until", UTCDateTime()),
        sa.Column("deposited_at", UTCDateTime(), nullable=False),
        sa.Column("depositor", sa.String(64), nullable=False),
        sa.Column("extra", JSONDocument, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("journal_index", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_objects_tenant_case", "archived_objects", ["tenant", "case_ref", "timeline_at"])
    op.create_index("ix_objects_tenant_contract", "archived_objects", ["tenant", "contract_number"])
    op.create_index("ix_objects_tenant_sender", "archived_objects", ["tenant", "sender"])
    op.create_index("ix_objects_tenant_recipient", "archived_objects", ["tenant", "recipient"])
    op.create_index("ix_objects_tenant_timeline", "archived_objects", ["tenant", "timeline_at"])
    op.create_index("ix_objects_sha256", "archived_objects", ["sha256"])

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(32)),
        sa.Column("revoked_at", UTCDateTime()),
    )

    op.create_table(
        "journal_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16)),
        sa.Column("tenant", sa.String(64)),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("object_ids", JSONDocument, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("detail", JSONDocument, nullable=False),
    )
    op.create_index("ix_journal_action", "journal_entries", ["action"])

    op.create_table(
        "idempotency_records",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_records")
    op.drop_index("ix_journal_action", table_name="journal_entries")
    op.drop_table("journal_entries")
    op.drop_table("api_keys")
    for name in (
        "ix_objects_sha256",
        "ix_objects_tenant_timeline",
        "ix_objects_tenant_recipient",
        "ix_objects_tenant_sender",
        "ix_objects_tenant_contract",
        "ix_objects_tenant_case",
    ):
        op.drop_index(name, table_name="archived_objects")
    op.drop_table("archived_objects")
