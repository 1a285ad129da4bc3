"""Minimal DER framing (X.690 §8.1.3, §10.1) for hashing structures assembled from already-encoded parts."""

from __future__ import annotations


def der_length(n: int) -> bytes:
    """Definite-length octets in the shortest form, as DER requires (X.690 §10.1)."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_sequence(contents: bytes) -> bytes:
    """A universal constructed SEQUENCE (tag 0x30) around already DER-encoded ``contents``."""
    return b"\x30" + der_length(len(contents)) + contents
