"""Fixity alerts kept in the database: a corrupt or missing copy, or a blob with no good copy left, found by an
audit or by a read; one row per blob, store and kind (seen again, never duplicated), open until found good again.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fixity_alerts",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("store", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("object_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("seen", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", UTCDateTime()),
    )


def downgrade() -> None:
    op.drop_table("fixity_alerts")
