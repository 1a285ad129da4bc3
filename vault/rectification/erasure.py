"""Erasing personal values (GDPR art. 17, issue 22), in the caller's transaction: the one erasure of an erasure
request and of disposal.

For each field: the disclosure (salt and clear value) is deleted, the value is cleared from the object row (its
column, or its ``extra`` member) and from the search keys, the journal pseudonyms made from it (searches by that
value) lose their clear value (:func:`vault.journal.pseudonyms.erase_case_variants`), and an erasure marker
(field, time, reason) is written so that the row check (:mod:`vault.evidence.rowcheck`) reads the missing value
as erased. The metadata record, its commitments, the evidence records and the journal are not touched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Connection, delete, insert, select

from vault.evidence.metadata_store import DISCLOSURES, ERASURES
from vault.journal.pseudonyms import erase_case_variants

PARTY_FIELDS = ("sender", "recipient")
"""Fields a ``party`` search also matches (vault.catalog.search): their pseudonyms are erased under both kinds."""


def erase_values(connection: Connection, row: dict, fields: Iterable[str], reason: str,
                 at: datetime) -> dict[str, Any]:
    """Erase ``fields`` of the object ``row`` as the module says, but for the row itself: returns the columns to
    write (each erased column None, ``extra`` without the erased members) — the caller writes them with the
    search keys (:func:`vault.catalog.index.rekey_erased`), alongside what else it changes."""
    fields = sorted(set(fields))
    if not fields:
        return {}
    connection.execute(delete(DISCLOSURES).where(DISCLOSURES.c.object_id == row["id"],
                                                 DISCLOSURES.c.field.in_(fields)))
    marked = set(connection.execute(select(ERASURES.c.field).where(ERASURES.c.object_id == row["id"],
                                                                   ERASURES.c.field.in_(fields))).scalars())
    fresh = [{"object_id": row["id"], "field": f, "erased_at": at, "reason": reason} for f in fields
             if f not in marked]
    if fresh:
        connection.execute(insert(ERASURES), fresh)
    values: dict[str, Any] = {}
    extra = dict(row.get("extra") or {})
    for field in fields:
        if field.startswith("extra."):
            value = extra.pop(field[len("extra."):], None)
        else:
            value, values[field] = row.get(field), None
        if isinstance(value, str):
            _forget_searches(connection, field, value)
    if extra != (row.get("extra") or {}):
        values["extra"] = extra
    values.update(without_sources(row, fields))
    return values


def without_sources(row: dict, fields: Iterable[str]) -> dict[str, Any]:
    """``{"extracted": …}`` without the notes saying ``fields`` were read from the content (a corrected or erased
    value no longer is what the content said), or ``{}`` when it has none of them."""
    extracted = row.get("extracted") or {}
    kept = {name: note for name, note in extracted.items() if name not in set(fields)}
    return {"extracted": kept} if len(kept) != len(extracted) else {}


def _forget_searches(connection: Connection, field: str, value: str) -> None:
    """The clear value behind the journal pseudonyms of searches for ``value`` under the field's kind (and
    ``party`` for a party), however its case was typed; a prefix search (``erin*``) is not recognised."""
    erase_case_variants(connection, (field, "party") if field in PARTY_FIELDS else (field,), value)
