"""REM evidences (ETSI TS 102 640-2, namespace ``http://uri.etsi.org/02640/v2#``): who sent what to whom, what
happened to it, and when.

A pure function over the evidence bytes, in the manner of :mod:`vault.lre.eml`: it never raises on odd input —
a field it cannot read is simply not returned — and each value comes with its source (e.g.
``rem evidence SenderMessageDetails/MessageIdentifierByREMMD``). The XML is parsed safely (no DTD, no entity,
no network, bounded size and depth) and read by local name, so that any prefix and any version of the
namespace (``v1#``, ``v2#``) is accepted. The root element names the kind of evidence and ``EventCode`` the
outcome; :mod:`vault.lre.events` maps the pair to our event type. The signature is not checked here.
"""

from __future__ import annotations

from vault.lre.eml import Extracted
from vault.lre.events import (REM_EVIDENCES, clean_address, clean_text, digest_entry, join_addresses,
                              last_segment, parse_time, rem_event_type)
from vault.lre.xml import child, children, find_first, local_name, namespace, read_evidence, text

SOURCE = "rem evidence"
REM_NAMESPACE = "http://uri.etsi.org/02640/"
MAX_IDENTIFIER = 256


def _is_evidence(element) -> bool:
    ns = namespace(element)
    return local_name(element) in REM_EVIDENCES and (not ns or ns.startswith(REM_NAMESPACE) or "02640" in ns)


def _find_evidence(root):
    return find_first(root, _is_evidence)  # the root, or an evidence wrapped in an envelope (SOAP, …)


def _address(details) -> str | None:
    """The first AttributedElectronicAddress (or ElectronicAddress) of an entity's details."""
    if details is None:
        return None
    for element in children(details, "AttributedElectronicAddress", "ElectronicAddress", "E-mail", "Email"):
        value = clean_address(text(element))
        if value:
            return value
    return None


def _fields(evidence) -> dict[str, Extracted]:
    found: dict[str, Extracted] = {}
    root = local_name(evidence)
    code_element = child(evidence, "EventCode")
    code = clean_text(text(code_element), 512) if code_element is not None else None
    if code:
        found["event_type"] = Extracted(rem_event_type(root, code), f"{SOURCE} {root}/EventCode")
        found["evidence_event"] = Extracted(f"{root}/{last_segment(code)}", f"{SOURCE} {root}/EventCode")
    else:
        found["event_type"] = Extracted(rem_event_type(root, None), f"{SOURCE} {root}")
        found["evidence_event"] = Extracted(root, f"{SOURCE} {root}")

    time_element = child(evidence, "EventTime")
    event_time = parse_time(text(time_element)) if time_element is not None else None
    if event_time is not None:
        found["event_time"] = Extracted(event_time, f"{SOURCE} EventTime")

    identifier = clean_text(text(child(evidence, "EvidenceIdentifier")), MAX_IDENTIFIER)
    if identifier:
        found["evidence_id"] = Extracted(identifier, f"{SOURCE} EvidenceIdentifier")

    sender = _address(child(evidence, "SenderDetails"))
    if sender:
        found["sender"] = Extracted(sender, f"{SOURCE} SenderDetails/AttributedElectronicAddress")
    recipients = child(evidence, "RecipientsDetails", "RecipientDetails")
    if recipients is not None:
        entities = children(recipients, "EntityDetails") or [recipients]
        addresses = [address for address in map(_address, entities[:64]) if address]
        recipient = join_addresses(addresses)
        if recipient:
            path = f"{local_name(recipients)}/EntityDetails" if local_name(entities[0]) == "EntityDetails" \
                else local_name(recipients)
            found["recipient"] = Extracted(recipient, f"{SOURCE} {path}/AttributedElectronicAddress")

    message = child(evidence, "SenderMessageDetails")
    if message is not None:
        for name in ("MessageIdentifierByREMMD", "UAMessageIdentifier"):
            value = clean_text(text(child(message, name)), MAX_IDENTIFIER)
            if value:
                found["message_id"] = Extracted(value, f"{SOURCE} SenderMessageDetails/{name}")
                break
        subject = clean_text(text(child(message, "MessageSubject")))
        if subject:
            found["subject"] = Extracted(subject, f"{SOURCE} SenderMessageDetails/MessageSubject")
        methods = children(message, "DigestMethod")
        values = children(message, "DigestValue")
        digests = []
        for method, value in zip(methods, values):
            entry = digest_entry(method.get("Algorithm") or text(method), text(value))
            if entry and entry not in digests:
                digests.append(entry)
        if digests:
            found["digests"] = Extracted(digests, f"{SOURCE} SenderMessageDetails/DigestMethod+DigestValue")
    return found


def rem_fields(data: bytes) -> dict[str, Extracted]:
    """``event_type``, ``evidence_event``, ``event_time``, ``evidence_id``, ``message_id``, ``sender``,
    ``recipient``, ``digests``, ``subject`` found in a REM evidence; {} when it is not one (or not XML)."""
    return read_evidence(data, _find_evidence, _fields)
