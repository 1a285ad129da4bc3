"""The media type a file is declared with: from its name (IANA types through :mod:`mimetypes`), else its first
bytes; ``application/octet-stream`` when neither says. Deterministic, so a retried deposit declares the same."""

from __future__ import annotations

import mimetypes
from pathlib import Path

OCTET_STREAM = "application/octet-stream"
_EXTRA = {".eml": "message/rfc822", ".ers": "application/vnd.vault.ers", ".p7s": "application/pkcs7-signature",
          ".tsr": "application/timestamp-reply", ".jsonl": "application/jsonl"}
_MAGIC = ((b"%PDF-", "application/pdf"), (b"<?xml", "application/xml"), (b"PK\x03\x04", "application/zip"),
          (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


def guess_media_type(path: Path | str, head: bytes | None = None) -> str:
    """The media type to declare for ``path``; ``head`` (its first bytes) is read when the name says nothing."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _EXTRA:
        return _EXTRA[suffix]
    guessed, _ = mimetypes.guess_type(path.name, strict=False)
    if guessed:
        return guessed
    if head is None:
        try:
            with path.open("rb") as handle:
                head = handle.read(16)
        except OSError:
            return OCTET_STREAM
    return next((media for magic, media in _MAGIC if head.startswith(magic)), OCTET_STREAM)
