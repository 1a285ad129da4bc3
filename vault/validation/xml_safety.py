"""What an XML signature may make us dereference and transform; proofs are parsed by :mod:`vault.safexml`.

:class:`SignatureVerifier` is signxml's verifier restricted as the parser is: no external URI is fetched, only a
fixed set of transforms runs (never document-supplied XPath or XSLT), and each Reference's node must be where
XMLDSig and XAdES put it, the defence against XML Signature Wrapping (W3C XML Signature Best Practices:
"see what is signed").
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from signxml import XMLVerifier
from signxml.exceptions import InvalidDigest, InvalidInput

from vault.safexml import MAX_DEPTH, MAX_XML_BYTES, new_safe_parser, parse_xml_safely  # noqa: F401


# --- What a signature may make us dereference and transform (W3C XMLDSig 1.1 §4.4.3) -----------------------------

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES_NAMESPACES = (XADES, "http://uri.etsi.org/01903/v1.4.1#")
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XPATH_FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
ENVELOPED = DS + "enveloped-signature"
C14N = {
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": (False, False),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": (False, True),
    "http://www.w3.org/2006/12/xml-c14n11": (False, False),
    "http://www.w3.org/2006/12/xml-c14n11#WithComments": (False, True),
    "http://www.w3.org/2001/10/xml-exc-c14n#": (True, False),
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": (True, True),
}
TRANSFORMS = {ENVELOPED, DS + "base64", XPATH, XPATH_FILTER2, *C14N}
COUNTERSIGNED = "http://uri.etsi.org/01903#CountersignedSignature"  # EN 319 132-1 §5.2.7.2
_SIGNATURE = f"{{{DS}}}Signature"
_OBJECT = f"{{{DS}}}Object"


class MissingData(Exception):
    """A Reference points outside the file (a detached signature whose data was not supplied)."""


class Unsupported(ValueError):
    """A transform this archive does not run (XSLT, arbitrary XPath): the signed data cannot be computed."""


def prepare_transforms(payload, transforms_node):
    """Check a Reference's transforms and run the ones signxml does not: it silently skips unknown algorithms,
    which would digest the wrong data. XPath (XMLDSig 1.1 §6.6.3) and XPath Filter 2.0 are run only in their
    ubiquitous "leave out every ds:Signature" forms, which need no XPath evaluation of document-supplied
    expressions (no denial of service); anything else is :class:`Unsupported`. Same-document references lose
    their comments (XMLDSig 1.1 §4.4.3.3), whatever canonicalization follows."""
    steps = [] if transforms_node is None else transforms_node.findall(f"{{{DS}}}Transform")
    drop_signatures = False
    for step in steps:
        algorithm = step.get("Algorithm")
        if algorithm not in TRANSFORMS:
            raise Unsupported(f"the transform {algorithm!r} is not supported")
        if algorithm == XPATH:
            expressions = [(x, None) for x in step.findall(f"{{{DS}}}XPath")]
        elif algorithm == XPATH_FILTER2:
            expressions = [(x, x.get("Filter")) for x in step.findall(f"{{{XPATH_FILTER2}}}XPath")]
        else:
            continue
        if len(expressions) != 1 or not _leaves_out_signatures(*expressions[0]):
            raise Unsupported("only XPath transforms that leave out ds:Signature elements are supported")
        drop_signatures = True
    if isinstance(payload, etree._Element):
        etree.strip_tags(payload, etree.Comment)
        if drop_signatures:
            if payload.tag == _SIGNATURE or any(a.tag == _SIGNATURE for a in payload.iterancestors()):
                raise Unsupported("an XPath transform leaves nothing of data inside a signature")
            for signature in list(payload.iter(_SIGNATURE)):
                remove_keeping_tail(signature)
    elif drop_signatures:
        raise Unsupported("an XPath transform needs XML input")
    return payload


def _leaves_out_signatures(element, filter_type: str | None) -> bool:
    expression = "".join((element.text or "").split())
    prefixes = [p for p, uri in element.nsmap.items() if uri == DS and p]
    if filter_type is None:  # XPath 1.0 transform: keep the nodes for which the expression is true
        return any(expression == f"not(ancestor-or-self::{p}:Signature)" for p in prefixes)
    return filter_type == "subtract" and any(expression in (f"/descendant::{p}:Signature", f"//{p}:Signature")
                                             for p in prefixes)


def remove_keeping_tail(element) -> None:
    """Remove an element but keep the text that follows it (what the enveloped-signature transform does)."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def placement_problem(node, signature) -> str | None:
    """Where a Reference's node must be (XML Signature Wrapping defence): a ds:Object that is a child of this
    signature (XMLDSig 1.1 §4.6), XAdES SignedProperties inside QualifyingProperties in one of those (EN 319 132-1
    clause 4, incorporation of qualifying properties). None when the node is where it belongs."""
    if node.tag == _OBJECT and node.getparent() is not signature:
        return "a ds:Object that is not a child of this signature"
    if node.tag == f"{{{XADES}}}SignedProperties":
        qualifying = node.getparent()
        holder = qualifying.getparent() if qualifying is not None else None
        if (qualifying is None or qualifying.tag not in {f"{{{ns}}}QualifyingProperties" for ns in XADES_NAMESPACES}
                or holder is None or holder.tag != _OBJECT or holder.getparent() is not signature):
            return "SignedProperties that are not in this signature's QualifyingProperties"
    return None


