"""The archive's identity (issue 24): ``archive_identity`` keeps the fingerprint of each key every replica must
share (journal signing key, pseudonym key, archive key, PDF signing certificate), recorded at the first start
after this revision; a replica whose keys differ refuses to start (:mod:`vault.identity`).

Revision ID: 0033
Revises: 0025
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0033"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_identity",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("archive_identity")
