"""Erasure markers (issue 22): ``metadata_erasures`` (object id, field → when and why the field's salt and clear
value were erased), written by ``POST /v1/objects/{id}/erasure`` and by disposal; the row check treats a field
with a marker as erased rather than missing (docs/metadata-record.md, "Erasure").

Revision ID: 0027
Revises: 0025
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metadata_erasures",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("field", sa.String(64), primary_key=True),
        sa.Column("erased_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metadata_erasures")
