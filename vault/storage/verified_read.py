"""Content read through a digest check: bytes that differ from the recorded SHA-256 are never answered as genuine.

The stores are tried in order (the local primary first). A blob of at most ``buffer_limit`` bytes is read whole and
hashed before anything is answered, so a corrupt or missing copy is passed over for the next store. A larger one
is streamed from the first store that opens, hashed on the way, with its last chunk held back until the digest
and size are known: on a mismatch the stream ends short of its ``Content-Length`` (the client sees a broken
transfer, never a complete body under the recorded ``Repr-Digest``, RFC 9530 §2). Every copy looked at is reported
as a :class:`~vault.storage.fixity.Finding`, good or bad, through ``report``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from vault.crypto.digests import Digests
from vault.storage.blobstore import BlobNotFound
from vault.storage.fixity import COPY_CORRUPT, Finding

Report = Callable[[list[Finding]], None]


class ContentUnavailable(Exception):
    """No store gave bytes matching the recorded digests."""

    def __init__(self, sha256: str, findings: list[Finding], unreachable: list[str]):
        self.sha256, self.findings, self.unreachable = sha256, findings, unreachable
        self.corrupt = any(f.kind == COPY_CORRUPT for f in findings)
        parts = [f"{f.store}: {f.kind}" for f in findings] + unreachable
        super().__init__(f"no good copy of {sha256[:16]}… could be read ({'; '.join(parts) or 'no store'})")


class StreamAborted(Exception):
    """A streamed copy turned out not to match its digests after the headers went out."""


@dataclass
class VerifiedContent:
    store: str
    chunks: Iterator[bytes]
    passed_over: list[Finding] = field(default_factory=list)


def open_verified(stores: Sequence[Any], digests: Digests, object_id: str, buffer_limit: int,
                  report: Report) -> VerifiedContent:
    """The content of the first store whose bytes match ``digests``; raises :class:`ContentUnavailable`."""
    findings: list[Finding] = []
    unreachable: list[str] = []
    for store in stores:
        try:
            chunks = store.read(digests.sha256)
            if digests.size > buffer_limit:
                report(findings)
                return VerifiedContent(store.name, _checked(chunks, digests, store.name, object_id, report), findings)
            data = _read_at_most(chunks, digests.size + 1)
        except (BlobNotFound, FileNotFoundError):
            findings.append(Finding.of(digests.sha256, store.name, object_id, None))
            continue
        except Exception as exc:  # a store down is what the other copies are for; it proves nothing about bytes
            unreachable.append(f"{store.name}: {exc.__class__.__name__}")
            continue
        digest = hashlib.sha256(data).hexdigest() if len(data) == digests.size else "size differs"
        findings.append(Finding.of(digests.sha256, store.name, object_id, digest))
        if digest == digests.sha256:
            report(findings)
            return VerifiedContent(store.name, iter((data,)) if data else iter(()), findings[:-1])
    report(findings)
    raise ContentUnavailable(digests.sha256, findings, unreachable)


def _read_at_most(chunks: Iterator[bytes], limit: int) -> bytes:
    out, size = [], 0
    try:
        for chunk in chunks:
            out.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    finally:
        getattr(chunks, "close", lambda: None)()
    return b"".join(out)


def _checked(chunks: Iterator[bytes], digests: Digests, store: str, object_id: str, report: Report) -> Iterator[bytes]:
    """``chunks`` passed on one behind, the last one only once size and SHA-256 are found equal to the record."""
    digest, size, held = hashlib.sha256(), 0, b""
    try:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            if size > digests.size:
                break
            if held:
                yield held
            held = chunk
    finally:
        getattr(chunks, "close", lambda: None)()
    seen = digest.hexdigest() if size == digests.size else "size differs"
    report([Finding.of(digests.sha256, store, object_id, seen)])
    if seen != digests.sha256:
        raise StreamAborted(f"object {object_id}: the copy on {store} does not match its recorded SHA-256; "
                            "the transfer was cut before its last bytes")
    if held:
        yield held
