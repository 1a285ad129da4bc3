"""Copies of blobs on several stores, with their last verification by a fixity audit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_copies",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("store", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("copied_at", UTCDateTime(), nullable=False),
        sa.Column("verified_at", UTCDateTime()),
    )


def downgrade() -> None:
    op.drop_table("blob_copies")
