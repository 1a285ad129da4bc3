"""Hash-tree renewals of imported evidence records: which new chain each record got, and which imported chains
they closed.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from vault.db.append_only import create_triggers, drop_triggers
from vault.db.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imported_members",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("object_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_imported_members_object", "imported_members", ["object_id", "batch_id"])
    op.create_table(
        "imported_chain_closures",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("closed_at", UTCDateTime(), nullable=False),
    )
    for table in ("imported_members", "imported_chain_closures"):
        create_triggers(op, table)


def downgrade() -> None:
    for table in ("imported_chain_closures", "imported_members"):
        drop_triggers(op, table)
    op.drop_table("imported_chain_closures")
    op.drop_index("ix_imported_members_object", "imported_members")
    op.drop_table("imported_members")
