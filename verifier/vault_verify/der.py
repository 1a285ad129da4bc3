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


def der_framing_error(data: bytes) -> str | None:
    """Why ``data`` is not DER-framed (X.690 §10.1, §10.2), or None: one TLV, definite minimal lengths,
    primitive strings, recursively. Value-level rules (SET OF order, BOOLEAN form) are left to the parser.
    """
    try:
        end = _walk(data, 0, len(data), depth=0)
    except _NotDer as exc:
        return str(exc)
    return None if end == len(data) else "trailing bytes after the encoding"


class _NotDer(Exception):
    pass


_STRING_TAGS = {0x03, 0x04, 0x0C, 0x13, 0x16, 0x1A, 0x1E}  # BIT, OCTET, UTF8, Printable, IA5, Visible, BMP


def _walk(data: bytes, pos: int, limit: int, depth: int) -> int:
    if depth > 64:
        raise _NotDer("nesting too deep")
    if pos + 2 > limit:
        raise _NotDer("truncated encoding")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise _NotDer("high tag numbers are not used here")
    first = data[pos + 1]
    pos += 2
    if first == 0x80:
        raise _NotDer("indefinite length (BER, not DER)")
    if first & 0x80:
        count = first & 0x7F
        if pos + count > limit or count == 0 or data[pos] == 0:
            raise _NotDer("length octets not in the shortest form")
        length = int.from_bytes(data[pos:pos + count], "big")
        if length < 0x80:
            raise _NotDer("long-form length for a short value")
        pos += count
    else:
        length = first
    end = pos + length
    if end > limit:
        raise _NotDer("length runs past the end")
    if tag & 0x20:
        if tag & 0xC0 == 0 and (tag & 0x1F) in _STRING_TAGS:
            raise _NotDer("constructed string (BER, not DER)")
        while pos < end:
            pos = _walk(data, pos, end, depth + 1)
    return end
