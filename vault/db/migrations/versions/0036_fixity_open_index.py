"""``/ready`` counts the open fixity alerts on every probe: a partial index over the open ones
(``resolved_at IS NULL``, by kind), so that count reads only them, not every alert ever resolved.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_fixity_alerts_open", "fixity_alerts", ["kind"], sqlite_where=sa.text("resolved_at IS NULL"),
                    postgresql_where=sa.text("resolved_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_fixity_alerts_open", "fixity_alerts")
