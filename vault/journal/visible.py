"""The journal as one caller may read it: entry pages, tiles and anchors, for the API's journal routes, the
console's Journal page and the in-process export source (one set of tenant rules for all three).

A tenant's reader sees its tenant's entries only, always with their RFC 6962 inclusion proofs, and the hash tiles
(every leaf's hash, no entry); entry bundles (c2sp.org/tlog-tiles ``tile/entries/…``) hold every tenant's entries
and are for a reader of every tenant only (docs/journal.md, "A tenant's auditor").
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from vault.auth.roles import Principal
from vault.journal.anchors import Anchor, load_anchors
from vault.journal.checkpoints import CHECKPOINTS, latest_checkpoint
from vault.journal.listing import BUNDLES_REFUSED, EntryPage, EntryQuery, entries_answer, visible_entries
from vault.journal.log import entries_of, entry_range, hash_range
from vault.journal.excerpt import JournalExcerpt
from vault.journal.tiles import HEIGHT, WIDTH, Tile, bundle_entries, parse_path
from vault_verify.journalkeys import HANDOVER_ACTION, handover_of


class NotInJournal(LookupError):
    """What was asked for is not (yet) in the journal: no checkpoint signed yet, a tile beyond the log."""


def visible_page(principal: Principal, reader, query: EntryQuery,
                 proofs: bool) -> tuple[EntryPage, JournalExcerpt | None, bool]:
    """The page of ``query`` the caller may see (its tenant's entries only, always with proofs, for a tenant key):
    ``(page, excerpt or None, proofs given)``."""
    query = replace(query, tenant=None if principal.all_tenants else principal.tenant)
    proofs = proofs or query.tenant is not None
    page, excerpt = visible_entries(reader, query, proofs)
    return page, excerpt, proofs


def read_tile(reader, tile: Tile) -> bytes:
    """A hash tile (``width`` hashes at level 8·L) or an entry bundle (c2sp.org/tlog-tiles), from the stored log.
    The caller checks that the reader may have entry bundles."""
    with reader.connect() as connection:
        if tile.is_entries:
            items = entry_range(connection, tile.index * WIDTH, tile.width)
        else:
            items = hash_range(connection, HEIGHT * tile.level, tile.index * WIDTH, tile.width)
    if len(items) != tile.width:
        raise NotInJournal(f"tile {tile.path()} is not (yet) part of the log")
    return bundle_entries(items) if tile.is_entries else b"".join(items)


def anchor_answer(anchor: Anchor) -> dict[str, Any]:
    """One anchor as ``GET /v1/journal/anchors`` lists it (the token base64 DER)."""
    return {"seq": anchor.seq, "checkpoint_size": anchor.checkpoint_size, "checkpoint": anchor.note.decode(),
            "token": base64.b64encode(anchor.token).decode("ascii"), "gen_time": anchor.gen_time.isoformat(),
            "tsa": anchor.tsa_url}


def read_anchors(reader, after: int = -1) -> list[dict[str, Any]]:
    """The anchors with a greater seq than ``after``, oldest first, as the anchors route lists them."""
    with reader.connect() as connection:
        return [anchor_answer(a) for a in load_anchors(connection) if a.seq > after]


def read_handovers(reader) -> list[dict[str, Any]]:
    """The journal key changes, oldest first, as ``GET /v1/journal/handovers`` lists them: the entry's ``seq``, the
    handover checkpoint's ``size`` (seq + 1) and signed ``checkpoint`` note (the new key's signature, and the old
    key's when ``cosigned``), the ``old`` and ``new`` verifier keys (docs/journal.md, Key changes). Every journal
    reader sees them: a tenant's entry pages carry the key change entries too."""
    with reader.connect() as connection:
        changes = [handover_of(json.loads(entry)) for _seq, entry in entries_of(connection, HANDOVER_ACTION)]
        changes = [change for change in changes if change is not None]
        notes = dict(connection.execute(select(CHECKPOINTS.c.size, CHECKPOINTS.c.note).where(
            CHECKPOINTS.c.size.in_([change.size for change in changes]))).all()) if changes else {}
    return [{"seq": change.seq, "size": change.size, "old": change.old.vkey(), "new": change.new.vkey(),
             "cosigned": change.cosigned, "checkpoint": notes.get(change.size)} for change in changes]


class VaultSource:
    """The export source in-process (:mod:`vault.journal.export`): what the journal routes answer ``principal``,
    read from ``vault`` (its ``reader`` engine, ``checkpointer`` and ``tsa_roots_pem``) without HTTP."""

    def __init__(self, vault, principal: Principal) -> None:
        self._vault = vault
        self._principal = principal

    def vkey(self) -> str:
        return self._vault.checkpointer.signer.verifier.vkey()

    def entries_page(self, start: int, limit: int) -> dict[str, Any]:
        page, excerpt, proofs = visible_page(self._principal, self._vault.reader, EntryQuery(start=start, limit=limit),
                                             False)
        return entries_answer(page, excerpt, proofs, self._principal.tenant)

    def checkpoint(self) -> bytes:
        latest = latest_checkpoint(self._vault.reader)
        if latest is None:
            raise NotInJournal("the journal has not been checkpointed yet; retry in a few seconds")
        return latest["note"].encode()  # as the checkpoint route answers it (text/plain, UTF-8)

    def tile(self, path: str) -> bytes:
        tile = parse_path(path)
        if tile.is_entries and not self._principal.all_tenants:
            raise PermissionError(BUNDLES_REFUSED)
        return read_tile(self._vault.reader, tile)

    def anchors(self) -> list[dict[str, Any]]:
        return read_anchors(self._vault.reader)

    def handovers(self) -> list[dict[str, Any]]:
        return read_handovers(self._vault.reader)

    def tsa_roots_pem(self) -> bytes:
        return self._vault.tsa_roots_pem()
