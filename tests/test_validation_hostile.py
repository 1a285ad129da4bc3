"""Deep ASN.1 where a validator expects a timestamp token or a CMS signature: a verdict, quickly, never a crash."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest

from tests.conftest import SHARED_VECTORS
from vault.validation import dispatch
from vault.validation.trust import TrustAnchors, ValidationContext
from vault.validation.verdicts import INDETERMINATE, INVALID

CTX = ValidationContext(TrustAnchors(), datetime(2026, 11, 1, tzinfo=timezone.utc))
PDF = SHARED_VECTORS / "signatures" / "pades" / "pyhanko" / "sig-with-ski-sid.pdf"


def nested(depth: int, indefinite: bool = False) -> bytes:
    """``depth`` SEQUENCEs inside each other (definite lengths, or BER indefinite ones)."""
    if indefinite:
        return b"\x30\x80" * depth + b"\x00\x00" * depth
    inner = b""
    for _ in range(depth):
        size = len(inner)
        length = bytes([size]) if size < 128 else bytes([0x80 | ((size.bit_length() + 7) // 8)]) + size.to_bytes(
            (size.bit_length() + 7) // 8, "big")
        inner = b"\x30" + length + inner
    return inner


@pytest.mark.parametrize("depth,indefinite", [(200, False), (5000, False), (50_000, True)])
def test_deep_asn1_as_a_timestamp(depth, indefinite):
    data = nested(depth, indefinite)
    start = time.perf_counter()
    result = dispatch.validate(data, dispatch.family(None, "application/timestamp-reply", "x.tsr", data), CTX)
    assert time.perf_counter() - start < 5
    [verdict] = result.verdicts
    assert verdict.kind == "rfc3161" and verdict.verdict == INDETERMINATE and verdict.reason


@pytest.mark.parametrize("indefinite", [False, True])
def test_deep_asn1_as_a_pdf_signature(indefinite):
    """The CMS blob of a real signed PDF replaced by nesting as deep as fits, same length: it cannot be read."""
    original = PDF.read_bytes()
    match = re.search(rb"/Contents\s*<([0-9A-Fa-f]+)>", original)
    room = len(match.group(1)) // 2
    depth = room // 4 if indefinite else room // 5  # bytes per level: 4 (BER), at most 5 (DER, 3-byte lengths)
    assert depth > 500
    blob = nested(depth, indefinite).hex().encode()
    data = original[:match.start(1)] + blob.ljust(len(match.group(1)), b"0") + original[match.end(1):]
    start = time.perf_counter()
    result = dispatch.validate(data, "pdf", CTX)
    assert time.perf_counter() - start < 10
    assert result.verdicts and all(v.verdict in (INDETERMINATE, INVALID) and v.reason for v in result.verdicts)
