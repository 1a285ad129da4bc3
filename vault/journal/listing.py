"""Pages of journal entries for ``GET /v1/journal/entries``, scoped to what the caller may see.

A tenant's auditor sees the entries whose ``tenant`` is exactly its tenant — none of another tenant's, none of the
platform's (``*``) and none without a tenant (policy loads, seals, anchors …). ``tenant`` is not a column (it is
read from the entry's bytes, docs/journal.md), so a page reads a bounded window of sequence numbers: however many
foreign entries lie between two of the caller's, a page costs at most ``SCAN`` rows, and ``next_from`` says where
the next window starts — nothing is skipped and nothing read twice. With its page a tenant's auditor also gets
the journal key changes (``key_changes``, with their inclusion proofs, as a package carries them): the public keys
it needs to open the checkpoints and anchors an older key signed (docs/journal.md "Key changes").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from vault.db.tables import JournalEntry
from vault.journal.excerpt import JournalExcerpt, journal_excerpt, with_key_changes
from vault.journal.log import journal_size
from vault_verify.canonical import canonical_json

ENTRIES = JournalEntry.__table__
SCAN = 20_000
"""Sequence numbers one page reads at most."""


@dataclass(frozen=True)
class EntryQuery:
    start: int = 0
    end: int | None = None
    actor: str | None = None
    action: str | None = None
    object_id: str | None = None
    tenant: str | None = None  # None: every entry (a platform key); else only this tenant's entries
    limit: int = 100
    since: datetime | None = None  # entries journaled at or after
    until: datetime | None = None  # entries journaled before


@dataclass(frozen=True)
class EntryPage:
    entries: list[tuple[int, bytes]]  # (seq, canonical bytes: the Merkle leaf)
    next_from: int | None  # where the next page starts; None: nothing further matches up to ``end``


def tenant_member(tenant: str) -> bytes:
    """The bytes ``"tenant":"<tenant>"`` as RFC 8785 writes the member in an entry: a cheap test before parsing
    (a string value holding these bytes would have its quotes escaped, so a match is the member or a detail key)."""
    return b'"tenant":' + canonical_json(tenant)


def entry_page(connection: Connection, query: EntryQuery, scan: int = SCAN) -> EntryPage:
    """The first ``query.limit`` matching entries from ``query.start``, within at most ``scan`` sequence numbers."""
    stop = query.start + scan if query.end is None else min(query.end, query.start + scan)
    statement = select(ENTRIES.c.seq, ENTRIES.c.entry).where(ENTRIES.c.seq >= query.start, ENTRIES.c.seq < stop)
    if query.actor:
        statement = statement.where(ENTRIES.c.actor == query.actor)
    if query.action:
        statement = statement.where(ENTRIES.c.action == query.action)
    if query.since is not None:
        statement = statement.where(ENTRIES.c.at >= query.since)
    if query.until is not None:
        statement = statement.where(ENTRIES.c.at < query.until)
    needle = tenant_member(query.tenant) if query.tenant is not None else None
    found: list[tuple[int, bytes]] = []
    for row in connection.execution_options(yield_per=500).execute(statement.order_by(ENTRIES.c.seq)):
        entry = bytes(row.entry)
        if needle is not None and needle not in entry:
            continue
        if needle is not None or query.object_id:
            document = json.loads(entry)
            if needle is not None and document.get("tenant") != query.tenant:
                continue
            if query.object_id and query.object_id not in document.get("objects", ()):
                continue
        found.append((row.seq, entry))
        if len(found) >= query.limit:
            return EntryPage(found, row.seq + 1)
    last = journal_size(connection) if query.end is None else min(query.end, journal_size(connection))
    return EntryPage(found, stop if stop < last else None)


BUNDLES_REFUSED = ("entry bundles hold every tenant's entries: a tenant's key reads its own through "
                   "/v1/journal/entries (with inclusion proofs) and the hash tiles tile/<L>/…")


def visible_entries(engine: Engine, query: EntryQuery, proofs: bool) -> tuple[EntryPage, JournalExcerpt | None]:
    """A page and, when ``proofs``, its entries' inclusion proofs against the newest signed checkpoint (None when
    none was signed yet), read in one transaction; for a tenant's page the excerpt holds the journal key changes
    too."""
    with engine.connect() as connection:
        page = entry_page(connection, query)
        if not proofs:
            return page, None
        proven = page.entries if query.tenant is None else with_key_changes(connection, page.entries)
        return page, journal_excerpt(connection, proven)


def entries_answer(page: EntryPage, excerpt: JournalExcerpt | None, proofs: bool, scope: str) -> dict[str, Any]:
    """The JSON answer: ``scope`` (the tenant listed, ``*`` for all), ``entries`` (each its parsed canonical JSON)
    and ``next_from``; with proofs, the signed ``checkpoint`` note once and ``proofs`` as a package's
    ``journal/proofs.json`` (docs/package.md), and ``key_changes``: the other entries the proofs cover (a tenant's
    page: the journal key changes, :func:`visible_entries`)."""
    answer: dict[str, Any] = {"scope": scope, "entries": [json.loads(entry) for _seq, entry in page.entries],
                              "next_from": page.next_from}
    if proofs:
        answer["checkpoint"] = excerpt.checkpoint.decode() if excerpt is not None else None
        answer["proofs"] = excerpt.proofs_document() if excerpt is not None else None
        listed = {seq for seq, _entry in page.entries}
        answer["key_changes"] = [json.loads(entry) for seq, entry in (excerpt.entries if excerpt else [])
                                 if seq not in listed]
    return answer
