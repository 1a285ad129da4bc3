"""PRONOM format identification (The National Archives' registry of PUIDs) with FIDO, the Open Preservation
Foundation's identifier, and the PDF/A conformance a PDF claims in its XMP (ISO 19005, the ``pdfaid`` schema).

FIDO matches its PRONOM signatures — regular expressions anchored at the beginning (BOF) or end (EOF) of a file —
over the first and last 128 KiB, as its command line does (``fido FILE``, extension matching aside: a deposit's
file name is the depositor's word, not the bytes). Loading the signatures takes ~0.15 s and a match 3–7 ms of CPU
(bench/README.md), too much for the deposit path: the background format pass (vault.catalog.formats) calls
:func:`identify` in a low-priority child process (:class:`Identifier`).
"""

from __future__ import annotations

import functools
import os
import re
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Iterable

from vault.formats import looks_like_pdf

BUFFER = 128 * 1024
"""FIDO's default ``bufsize``: the BOF and EOF windows its signatures are matched over."""
_XMP_WINDOW = 512
_PDFAID = re.compile(rb"pdfaid:(part|conformance)\s*(?:=\s*[\"']\s*|>\s*)([0-9A-Za-z]{1,2})\s*[\"'<]")


@dataclass(frozen=True)
class PronomMatch:
    puid: str
    name: str | None
    version: str | None
    mime: str | None


class Edges:
    """The BOF and EOF windows of a stream fed in chunks, and the PDF/A claim of its XMP packets, wherever in the
    file they are (a PDF's metadata stream may sit in the middle: every chunk is scanned, with an overlap)."""

    def __init__(self) -> None:
        self.bof = b""
        self._tail = b""
        self._claims: dict[bytes, bytes] = {}

    def feed(self, chunk: bytes) -> None:
        if len(self.bof) < BUFFER:
            self.bof += chunk[:BUFFER - len(self.bof)]
        window = self._tail[-_XMP_WINDOW:] + chunk
        if b"pdfaid:" in window:
            for field, value in _PDFAID.findall(window):
                self._claims.setdefault(field, value)
        self._tail = (self._tail + chunk)[-BUFFER:]

    @property
    def eof(self) -> bytes:
        return self._tail

    def pdfa(self) -> str | None:
        """``part`` + lower-case ``conformance`` (``1b``, ``2u``, ``3a``; ``4`` has none), when the file is a PDF
        that states a part; None otherwise."""
        part = self._claims.get(b"part")
        if part is None or not looks_like_pdf(self.bof):
            return None
        return (part + self._claims.get(b"conformance", b"")).decode("ascii").lower()


def edges_of(chunks: Iterable[bytes]) -> Edges:
    edges = Edges()
    for chunk in chunks:
        edges.feed(chunk)
    return edges


@functools.cache
def _fido():
    """FIDO loaded once per process with the signature files its command line loads by default (PRONOM plus
    FIDO's format extensions)."""
    from fido import CONFIG_DIR
    from fido.fido import Fido
    from fido.versions import get_local_versions

    versions = get_local_versions(CONFIG_DIR)
    return Fido(quiet=True, handle_matches=lambda *_: None,
                format_files=[versions.pronom_signature, versions.fido_extension_signature])


def matches(bof: bytes, eof: bytes) -> list[PronomMatch]:
    """Every format FIDO's signatures match, inferior ones removed, in FIDO's order (its CLI prints one line each)."""
    if not bof:
        return []
    fido = _fido()
    found = []
    for fmt, _signature in fido.match_formats(bof, eof):
        found.append(PronomMatch(fido.get_puid(fmt), fmt.findtext("name"), fmt.findtext("version"),
                                 fmt.findtext("mime")))
    return found


def identify(bof: bytes, eof: bytes) -> PronomMatch | None:
    """The format of the file with these BOF/EOF windows: FIDO's first match, None when none matches."""
    found = matches(bof, eof)
    return found[0] if found else None


def _low_priority() -> None:
    os.nice(19)
    _fido()


class Identifier:
    """:func:`identify` in one child process at the lowest CPU priority, so that identification takes only CPU the
    deposits leave idle, and never the server's GIL; the child loads the signatures once."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def __call__(self, bof: bytes, eof: bytes) -> PronomMatch | None:
        if self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_low_priority)
        try:
            return self._pool.submit(identify, bof, eof).result()
        except BrokenProcessPool:  # the child died (killed, out of memory): a new one at the next call
            self.close()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
