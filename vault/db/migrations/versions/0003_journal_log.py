"""The access journal becomes an append-only Merkle log: canonical entry bytes, stored subtree hashes,
signed checkpoints, and triggers that refuse UPDATE and DELETE on them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from vault.db.append_only import create_triggers, drop_triggers
from vault.db.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APPEND_ONLY = ("journal_entries", "journal_hashes", "journal_checkpoints")


def upgrade() -> None:
    from vault.journal.log import backfill_journal  # the migration replays existing entries into the tree

    with op.batch_alter_table("journal_entries") as batch:
        batch.add_column(sa.Column("entry", sa.LargeBinary, nullable=True))
    op.create_table(
        "journal_hashes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "journal_checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    backfill_journal(op.get_bind())
    with op.batch_alter_table("journal_entries") as batch:
        batch.alter_column("entry", existing_type=sa.LargeBinary, nullable=False)
    for table in APPEND_ONLY:
        create_triggers(op, table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        drop_triggers(op, table)
    op.drop_table("journal_checkpoints")
    op.drop_table("journal_hashes")
    with op.batch_alter_table("journal_entries") as batch:
        batch.drop_column("entry")
