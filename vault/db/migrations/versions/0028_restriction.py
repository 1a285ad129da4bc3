"""Restriction of processing of an object's personal values (GDPR art. 18, issue 22): a nullable JSON column
``archived_objects.restriction`` (vault.retention.restriction); no object is restricted at first.

Revision ID: 0028
Revises: 0025
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.add_column(sa.Column("restriction", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.drop_column("restriction")
