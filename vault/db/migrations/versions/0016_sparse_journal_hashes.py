"""The journal keeps only the subtree hashes of levels 8, 16, 24, … (what tlog tiles of level ≥ 1 publish); the
others are folded from them or from the entries when read (vault.journal.log).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from vault.db.append_only import create_triggers, drop_triggers

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_triggers(op, "journal_hashes")
    op.execute("DELETE FROM journal_hashes WHERE level < 8 OR level % 8 <> 0")
    create_triggers(op, "journal_hashes")


def downgrade() -> None:
    """Store every complete subtree hash again, recomputed from the entries."""
    from vault_verify.merkle import leaf_hash, new_stored_hashes

    bind = op.get_bind()
    stored: dict[tuple[int, int], bytes] = {}
    rows = []
    for seq, entry in bind.execute(sa.text("SELECT seq, entry FROM journal_entries ORDER BY seq")):
        for level, index, value in new_stored_hashes(seq, leaf_hash(bytes(entry)), lambda l, n: stored[(l, n)]):
            stored[(level, index)] = value
            if level < 8 or level % 8:
                rows.append({"level": level, "idx": index, "hash": value})
    if rows:
        bind.execute(sa.text("INSERT INTO journal_hashes (level, idx, hash) VALUES (:level, :idx, :hash)"), rows)
