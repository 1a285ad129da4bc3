"""Every TSA root that ever vouched for a token here, with the period it was used (``/v1/tsa/roots`` serves them
all, so that changing TSA never breaks the verification of earlier records).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tsa_roots_used",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("tsa_url", sa.String(512), nullable=False),
        sa.Column("first_used", UTCDateTime(), nullable=False),
        sa.Column("last_used", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tsa_roots_used")
