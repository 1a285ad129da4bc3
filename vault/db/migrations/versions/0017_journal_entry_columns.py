"""Journal rows keep as columns only what queries select on (seq, time, actor, action) next to the entry's
canonical bytes, which hold everything: role, tenant, object ids, outcome, request id and detail are read from
the bytes (vault.journal.log.entry_fields). One copy of each fact, and one row a quarter smaller to write.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

import json
import sqlite3

import sqlalchemy as sa
from alembic import op

from vault.db.append_only import create_triggers, drop_triggers
from vault.db.types import JSONDocument

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

DROPPED = ("role", "tenant", "object_ids", "outcome", "request_id", "detail")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        if sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError(f"SQLite {sqlite3.sqlite_version} cannot drop columns; vault needs 3.35 or later")
        for name in DROPPED:  # in place: a rebuilt table would lose its append-only triggers
            op.execute(f"ALTER TABLE journal_entries DROP COLUMN {name}")
    else:
        for name in DROPPED:
            op.drop_column("journal_entries", name)


def downgrade() -> None:
    """The columns again, filled from each entry's bytes."""
    for column in (sa.Column("role", sa.String(16)), sa.Column("tenant", sa.String(64)),
                   sa.Column("object_ids", JSONDocument), sa.Column("outcome", sa.String(16)),
                   sa.Column("request_id", sa.String(64)), sa.Column("detail", JSONDocument)):
        op.add_column("journal_entries", column)
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT seq, entry FROM journal_entries")).all()
    drop_triggers(op, "journal_entries")
    entries = sa.table("journal_entries", sa.column("seq"), sa.column("role"), sa.column("tenant"),
                       sa.column("object_ids", JSONDocument), sa.column("outcome"), sa.column("request_id"),
                       sa.column("detail", JSONDocument))
    for seq, entry in rows:
        try:
            document = json.loads(bytes(entry))
        except ValueError:
            document = None
        document = document if isinstance(document, dict) else {}  # a damaged entry: its columns stay empty
        bind.execute(sa.update(entries).where(entries.c.seq == seq).values(
            role=document.get("role"), tenant=document.get("tenant"), object_ids=document.get("objects", []),
            outcome=document.get("outcome"), request_id=document.get("request_id"),
            detail=document.get("detail", {})))
    create_triggers(op, "journal_entries")
