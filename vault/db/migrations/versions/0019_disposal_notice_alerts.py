"""Destruction needs two people and time: a disposal batch records the holders who proposed and approved it, when
it becomes executable (after the notice period) and its veto; security alerts (privileged keys issued, batches
approved, holds released) are kept in an append-only table.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from vault.db.append_only import create_triggers, drop_triggers
from vault.db.types import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BATCH_COLUMNS = ("proposed_holder", "approved_holder", "executable_after", "vetoed_by", "vetoed_at", "veto_index",
                 "veto_reason")


def upgrade() -> None:
    with op.batch_alter_table("disposal_batches") as batch:
        batch.add_column(sa.Column("proposed_holder", sa.String(200)))
        batch.add_column(sa.Column("approved_holder", sa.String(200)))
        batch.add_column(sa.Column("executable_after", UTCDateTime()))
        batch.add_column(sa.Column("vetoed_by", sa.String(64)))
        batch.add_column(sa.Column("vetoed_at", UTCDateTime()))
        batch.add_column(sa.Column("veto_index", sa.BigInteger()))
        batch.add_column(sa.Column("veto_reason", sa.Text()))
    op.create_table(
        "security_alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("journal_index", sa.BigInteger()),
    )
    op.create_index("ix_security_alerts_tenant", "security_alerts", ["tenant", "at"])
    create_triggers(op, "security_alerts")


def downgrade() -> None:
    drop_triggers(op, "security_alerts")
    op.drop_index("ix_security_alerts_tenant", "security_alerts")
    op.drop_table("security_alerts")
    with op.batch_alter_table("disposal_batches") as batch:
        for name in reversed(BATCH_COLUMNS):
            batch.drop_column(name)
