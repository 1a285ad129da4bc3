"""PRONOM formats (issue 23): ``object_formats``, one row per object the background format pass identified
(vault.pronom, vault.catalog.formats). Existing objects get no row here: the pass follows every deposit from
``seal_seq`` 0 (its watermark starts absent), so they are identified in the background after the upgrade.

Revision ID: 0030
Revises: 0025
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "object_formats",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("puid", sa.String(32)),
        sa.Column("version", sa.String(64)),
        sa.Column("name", sa.String(255)),
        sa.Column("mime", sa.String(255)),
        sa.Column("pdfa", sa.String(8)),
        sa.Column("identified_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_object_formats_tenant_puid", "object_formats", ["tenant", "puid"])


def downgrade() -> None:
    op.drop_index("ix_object_formats_tenant_puid", "object_formats")
    op.drop_table("object_formats")
