"""Objects imported from another archive's export packages: the packages (certificates and keys they carried) and
each object's original evidence record, append-only.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from vault.db.append_only import create_triggers, drop_triggers
from vault.db.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imported_packages",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("source_archive", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("object_count", sa.BigInteger, nullable=False),
        sa.Column("tsa_roots", sa.Text, nullable=False),
        sa.Column("journal_key", sa.Text),
        sa.Column("archive_key", sa.Text),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "imported_evidence",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("package_sha256", sa.String(64), nullable=False),
        sa.Column("source_journal_index", sa.BigInteger),
        sa.Column("der", sa.LargeBinary),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("import_journal_index", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_imported_evidence_package", "imported_evidence", ["package_sha256"])
    for table in ("imported_packages", "imported_evidence"):
        create_triggers(op, table)


def downgrade() -> None:
    for table in ("imported_evidence", "imported_packages"):
        drop_triggers(op, table)
    op.drop_index("ix_imported_evidence_package", "imported_evidence")
    op.drop_table("imported_evidence")
    op.drop_table("imported_packages")
