"""Writing the search keys (vault.catalog.keys) with the object row, in the transaction that writes the row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert
from sqlalchemy.sql.dml import Insert

from vault.catalog.keys import extra_keys, key_columns
from vault.db.tables import ObjectExtraKey
from vault.db.writer import stage, stage_rows
from vault.retention.policy import PolicyBook

EXTRA_KEYS = ObjectExtraKey.__table__
_INSERT_EXTRA_KEY = insert(EXTRA_KEYS)


def indexed_names(policies: PolicyBook, policy_id: str) -> tuple[str, ...]:
    """The ``extra`` fields indexed for an object: those the version in force of its policy declares."""
    policy = policies.get(policy_id)
    return policy.indexed_extra if policy else ()


def stage_object(connection: Connection, statement: Insert, row: dict[str, Any], policies: PolicyBook) -> None:
    """Stage the object row with its key columns, and its ``extra`` keys, as part of the current unit."""
    stage(connection, statement, {**row, **key_columns(row)})
    rows = extra_keys(row["id"], row.get("extra"), indexed_names(policies, row["policy_id"]))
    if rows:
        stage_rows(connection, _INSERT_EXTRA_KEY, rows)


def rekey_erased(connection: Connection, row: dict[str, Any], erased: dict[str, Any], policies: PolicyBook) -> dict:
    """The key columns of ``erased`` (the values a disposal overwrites); the object's ``extra`` keys are rewritten
    from what remains, so that no key outlives the personal value it was made from."""
    connection.execute(delete(EXTRA_KEYS).where(EXTRA_KEYS.c.object_id == row["id"]))
    rows = extra_keys(row["id"], erased.get("extra", row.get("extra")), indexed_names(policies, row["policy_id"]))
    if rows:
        connection.execute(_INSERT_EXTRA_KEY, rows)
    return key_columns({**row, **erased})
