"""Generated blocks of the documents in docs/: the text between a begin and an end marker (HTML comments), read
to compare with what the code says and rewritten from it (the settings and access tables)."""

from __future__ import annotations


def block(text: str, begin: str, end: str) -> str:
    """The text between the markers, stripped."""
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[start:stop].strip()


def with_block(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with ``body`` between the markers in place of what was there."""
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + "\n" + body + "\n" + text[stop:]
