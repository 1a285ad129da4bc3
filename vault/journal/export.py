"""What an offline journal export holds, read from a source and written to a sink (docs/journal.md).

An export is ``checkpoint`` (c2sp.org/tlog-checkpoint, signed note), ``vkey`` (c2sp.org/signed-note verifier
key), ``tile/…`` (c2sp.org/tlog-tiles: the hash tiles, and the entry bundles for a reader of every tenant),
``tenant-entries.json`` for a tenant's reader instead of the bundles (``{"scope", "pages"}``: every
``/v1/journal/entries`` page with proofs, read before the checkpoint so that it covers them all),
``anchors/NNNNNNNN.checkpoint`` and ``….tsr`` (each anchored checkpoint and its RFC 3161 token),
``handovers/<size>`` (each journal key change's handover checkpoint, co-signed by the old key when it was
available: an auditor who pinned an older key follows the chain forward) and ``tsa-roots.pem``. ``vault journal verify DIR`` replays it; Go's ``sumdb/tlog`` reads its tiles.

The source is the API over HTTP (``vault journal export``) or the vault in-process for one caller
(:mod:`vault.journal.visible`: the console's and the API's ZIP); the sink a directory or a ZIP stream.
"""

from __future__ import annotations

import base64
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from vault_verify.anchors import export_names
from vault_verify.journalkeys import handover_name
from vault_verify.note import Verifier, open_checkpoint
from vault_verify.tenantjournal import EXPORT_NAME
from vault_verify.tiles import entry_bundles_for_size, tiles_for_size

ALL = "*"
PAGE_LIMIT = 1000


class ExportSource(Protocol):
    """The journal as one reader may see it (each method one API read)."""

    def vkey(self) -> str: ...  # GET /v1/journal/key: the note verifier key

    def entries_page(self, start: int, limit: int) -> dict[str, Any]: ...  # GET /v1/journal/entries?from=&limit=

    def checkpoint(self) -> bytes: ...  # GET /journal/checkpoint: the newest signed note

    def tile(self, path: str) -> bytes: ...  # GET /journal/tile/…

    def anchors(self) -> list[dict[str, Any]]: ...  # GET /v1/journal/anchors: {"seq", "checkpoint", "token", …}

    def handovers(self) -> list[dict[str, Any]]: ...  # GET /v1/journal/handovers: {"seq", "size", "checkpoint", …}

    def tsa_roots_pem(self) -> bytes: ...  # GET /v1/tsa/roots


@dataclass(frozen=True)
class ExportFile:
    name: str  # the path inside the export, ``/``-separated
    read: Callable[[], bytes]
    immutable: bool = False  # a tile: never changes once published, so a resumed export keeps it


@dataclass(frozen=True)
class JournalExport:
    """An export opened on a source: the small reads done (key, own pages, checkpoint, anchors), tiles to come."""

    source: ExportSource
    vkey: str
    scope: str  # "*" or the tenant whose entries the pages hold
    pages: list[dict[str, Any]] | None  # a tenant's reader only
    note: bytes
    size: int
    anchors: list[dict[str, Any]]
    handovers: list[dict[str, Any]] = ()  # the key changes the exported tree holds, with their checkpoints

    @property
    def own_entries(self) -> int:
        return sum(len(page["entries"]) for page in self.pages or [])

    def files(self) -> Iterator[ExportFile]:
        """Every file in write order: tiles first, the checkpoint that names them last (a reader that finds the
        checkpoint finds its tiles)."""
        bundles = [] if self.pages is not None else list(entry_bundles_for_size(self.size))
        for tile in [*tiles_for_size(self.size), *bundles]:
            yield ExportFile(tile.path(), lambda path=tile.path(): self.source.tile(path), immutable=True)
        if self.pages is not None:
            document = json.dumps({"scope": self.scope, "pages": self.pages}).encode()
            yield ExportFile(EXPORT_NAME, lambda: document)
        for anchor in self.anchors:
            note_name, token_name = export_names(anchor["seq"])
            yield ExportFile(note_name, lambda a=anchor: a["checkpoint"].encode())
            yield ExportFile(token_name, lambda a=anchor: base64.b64decode(a["token"]))
        for handover in self.handovers:
            if handover["checkpoint"]:
                yield ExportFile(handover_name(handover["size"]), lambda h=handover: h["checkpoint"].encode())
        yield ExportFile("tsa-roots.pem", self.source.tsa_roots_pem)
        yield ExportFile("vkey", lambda: (self.vkey + "\n").encode())
        yield ExportFile("checkpoint", lambda: self.note)

    def summary(self, files: int, where: str) -> dict[str, Any]:
        return {"directory": where, "size": self.size, "anchors": len(self.anchors), "files": files,
                "scope": self.scope}


def open_export(source: ExportSource) -> JournalExport:
    """Read what an export needs before its tiles. The scope comes from the entries route (``*`` or the caller's
    tenant); a tenant's pages are read before the checkpoint, so the checkpoint covers every page's checkpoint,
    and their entries newer than it (journaled since the last checkpoint) are left out: the exported tree cannot
    prove them, the next export will. The checkpoint must carry a valid signature by the key exported with it: the
    current key, which signs the newest checkpoint whatever key changes came before (older checkpoints, in the
    pages and anchors, are the verifier's to open with the key of their size)."""
    vkey = source.vkey().strip()
    scope = source.entries_page(0, 1).get("scope", ALL)
    pages = None if scope == ALL else own_pages(source)
    note = source.checkpoint()
    size = open_checkpoint(note, Verifier.parse(vkey)).size
    if pages is not None:
        pages = [{**page, "entries": [e for e in page["entries"] if e["seq"] < size]} for page in pages]
    handovers = [h for h in source.handovers() if h["size"] <= size]
    return JournalExport(source, vkey, scope, pages, note, size, source.anchors(), handovers)


def own_pages(source: ExportSource) -> list[dict[str, Any]]:
    """Every page of the entries route for a tenant's reader (its entries, their proofs, their checkpoint)."""
    pages, start = [], 0
    while start is not None:
        pages.append(source.entries_page(start, PAGE_LIMIT))
        start = pages[-1]["next_from"]
    return pages


def write_directory(export: JournalExport, target: Path) -> int:
    """Write the export into ``target`` (each file atomically; tiles already there are kept: a resumed export);
    the number of files it holds."""
    count = 0
    for file in export.files():
        path = target / file.name
        if not (file.immutable and path.exists()):
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".tmp")
            partial.write_bytes(file.read())
            os.replace(partial, path)
        count += 1
    return count


def zip_name(export: JournalExport) -> str:
    """The ZIP's top directory (and file stem): ``vault-journal-<size>``, ``vault-journal-<tenant>-<size>``."""
    return f"vault-journal-{export.size}" if export.scope == ALL else f"vault-journal-{export.scope}-{export.size}"


class _Chunks:
    """A write-only, unseekable stream whose bytes are taken as they come (zipfile then writes data descriptors)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def zip_stream(export: JournalExport) -> Iterator[bytes]:
    """The export as a ZIP (PKWARE APPNOTE; deflated) under ``<zip_name>/``, yielded file by file: unpacked, it is
    the directory ``vault journal export`` writes."""
    top = zip_name(export)
    out = _Chunks()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in export.files():
            archive.writestr(f"{top}/{file.name}", file.read())
            yield out.take()
    yield out.take()
