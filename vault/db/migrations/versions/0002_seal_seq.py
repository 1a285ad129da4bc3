"""Objects get a dense deposit ordinal (seal_seq) so that seal batches are ranges of it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.add_column(sa.Column("seal_seq", sa.BigInteger, nullable=True))
    # existing objects are numbered in deposit order (ids are UUIDv7, so id order is deposit order)
    op.execute(
        "UPDATE archived_objects SET seal_seq = (SELECT COUNT(*) FROM archived_objects AS earlier "
        "WHERE earlier.id < archived_objects.id)"
    )
    with op.batch_alter_table("archived_objects") as batch:
        batch.alter_column("seal_seq", existing_type=sa.BigInteger, nullable=False)
        batch.create_index("ux_objects_seal_seq", ["seal_seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.drop_index("ux_objects_seal_seq")
        batch.drop_column("seal_seq")
