"""Journal anchors: checkpoints timestamped by the TSA, chained, append-only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from vault.db.append_only import create_triggers, drop_triggers
from vault.db.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journal_anchors",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("checkpoint_size", sa.BigInteger, nullable=False),
        sa.Column("checkpoint", sa.Text, nullable=False),
        sa.Column("token", sa.LargeBinary, nullable=False),
        sa.Column("gen_time", UTCDateTime(), nullable=False),
        sa.Column("tsa_url", sa.String(512), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    create_triggers(op, "journal_anchors")


def downgrade() -> None:
    drop_triggers(op, "journal_anchors")
    op.drop_table("journal_anchors")
