"""A safe XML parse for evidence files: no DTD, no entities, no network, bounded size and depth.

Built on the archive's one safe parser (:mod:`vault.safexml`). Any document carrying a DOCTYPE is refused
outright, so that no entity (internal: "billion laughs"; external: ``file:///etc/passwd``) is ever declared, let
alone expanded.
"""

from __future__ import annotations

from itertools import islice

from lxml import etree

from vault.safexml import parse_xml_safely

MAX_XML_BYTES = 16 * 1024 * 1024
MAX_CHILDREN = 1000  # children of one element looked at (an evidence has a few dozen)
MAX_VISITED = 100_000  # elements one search visits
MAX_TEXT_CHARS = 65_536  # characters of one element's text gathered

_DOCTYPE_MARKERS = tuple(token.encode(codec) for token in ("<!DOCTYPE", "<!ENTITY")
                         for codec in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"))


def parse_evidence_xml(data: bytes) -> etree._Element:
    """The root element of ``data``; raises :class:`ValueError` on malformed, oversized or unsafe XML.

    :func:`vault.safexml.parse_xml_safely` with the evidence parsers' tighter limits: 16 MiB, and a DOCTYPE or
    ENTITY marker anywhere in the bytes (any UTF encoding) refuses the file before any parsing.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError("XML must be bytes")
    data = bytes(data)
    if len(data) > MAX_XML_BYTES:
        raise ValueError(f"XML is {len(data)} bytes, over the {MAX_XML_BYTES}-byte limit")
    if any(marker in data for marker in _DOCTYPE_MARKERS):
        raise ValueError("XML with a DOCTYPE or entity declaration is refused")
    try:
        return parse_xml_safely(data)
    except (LookupError, UnicodeError, MemoryError, RecursionError) as exc:  # unknown encoding, bad bytes
        raise ValueError(f"unreadable XML: {exc}") from None


def read_evidence(data: bytes, find, fields) -> dict:
    """``fields(evidence)`` for the evidence element ``find(root)`` locates; {} when the bytes are not XML, not
    safe, hold no such evidence, or are merely odd — an evidence parser never raises."""
    try:
        root = parse_evidence_xml(data)
        evidence = find(root)
        return fields(evidence) if evidence is not None else {}
    except Exception:  # noqa: BLE001 — unsafe, malformed or odd XML: nothing is extracted
        return {}


# --- navigation by local name: evidence files use any prefix, and namespace versions vary -----------------

XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"


def local_name(element) -> str:
    """The local name of an element; "" for comments and processing instructions."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[1] if tag.startswith("{") else tag


def namespace(element) -> str:
    tag = element.tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def children(element, *names: str) -> list:
    """Child elements (among the first MAX_CHILDREN) whose local name is one of ``names`` (any when none)."""
    if element is None:
        return []
    found = []
    for item in islice(element, MAX_CHILDREN):
        name = local_name(item)
        if name and (not names or name in names):
            found.append(item)
    return found


def child(element, *names: str):
    """The first child named one of ``names``, the names in order of preference."""
    first: dict[str, object] = {}
    for item in children(element, *names):
        first.setdefault(local_name(item), item)
    return next((first[name] for name in names if name in first), None)


def descendants(element, *names: str, skip_signatures: bool = True):
    """Descendant elements named ``names``, outside ds:Signature (whose digests are not the message's)."""
    stack = list(reversed(children(element)))
    visited = 0
    while stack and visited < MAX_VISITED:
        current = stack.pop()
        visited += 1
        if skip_signatures and namespace(current) == XMLDSIG_NS and local_name(current) == "Signature":
            continue
        if local_name(current) in names:
            yield current
        stack.extend(reversed(children(current)))


def find_first(root, accept):
    """The first element (document order, root included, at most MAX_VISITED) for which ``accept`` holds."""
    for element in islice(root.iter(), MAX_VISITED):
        if accept(element):
            return element
    return None


def text(element) -> str:
    """The element's text content, cut after MAX_TEXT_CHARS (callers then refuse it as too long)."""
    if element is None:
        return ""
    parts, size = [], 0
    for piece in element.itertext():
        parts.append(piece)
        size += len(piece)
        if size > MAX_TEXT_CHARS:
            break
    return "".join(parts)
