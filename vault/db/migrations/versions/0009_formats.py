"""The format identified from each deposit's bytes, and how it compares with the declared media type.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.add_column(sa.Column("detected_media_type", sa.String(255)))
        batch.add_column(sa.Column("media_type_check", sa.String(16), nullable=False, server_default="unknown"))


def downgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.drop_column("media_type_check")
        batch.drop_column("detected_media_type")
