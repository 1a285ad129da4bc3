"""Case-folded search keys of references and parties, and the index of policy-declared ``extra`` fields (issue 21).

The keys of existing objects are backfilled here, with the same case folding as ``vault.catalog.keys`` (carried
in this file, not imported: a migration keeps meaning what it meant when written). No policy declared
``indexed_extra`` before this revision, so ``object_extra_keys`` starts empty.

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_COLUMNS = ("case_ref", "contract_number", "sender", "recipient")
_BATCH = 5000


def _key_type():
    return sa.String(256).with_variant(sa.String(256, collation="C"), "postgresql")


def _key(value):
    return None if value is None else value.casefold()[:256]


def _backfill(connection) -> None:
    objects = sa.table("archived_objects", sa.column("id"), *(sa.column(c) for c in _COLUMNS),
                       *(sa.column(f"{c}_key") for c in _COLUMNS))
    last = ""
    while True:
        rows = connection.execute(sa.select(objects.c.id, *(objects.c[c] for c in _COLUMNS))
                                  .where(objects.c.id > last).order_by(objects.c.id).limit(_BATCH)).all()
        if not rows:
            return
        connection.execute(
            objects.update().where(objects.c.id == sa.bindparam("row_id"))
            .values({f"{c}_key": sa.bindparam(f"new_{c}") for c in _COLUMNS}),
            [{"row_id": r.id, **{f"new_{c}": _key(getattr(r, c)) for c in _COLUMNS}} for r in rows])
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("archived_objects") as batch:
        for column in _COLUMNS:
            batch.add_column(sa.Column(f"{column}_key", _key_type()))
    _backfill(op.get_bind())
    for column, short in zip(_COLUMNS, ("case", "contract", "sender", "recipient")):
        op.create_index(f"ix_objects_tenant_{short}_key", "archived_objects", ["tenant", f"{column}_key"])
    op.create_index("ix_objects_tenant_deposited", "archived_objects", ["tenant", "deposited_at"])
    op.create_table(
        "object_extra_keys",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value_key", _key_type(), primary_key=True),
        sa.Column("object_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_object_extra_keys_object", "object_extra_keys", ["object_id"])


def downgrade() -> None:
    op.drop_index("ix_object_extra_keys_object", "object_extra_keys")
    op.drop_table("object_extra_keys")
    op.drop_index("ix_objects_tenant_deposited", "archived_objects")
    for short in ("case", "contract", "sender", "recipient"):
        op.drop_index(f"ix_objects_tenant_{short}_key", "archived_objects")
    with op.batch_alter_table("archived_objects") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(f"{column}_key")
