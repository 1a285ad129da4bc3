"""EN 319 522 vocabulary (issue 23): ``archived_objects.etsi_event``, the evidence event in ETSI terms, with an
index for search; existing objects get it from the evidence event their content stated at deposit
(``extracted.evidence_event``, kept since 0010), so they are found by it too. Their metadata records stay
byte-identical: a backfilled value is not in the record (vault.evidence.rowcheck knows; see docs/lre.md).

Revision ID: 0035
Revises: 0030
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from vault.db.types import JSONDocument
from vault.lre.vocabulary import etsi_event_of

revision = "0035"
down_revision = "0033"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        batch.add_column(sa.Column("etsi_event", sa.String(64)))
    op.create_index("ix_objects_tenant_etsi_event", "archived_objects", ["tenant", "etsi_event"],
                    sqlite_where=sa.text("etsi_event IS NOT NULL"), postgresql_where=sa.text("etsi_event IS NOT NULL"))
    _backfill(op.get_bind())


def _backfill(connection) -> None:
    objects = sa.table("archived_objects", sa.column("id", sa.String(36)), sa.column("extracted", JSONDocument),
                       sa.column("etsi_event", sa.String(64)))
    after = ""
    while True:
        rows = connection.execute(sa.select(objects.c.id, objects.c.extracted).where(objects.c.id > after)
                                  .order_by(objects.c.id).limit(BATCH)).all()
        if not rows:
            return
        for object_id, extracted in rows:
            stated = (extracted or {}).get("evidence_event") if isinstance(extracted, dict) else None
            name = etsi_event_of(stated.get("value")) if isinstance(stated, dict) else None
            if name is not None:
                connection.execute(objects.update().where(objects.c.id == object_id).values(etsi_event=name))
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_objects_tenant_etsi_event", "archived_objects")
    with op.batch_alter_table("archived_objects") as batch:
        batch.drop_column("etsi_event")
