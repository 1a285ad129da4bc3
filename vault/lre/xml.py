"""A safe XML parse for evidence files: no DTD, no entities, no network, bounded size and depth.

Private to the evidence parsers (``rem``, ``erds``) until it is reconciled with
``vault.validation.xades.parse_xml_safely``. Any document carrying a DOCTYPE is refused outright, so that
no entity (internal: "billion laughs"; external: ``file:///etc/passwd``) is ever declared, let alone expanded.
"""

from __future__ import annotations

import io
from itertools import islice

from lxml import etree

MAX_XML_BYTES = 16 * 1024 * 1024
MAX_XML_DEPTH = 256
MAX_CHILDREN = 1000  # children of one element looked at (an evidence has a few dozen)
MAX_VISITED = 100_000  # elements one search visits
MAX_TEXT_CHARS = 65_536  # characters of one element's text gathered

_DOCTYPE_MARKERS = tuple(token.encode(codec) for token in ("<!DOCTYPE", "<!ENTITY")
                         for codec in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_pis=True, collect_ids=False)


def _libxml2_limits_depth() -> bool:
    """Whether libxml2 itself refuses documents deeper than MAX_XML_DEPTH (it does without XML_PARSE_HUGE)."""
    deep = MAX_XML_DEPTH + 1
    try:
        etree.fromstring(b"<a>" * deep + b"</a>" * deep, _parser())
    except etree.XMLSyntaxError:
        return True
    return False


_NATIVE_DEPTH_LIMIT = _libxml2_limits_depth()


def _check_depth(data: bytes) -> None:
    """The depth check in Python, for a libxml2 that would not make it (slower: one event per element)."""
    depth = 0
    for event, _element in etree.iterparse(io.BytesIO(data), events=("start", "end"), resolve_entities=False,
                                           no_network=True, load_dtd=False, huge_tree=False):
        depth += 1 if event == "start" else -1
        if depth > MAX_XML_DEPTH:
            raise ValueError(f"XML nested deeper than {MAX_XML_DEPTH} levels")


def parse_evidence_xml(data: bytes) -> etree._Element:
    """The root element of ``data``; raises :class:`ValueError` on malformed, oversized or unsafe XML."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError("XML must be bytes")
    data = bytes(data)
    if len(data) > MAX_XML_BYTES:
        raise ValueError(f"XML is {len(data)} bytes, over the {MAX_XML_BYTES}-byte limit")
    if any(marker in data for marker in _DOCTYPE_MARKERS):
        raise ValueError("XML with a DOCTYPE or entity declaration is refused")
    try:
        if not _NATIVE_DEPTH_LIMIT:
            _check_depth(data)
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, etree.ParserError) as exc:  # includes libxml2's "Excessive depth"
        raise ValueError(f"malformed XML: {exc}") from None
    except (LookupError, UnicodeError, MemoryError, RecursionError) as exc:  # unknown encoding, bad bytes
        raise ValueError(f"unreadable XML: {exc}") from None
    if root is None:
        raise ValueError("no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ValueError("XML with a DOCTYPE is refused")
    return root


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
