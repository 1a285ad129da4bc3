"""PRONOM format identification (The National Archives' registry of PUIDs) with FIDO, the Open Preservation
Foundation's identifier, and the PDF/A conformance a PDF claims in its XMP (ISO 19005, the ``pdfaid`` schema).

FIDO matches its PRONOM signatures — regular expressions anchored at the beginning (BOF) or end (EOF) of a file —
over the first and last 128 KiB, as its command line does (``fido FILE``, extension matching aside: a deposit's
file name is the depositor's word, not the bytes), with FIDO's matching run over its signatures compiled once
(vault.pronom_signatures). Loading them takes ~0.3 s and a match 0.4–1.5 ms of CPU (bench/README.md), still too
much for the deposit path: the background format pass (vault.catalog.formats) calls :meth:`Identifier.many` in a
low-priority child process.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from typing import Iterable

from vault.formats import looks_like_pdf
from vault.pronom_signatures import CompiledSignatures

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


@functools.cache
def _signatures() -> CompiledSignatures:
    """FIDO's signatures compiled once (vault.pronom_signatures: its matching, same answers, a fraction of the CPU)."""
    return CompiledSignatures(_fido())


def matches(bof: bytes, eof: bytes) -> list[PronomMatch]:
    """Every format FIDO's signatures match, inferior ones removed, in FIDO's order (its CLI prints one line each)."""
    if not bof:
        return []
    fido = _fido()
    found = []
    for fmt, _signature in _signatures().match_formats(bof, eof):
        found.append(PronomMatch(fido.get_puid(fmt), fmt.findtext("name"), fmt.findtext("version"),
                                 fmt.findtext("mime")))
    return found


def identify(bof: bytes, eof: bytes) -> PronomMatch | None:
    """The format of the file with these BOF/EOF windows: FIDO's first match, None when none matches."""
    found = matches(bof, eof)
    return found[0] if found else None


class IdentifierDied(RuntimeError):
    """The identification child ended (killed, out of memory); the next call starts another."""


FILES = 1 << 31
"""The high bit of a request's count: its frames are paths of files the child reads itself."""


def _frame(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


class Identifier:
    """:func:`identify` in one child process (``python -m vault.pronom``) at the lowest CPU priority, so that
    identification takes only CPU the deposits leave idle, and never the server's GIL; the child loads the
    signatures once. :meth:`many` sends a batch per round trip: on a loaded machine a ``nice 19`` child waits for a
    CPU at every wake-up, so one wake-up per object capped the pass's rate (bench/README.md). A plain pipe rather
    than multiprocessing: spawning re-imports the parent's ``__main__``, which a server's entry point does not
    expect."""

    def __init__(self) -> None:
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def __call__(self, bof: bytes, eof: bytes) -> PronomMatch | None:
        return self.many([(bof, eof)])[0]

    def many(self, windows: list[tuple[bytes, bytes]]) -> list[PronomMatch | None]:
        """:func:`identify` of each (BOF, EOF) pair, in order, in one round trip to the child."""
        request = len(windows).to_bytes(4, "big") + b"".join(_frame(bof) + _frame(eof) for bof, eof in windows)
        return [PronomMatch(**found) if found else None for found in self._ask(request)]

    def files(self, paths: list[str]) -> list[tuple[PronomMatch | None, str | None] | None]:
        """(:func:`identify`, :meth:`Edges.pdfa`) of each local file, in order, in one round trip; None for a file
        that does not exist. The child opens and reads the files itself: the caller's process neither reads the
        bytes nor copies them into the pipe (nor releases and retakes its GIL for each open, read and close)."""
        request = (FILES | len(paths)).to_bytes(4, "big") + b"".join(_frame(os.fsencode(path)) for path in paths)
        return [found and (PronomMatch(**found[0]) if found[0] else None, found[1]) for found in self._ask(request)]

    def _ask(self, request: bytes) -> list:
        with self._lock:
            if self._child is None:
                self._child = subprocess.Popen([sys.executable, "-m", "vault.pronom"], stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                self._child.stdin.write(request)
                self._child.stdin.flush()
                line = self._child.stdout.readline()
            except (BrokenPipeError, OSError):
                line = b""
            if not line:
                self._stop()
                raise IdentifierDied("the format identification child process ended; restarted at the next call")
        return json.loads(line)

    def _stop(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            self._child = None

    def close(self) -> None:
        with self._lock:
            self._stop()


def _read_size(source) -> int | None:
    size = source.read(4)
    return int.from_bytes(size, "big") if len(size) == 4 else None


def _identify_file(path: bytes) -> list | None:
    """[match, PDF/A claim] of one file read whole in one pass (one chunk when it fits in 1 MiB); None if absent."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return None
    with handle:
        edges = edges_of(iter(functools.partial(handle.read, 1 << 20), b""))
    match = identify(edges.bof, edges.eof)
    return [match and asdict(match), edges.pdfa()]


def _serve() -> None:
    """The child's loop: a count, then that many pairs of frames (BOF, EOF) in, or with :data:`FILES` set that
    many paths; one JSON line out, the list of the matches (null for none) or of ``[match, pdfa]`` (null for a
    missing file), until its input ends."""
    os.nice(19)
    _signatures()
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while (count := _read_size(source)) is not None:
        paths = bool(count & FILES)
        count &= FILES - 1
        frames = []
        for _ in range(count if paths else 2 * count):
            size = _read_size(source)
            if size is None:
                return
            frames.append(source.read(size))
        if paths:
            found = [_identify_file(path) for path in frames]
        else:
            found = [match and asdict(match) for match in map(identify, frames[::2], frames[1::2])]
        sink.write(json.dumps(found).encode() + b"\n")
        sink.flush()


if __name__ == "__main__":
    _serve()
