"""The imported evidence records' last chains, which this archive renews, and their renewals; existing imported
records are registered.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from vault.db.append_only import create_triggers, drop_triggers
from vault.db.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imported_chains",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("tokens", sa.LargeBinary, nullable=False),
        sa.Column("gen_time", UTCDateTime(), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "imported_renewals",
        sa.Column("renewal_id", sa.String(36), primary_key=True),
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("chain_key", sa.String(128), nullable=False),
    )
    op.create_index("ix_imported_renewals_chain", "imported_renewals", ["chain_key", "renewal_id"])
    for table in ("imported_chains", "imported_renewals"):
        create_triggers(op, table)
    from vault.evidence.imported import register_existing_chains

    register_existing_chains(op.get_bind())


def downgrade() -> None:
    for table in ("imported_renewals", "imported_chains"):
        drop_triggers(op, table)
    op.drop_index("ix_imported_renewals_chain", "imported_renewals")
    op.drop_table("imported_renewals")
    op.drop_table("imported_chains")
