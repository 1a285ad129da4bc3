"""LRE consent (issue 22): ``archived_objects.consent_ref`` (the consent record a sending names) and
``archived_objects.recipient_type`` (``consumer`` or ``professional``). Existing objects name neither: their
metadata records stay byte-identical.

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.add_column(sa.Column("consent_ref", sa.String(36)))
        batch.add_column(sa.Column("recipient_type", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.drop_column("recipient_type")
        batch.drop_column("consent_ref")
