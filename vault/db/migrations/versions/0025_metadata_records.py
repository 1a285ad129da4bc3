"""Metadata records (issue 22): ``metadata_records`` (the exact record bytes per object and version) and
``metadata_disclosures`` (salt and clear value per object and personal field), and ``seal_members.content_hash``
(a data group's content hash in a hash-tree renewal's algorithm); the records are backfilled for every existing
object from its row, in batches.

Each object's policy (personal fields, start rule) is read from the policy text kept in ``retention_policies``,
with TOML here rather than the live policy parser; a policy version missing there (never the case for an archive
started once) falls back to the default personal fields. The record itself is made by
:func:`vault.evidence.metadata_record.build_record`: version 1 of the format is frozen, and a new format gets a
new ``version`` rather than a changed builder. Objects sealed before this revision keep their content-only chains
(docs/metadata-record.md, "Objects archived before records").

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

import tomllib

import sqlalchemy as sa
from alembic import op

from vault.db.types import JSONDocument, UTCDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_BATCH = 1000
_DEFAULT_PERSONAL = ("sender", "recipient", "filename")
_COLUMNS = ("id", "tenant", "case_ref", "contract_number", "kind", "event_type", "sender", "recipient", "filename",
            "media_type", "size", "sha256", "sha512", "policy_id", "policy_version")


def _policies(connection) -> dict:
    table = sa.table("retention_policies", sa.column("id"), sa.column("version"), sa.column("text"))
    found = {}
    for row in connection.execute(sa.select(table.c.id, table.c.version, table.c.text)):
        data = tomllib.loads(row.text)
        found[(row.id, row.version)] = (tuple(data.get("personal_fields", _DEFAULT_PERSONAL)),
                                        data.get("start", "deposit"))
    return found


def _objects():
    return sa.table("archived_objects", *(sa.column(c) for c in _COLUMNS),
                    sa.column("event_time", UTCDateTime()), sa.column("deposited_at", UTCDateTime()),
                    sa.column("extra", JSONDocument))


def _backfill(connection) -> None:
    objects = _objects()
    policies = _policies(connection)
    last = ""
    while True:
        rows = connection.execute(sa.select(objects).where(objects.c.id > last).order_by(objects.c.id)
                                  .limit(_BATCH)).all()
        if not rows:
            return
        _insert_records(connection, rows, policies)
        last = rows[-1].id


def _insert_records(connection, rows, policies: dict) -> None:
    """Version 1 of the record of each object row of ``rows``, with its disclosures."""
    from vault.evidence.metadata_record import build_record
    from vault.evidence.metadata_store import DISCLOSURES, RECORDS, record_rows

    records, disclosures = [], []
    for r in rows:
        row = dict(r._mapping)
        personal, start = policies.get((row["policy_id"], row["policy_version"]), (_DEFAULT_PERSONAL, "deposit"))
        record, opened = record_rows(row["id"], build_record(row, personal, start), row["deposited_at"])
        records.append(record)
        disclosures += opened
    connection.execute(RECORDS.insert(), records)
    if disclosures:
        connection.execute(DISCLOSURES.insert(), disclosures)


def upgrade() -> None:
    op.create_table(
        "metadata_records",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("record", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "metadata_disclosures",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("field", sa.String(64), primary_key=True),
        sa.Column("salt", sa.LargeBinary, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )
    with op.batch_alter_table("seal_members") as batch:
        batch.add_column(sa.Column("content_hash", sa.LargeBinary))
    _backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("seal_members") as batch:
        batch.drop_column("content_hash")
    op.drop_table("metadata_disclosures")
    op.drop_table("metadata_records")
