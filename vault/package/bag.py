"""A BagIt bag (RFC 8493, BagIt 1.0) written as one streamed ZIP: nothing is held in memory but the file being
added, chunk by chunk, and the manifests.

Layout (RFC 8493 §2): ``<name>/bagit.txt``, ``<name>/bag-info.txt``, the payload under ``<name>/data/``,
``manifest-sha256.txt`` and ``manifest-sha512.txt`` (every payload file), ``tagmanifest-sha256.txt`` and
``tagmanifest-sha512.txt`` (every tag file). Payload paths are percent-encoded per §2.1.3 only where CR, LF or
``%`` appear (our own names never carry them). Content is stored uncompressed (proofs are often compressed
already, and a verifier in 2040 should need nothing fancy); tag and metadata files are deflated.

The ZIP is written to any object with ``write`` (a socket, a file, a :class:`Chunks` buffer for HTTP streaming);
sizes over 2 GiB use ZIP64.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator

BAGIT_VERSION = "1.0"
ALGORITHMS = ("sha256", "sha512")
ZIP64_LIMIT = (1 << 31) - 1


class Chunks:
    """A write-only sink that hands back what was written since the last :meth:`drain` (for streaming)."""

    def __init__(self):
        self._parts: list[bytes] = []
        self._offset = 0
        self._held = 0

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self._offset += len(data)
        self._held += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        pass

    def drain(self, minimum: int = 0) -> Iterator[bytes]:
        """What was written since the last drain, as one piece — once it holds at least ``minimum`` bytes (a
        streamed response pays per piece: small objects are handed out together)."""
        if self._parts and self._held >= minimum:
            parts, self._parts, self._held = self._parts, [], 0
            yield b"".join(parts)


@dataclass(frozen=True)
class PayloadFile:
    path: str  # relative to data/
    size: int
    sha256: str
    sha512: str


def encode_path(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and ``%`` in a manifest path are percent-encoded."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


class BagWriter:
    def __init__(self, sink, name: str, info: dict[str, str], created: datetime):
        if not name or "/" in name:
            raise ValueError("a bag name is one path segment")
        self.name = name
        self._zip = zipfile.ZipFile(sink, "w", allowZip64=True)
        self._info = dict(info)
        self._created = created
        self.payload: list[PayloadFile] = []
        self._tags: dict[str, dict[str, str]] = {}

    def _timestamp(self) -> tuple:
        at = self._created
        return (at.year, at.month, at.day, at.hour, at.minute, at.second)

    def _entry(self, path: str, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(f"{self.name}/{path}", self._timestamp())
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def add_iter(self, path: str, chunks: Iterable[bytes], size_hint: int | None = None,
                 compress: bool = False) -> Iterator[None]:
        """Add ``data/<path>`` from ``chunks``, pausing after each chunk (the caller drains its sink then)."""
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"payload path {path!r} must stay inside data/")
        digests = {a: hashlib.new(a) for a in ALGORITHMS}
        size = 0
        with self._zip.open(self._entry(f"data/{path}", compress), "w",
                            force_zip64=size_hint is None or size_hint > ZIP64_LIMIT) as out:
            for chunk in chunks:
                for digest in digests.values():
                    digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
                yield
        self.payload.append(PayloadFile(path, size, digests["sha256"].hexdigest(), digests["sha512"].hexdigest()))

    def add(self, path: str, chunks: Iterable[bytes], size_hint: int | None = None,
            compress: bool = False) -> PayloadFile:
        """Add ``data/<path>`` from ``chunks``; returns its digests (recorded for the payload manifests)."""
        for _ in self.add_iter(path, chunks, size_hint, compress):
            pass
        return self.payload[-1]

    def add_bytes(self, path: str, data: bytes, compress: bool = True) -> PayloadFile:
        return self.add(path, [data], len(data), compress)

    def _tag(self, path: str, data: bytes) -> None:
        self._zip.writestr(self._entry(path, True), data)
        self._tags[path] = {a: hashlib.new(a, data).hexdigest() for a in ALGORITHMS}

    def close(self) -> None:
        """Write bagit.txt, bag-info.txt and the manifests, then the ZIP's central directory."""
        self._tag("bagit.txt", f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n".encode())
        total = sum(f.size for f in self.payload)
        info = {**self._info, "Bagging-Date": self._created.date().isoformat(),
                "Payload-Oxum": f"{total}.{len(self.payload)}"}
        lines = "".join(f"{key}: {' '.join(str(value).split())}\n" for key, value in info.items())
        self._tag("bag-info.txt", lines.encode("utf-8"))
        for algorithm in ALGORITHMS:
            manifest = "".join(f"{getattr(f, algorithm)}  data/{encode_path(f.path)}\n" for f in self.payload)
            self._tag(f"manifest-{algorithm}.txt", manifest.encode("utf-8"))
        tags = dict(self._tags)
        for algorithm in ALGORITHMS:
            listing = "".join(f"{digests[algorithm]}  {path}\n" for path, digests in tags.items())
            self._zip.writestr(self._entry(f"tagmanifest-{algorithm}.txt", True), listing.encode("utf-8"))
        self._zip.close()
