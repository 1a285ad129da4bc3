"""API keys name the person who holds them (four eyes counts holders), may expire, and may be rotated with an
overlap during which the previous secret still works.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("holder", sa.String(200)))
        batch.add_column(sa.Column("expires_at", UTCDateTime()))
        batch.add_column(sa.Column("rotated_at", UTCDateTime()))
        batch.add_column(sa.Column("previous_secret_hash", sa.String(64)))
        batch.add_column(sa.Column("previous_expires_at", UTCDateTime()))
    op.create_index("ix_api_keys_previous_secret", "api_keys", ["previous_secret_hash"])
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_tenant", "api_keys")
    op.drop_index("ix_api_keys_previous_secret", "api_keys")
    with op.batch_alter_table("api_keys") as batch:
        for name in ("previous_expires_at", "previous_secret_hash", "rotated_at", "expires_at", "holder"):
            batch.drop_column(name)
