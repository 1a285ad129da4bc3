"""Seal batches (RFC 4998 hash trees and their RFC 3161 tokens), their stored trees and renewal links.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seal_batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("leaf_count", sa.BigInteger, nullable=False),
        sa.Column("first_seq", sa.BigInteger),
        sa.Column("last_seq", sa.BigInteger),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("token", sa.LargeBinary, nullable=False),
        sa.Column("gen_time", UTCDateTime(), nullable=False),
        sa.Column("tsa_url", sa.String(512), nullable=False),
        sa.Column("tsa_not_after", UTCDateTime(), nullable=False),
        sa.Column("development", sa.SmallInteger, nullable=False),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ux_seal_batches_first_seq", "seal_batches", ["first_seq"], unique=True)
    op.create_table(
        "seal_tree_chunks",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("chunk", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "seal_links",
        sa.Column("renewal_id", sa.String(36), primary_key=True),
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("chain_id", sa.String(36), nullable=False),
    )
    op.create_index("ux_seal_links_chain", "seal_links", ["chain_id", "renewal_id"], unique=True)
    op.create_table(
        "seal_members",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seal_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_seal_members_seq", "seal_members", ["seal_seq"])


def downgrade() -> None:
    op.drop_index("ix_seal_members_seq", "seal_members")
    op.drop_table("seal_members")
    op.drop_index("ux_seal_links_chain", "seal_links")
    op.drop_table("seal_links")
    op.drop_table("seal_tree_chunks")
    op.drop_index("ux_seal_batches_first_seq", "seal_batches")
    op.drop_table("seal_batches")