def countersignature_problem(node, signature) -> str | None:
    """A XAdES counter-signature's CountersignedSignature reference must resolve to the ds:SignatureValue of the
    signature it sits in (EN 319 132-1 §5.2.7.2); None when it does."""
    countersigned = next((a for a in signature.iterancestors(_SIGNATURE)), None)
    if countersigned is None:
        return "a CountersignedSignature reference outside any countersigned signature"
    if node.tag != f"{{{DS}}}SignatureValue" or node.getparent() is not countersigned:
        return "an element other than the countersigned signature's SignatureValue"
    return None


def canonicalize(element, algorithm: str) -> bytes:
    """An element canonicalized in its document context (for timestamps over ds:SignatureValue)."""
    if algorithm not in C14N:
        raise Unsupported(f"the canonicalization {algorithm!r} is not supported")
    exclusive, comments = C14N[algorithm]
    if element.getparent() is not None:  # see SignatureVerifier._c14n: canonicalize a standalone copy
        element = etree.fromstring(etree.tostring(element, with_tail=False), parser=new_safe_parser())
    return etree.tostring(element, method="c14n", exclusive=exclusive, with_comments=comments)


class SignatureVerifier(XMLVerifier):
    """signxml's verifier (W3C XMLDSig 1.1 §3.2 core validation), checking the ``index``-th ``ds:Signature`` of
    the document and keeping each Reference's outcome in :attr:`outcomes` instead of stopping at the first one:
    ``uri``, ``type``, ``result``, the tag of the node it resolved to, wrapping problems, and ``signed`` (signxml's
    VerifyResult: the signed data, the only thing callers may read). It overrides protected methods of
    signxml 5 (``_get_signature``, ``_resolve_reference``, ``_apply_transforms``, ``_verify_reference``,
    ``_c14n``, ``_tostring``): re-check them when signxml changes major version."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index
        self.outcomes: list[dict[str, Any]] = []
        self._current: dict[str, Any] = {}

    def _get_signature(self, root):
        for number, element in enumerate(root.iter(_SIGNATURE)):
            if number == self.index:
                return element
        raise InvalidInput("the signature is no longer in the document")

    def _tostring(self, xml_node, **kwargs):
        # signxml copies elements through tostring/fromstring; text after an element is not part of it
        return super()._tostring(xml_node, **{"with_tail": False, **kwargs})

    def _c14n(self, nodes, algorithm, inclusive_ns_prefixes=None):
        # lxml 6.1 on libxml2 2.14 writes xmlns="" on the grandchildren of a non-root element canonicalized
        # inclusively when they inherit a default namespace declared above it (e.g. SignedInfo in
        # <Signature xmlns="...xmldsig#">); a standalone copy carries every in-scope declaration and is exact.
        nodes = [self._fromstring(self._tostring(n)) if isinstance(n, etree._Element) and n.getparent() is not None
                 else n for n in (nodes if isinstance(nodes, list) else [nodes])]
        return super()._c14n(nodes, algorithm, inclusive_ns_prefixes=inclusive_ns_prefixes)

    @staticmethod
    def external(uri: str):
        raise MissingData(uri)

    def _resolve_reference(self, doc_root, reference, uri_resolver=None):
        node = super()._resolve_reference(doc_root, reference, uri_resolver=uri_resolver)
        if isinstance(node, etree._Element):
            self._current["node"] = node.tag
            signature = self._get_signature(doc_root)
            self._current["misplaced"] = placement_problem(node, signature)
            if reference.get("Type") == COUNTERSIGNED:
                self._current["not_countersigned"] = countersignature_problem(node, signature)
        return node

    def _apply_transforms(self, payload, *, transforms_node, signature):
        payload = prepare_transforms(payload, transforms_node)
        return super()._apply_transforms(payload, transforms_node=transforms_node, signature=signature)

    def _verify_reference(self, reference, index, root, uri_resolver, c14n_algorithm, signature, key):
        self._current = outcome = {"uri": reference.get("URI"), "type": reference.get("Type")}
        result = None
        try:
            result = super()._verify_reference(reference, index, root, uri_resolver, c14n_algorithm, signature, key)
            outcome["result"], outcome["signed"] = "passed", result
        except InvalidDigest:
            outcome["result"] = "digest mismatch"
        except MissingData:
            outcome["result"] = "data not in the file"
        except (Unsupported, InvalidInput, ValueError, TypeError, etree.LxmlError) as exc:
            outcome["result"], outcome["detail"] = "not resolved", str(exc)[:300]
        self.outcomes.append(outcome)
        return result
