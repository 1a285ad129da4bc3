"""Metadata record versions sealed apart from their content (issue 22): ``record_seal_members`` (leaves of
``record-seal`` batches and of their hash-tree renewals) and ``record_seal_pending`` (versions waiting for their
seal). Records are backfilled for objects that have none (imported after 0025), and every version not sealed with
its content is queued: the later versions, and version 1 of objects whose initial leaf is their content alone
(sealed before 0025). The next seal pass seals them (vault.evidence.record_seals); the old chains stay as they are.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

import importlib
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from vault.db.types import UTCDateTime

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_BATCH = 1000
_previous = importlib.import_module("vault.db.migrations.versions.0025_metadata_records")


def _backfill_missing(connection) -> None:
    """Version 1 for each object without a record, as 0025 made them."""
    from vault.evidence.metadata_store import RECORDS

    objects = _previous._objects()
    policies = _previous._policies(connection)
    has_record = sa.select(RECORDS.c.object_id).where(RECORDS.c.object_id == objects.c.id).exists()
    while rows := connection.execute(sa.select(objects).where(~has_record).order_by(objects.c.id)
                                     .limit(_BATCH)).all():
        _previous._insert_records(connection, rows, policies)


def _queue(connection) -> None:
    """Queue every version not sealed with its content."""
    from vault.evidence.assemble import BatchCache, record_seal
    from vault.evidence.metadata_store import OBJECTS, PENDING, RECORDS

    now = datetime.now(timezone.utc)
    later = connection.execute(sa.select(RECORDS.c.object_id, RECORDS.c.version).where(RECORDS.c.version > 1)).all()
    queued = [{"object_id": r.object_id, "version": r.version, "queued_at": now} for r in later]
    cache, after = BatchCache(), -1
    while True:
        rows = connection.execute(
            sa.select(OBJECTS.c.id, OBJECTS.c.seal_seq, OBJECTS.c.sha256, OBJECTS.c.sha512, RECORDS.c.record)
            .join(RECORDS, (RECORDS.c.object_id == OBJECTS.c.id) & (RECORDS.c.version == 1))
            .where(OBJECTS.c.seal_seq > after).order_by(OBJECTS.c.seal_seq).limit(_BATCH)).all()
        if not rows:
            break
        for r in rows:
            state = record_seal(connection, r.seal_seq, cache, {"sha256": r.sha256, "sha512": r.sha512},
                                bytes(r.record))
            if state not in ("group", "unsealed"):
                queued.append({"object_id": r.id, "version": 1, "queued_at": now})
        after = rows[-1].seal_seq
    for part in range(0, len(queued), _BATCH):
        connection.execute(PENDING.insert(), queued[part:part + _BATCH])


def upgrade() -> None:
    op.create_table(
        "record_seal_members",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("object_id", sa.String(36), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("content_hash", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_record_seal_members_record", "record_seal_members", ["object_id", "version"])
    op.create_table(
        "record_seal_pending",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
    )
    _backfill_missing(op.get_bind())
    _queue(op.get_bind())


def downgrade() -> None:
    op.drop_table("record_seal_pending")
    op.drop_index("ix_record_seal_members_record", "record_seal_members")
    op.drop_table("record_seal_members")
