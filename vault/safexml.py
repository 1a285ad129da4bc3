"""Safe XML: the one parser of the archive for every XML proof (XAdES / XMLDSig signatures, ETSI TS 102 640 REM
and ETSI EN 319 522 ERDS evidences).

A document type declaration is refused outright, which rules out internal-entity expansion ("billion laughs") and
external entities (``SYSTEM "file:///etc/passwd"``) together; the parser is also configured so that nothing would
be loaded or substituted even if a declaration slipped through (W3C XML Signature 1.1 §8, "Security
considerations"; the OWASP XXE guidance).
"""

from __future__ import annotations

import codecs

from lxml import etree

MAX_XML_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 256  # libxml2's own limit without XML_PARSE_HUGE; checked again below so the limit is ours
_PROLOG_SCAN = 1024 * 1024


def new_safe_parser() -> etree.XMLParser:
    """A fresh hardened lxml parser (parsers keep state: make one per use, never share one between threads)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           attribute_defaults=False, huge_tree=False, remove_comments=False, remove_pis=False,
                           strip_cdata=False, collect_ids=False)


def parse_xml_safely(data: bytes) -> "etree._Element":
    """Parse ``data`` as XML and return the root element; raise ``ValueError`` with a clear message when the
    bytes are too large, nested deeper than :data:`MAX_DEPTH`, carry a DOCTYPE, or are not well-formed XML."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"XML must be given as bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_XML_BYTES:
        raise ValueError(f"XML larger than {MAX_XML_BYTES} bytes is refused ({len(data)} bytes)")
    if not data.strip():
        raise ValueError("not XML: the file is empty")
    if _declares_doctype(data):
        raise ValueError("XML with a DTD is refused: the document has a <!DOCTYPE> declaration "
                         "(entities could expand or fetch external files)")
    try:
        root = etree.fromstring(data, parser=new_safe_parser())
    except etree.XMLSyntaxError as exc:
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if "depth" in message.lower():
            raise ValueError(f"XML nested deeper than {MAX_DEPTH} levels is refused ({message})") from None
        raise ValueError(f"not well-formed XML: {message}") from None
    except (ValueError, TypeError, etree.LxmlError) as exc:
        raise ValueError(f"not well-formed XML: {type(exc).__name__}: {str(exc)[:200]}") from None
    if root is None:
        raise ValueError("not well-formed XML: no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ValueError("XML with a DTD is refused: the document has a <!DOCTYPE> declaration")
    if next(root.iter(etree.Entity), None) is not None:
        raise ValueError("XML with a DTD is refused: the document uses an entity reference")
    depth = _depth(root) if not _NATIVE_DEPTH_LIMIT else 0
    if depth > MAX_DEPTH:
        raise ValueError(f"XML nested deeper than {MAX_DEPTH} levels is refused ({depth} levels)")
    return root


def _declares_doctype(data: bytes) -> bool:
    """Whether the prolog holds a DOCTYPE, looked for before any parsing (the parse would refuse it anyway)."""
    head = data[:_PROLOG_SCAN]
    encoding = "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif head[:2] == b"<\x00":
        encoding = "utf-16-le"
    elif head[:2] == b"\x00<":
        encoding = "utf-16-be"
    text = head.decode(encoding, errors="replace")
    # Before the root element only the XML declaration, comments, processing instructions and white space come.
    position = 1 if text.startswith("\ufeff") else 0
    while position < len(text):
        if text[position].isspace():
            position += 1
        elif text.startswith("<?", position) or text.startswith("<!--", position):
            terminator = "?>" if text[position + 1] == "?" else "-->"
            end = text.find(terminator, position + 2)
            if end < 0:
                return False
            position = end + len(terminator)
        else:
            return text.startswith("<!DOCTYPE", position)
    return False


def _depth(root: "etree._Element") -> int:
    deepest, depth = 0, 0
    for event, _element in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


def _libxml2_limits_depth() -> bool:
    """Whether libxml2 itself refuses documents deeper than MAX_DEPTH (it does without XML_PARSE_HUGE); then the
    walk over every element in :func:`_depth` is not needed (it costs seconds on a flat 16 MiB document)."""
    deep = MAX_DEPTH + 1
    try:
        etree.fromstring(b"<a>" * deep + b"</a>" * deep, new_safe_parser())
    except etree.XMLSyntaxError:
        return True
    return False


_NATIVE_DEPTH_LIMIT = _libxml2_limits_depth()
