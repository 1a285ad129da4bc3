"""Metadata extracted from a deposit's content, by field, with its source (e.g. an e-mail's Date header).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import JSONDocument

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.add_column(sa.Column("extracted", JSONDocument, nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.drop_column("extracted")
