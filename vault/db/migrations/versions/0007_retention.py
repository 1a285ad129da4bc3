"""Retention: the registry of policy versions in use, legal holds, four-eyes disposal batches, tombstones.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import JSONDocument, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("loaded_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("selector", JSONDocument, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reference", sa.String(256), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("released_by", sa.String(64)),
        sa.Column("released_at", UTCDateTime()),
    )
    op.create_index("ix_legal_holds_tenant", "legal_holds", ["tenant", "released_at"])
    op.create_table(
        "disposal_batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(64), nullable=False),
        sa.Column("proposed_at", UTCDateTime(), nullable=False),
        sa.Column("proposal_index", sa.BigInteger, nullable=False),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("approved_at", UTCDateTime()),
        sa.Column("approval_index", sa.BigInteger),
        sa.Column("executed_by", sa.String(64)),
        sa.Column("executed_at", UTCDateTime()),
        sa.Column("execution_index", sa.BigInteger),
        sa.Column("certificate", sa.Text),
    )
    op.create_table(
        "disposal_items",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("object_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_disposal_items_object", "disposal_items", ["object_id"])
    with op.batch_alter_table("archived_objects") as batch:
        batch.add_column(sa.Column("destroyed_at", UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.drop_column("destroyed_at")
    op.drop_index("ix_disposal_items_object", "disposal_items")
    op.drop_table("disposal_items")
    op.drop_table("disposal_batches")
    op.drop_index("ix_legal_holds_tenant", "legal_holds")
    op.drop_table("legal_holds")
    op.drop_table("retention_policies")
