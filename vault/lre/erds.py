"""ERDS evidences (ETSI EN 319 522, namespace ``http://uri.etsi.org/19522/v1#``): the event an electronic
registered delivery service attests, with its time, parties, message and content digests.

A pure function over the evidence bytes, in the manner of :mod:`vault.lre.eml` and :mod:`vault.lre.rem`: it
never raises on odd input, a field it cannot read is not returned, and each value carries its source (e.g.
``erds evidence ERDSEventId``). No public sample of this format could be found; the reading follows the
standard's structure as published implementations show it — root ``Evidence`` (or ``ERDSEvidence``) holding
``EvidenceIdentifier``, ``ERDSEventId`` (a URI such as ``http://uri.etsi.org/19522/Event/ContentHandover``),
``EventReasons``, ``EventTime``, ``SenderDetails`` / ``RecipientDetails`` (``Identifier``, electronic address,
or SAML identity attributes), a message identifier and ``UserContentInfo`` (parts with ``DigestMethod`` /
``DigestValue``) — and is deliberately lenient: elements are found by local name whatever their prefix or
namespace version, and ``EventType`` / ``EventId`` / ``Event`` / ``EventCode`` are read as the event when
``ERDSEventId`` is absent. The event mapping is in :mod:`vault.lre.events`. The signature is not checked here.
"""

from __future__ import annotations

from itertools import islice

from vault.lre.eml import Extracted
from vault.lre.events import (clean_address, clean_text, digest_entry, erds_event_type, join_addresses,
                              last_segment, parse_time)
from vault.lre.xml import (child, children, descendants, find_first, local_name, namespace, read_evidence,
                           text)

SOURCE = "erds evidence"
ERDS_NAMESPACE = "http://uri.etsi.org/19522/"
ROOTS = ("Evidence", "ERDSEvidence")
MAX_IDENTIFIER = 256
MAX_PARTS = 1000

EVENT_ELEMENTS = ("ERDSEventId", "ERDSEventID", "EventId", "EventID", "EventType", "Event", "EventCode")
ADDRESS_ELEMENTS = ("ElectronicAddress", "AttributedElectronicAddress", "EmailAddress", "EMailAddress",
                    "Email", "E-mail", "EMail", "Mail", "Identifier", "ERDSIdentifier", "UserIdentifier",
                    "ERDSUserIdentifier", "ParticipantIdentifier")
MAIL_ATTRIBUTES = {"mail", "email", "e-mail", "emailaddress", "urn:oid:0.9.2342.19200300.100.1.3"}
MESSAGE_ID_ELEMENTS = ("MessageIdentifier", "ERDSMessageIdentifier", "ERDMessageIdentifier", "MessageID",
                       "MessageId", "MessageIdentifierByERDS", "MessageIdentifierByREMMD", "UAMessageIdentifier")
MESSAGE_CONTAINERS = ("UserContentInfo", "SenderMessageDetails", "MessageDetails", "ERDSMessageDetails")
SUBJECT_ELEMENTS = ("Subject", "MessageSubject")


def _is_evidence(element) -> bool:
    ns = namespace(element)
    name = local_name(element)
    if ns.startswith(ERDS_NAMESPACE) or "19522" in ns:
        return name in ROOTS
    return not ns and name == "ERDSEvidence"


def _find_evidence(root):
    return find_first(root, _is_evidence)  # the root, or an evidence wrapped in an envelope (SOAP, a list, …)


def _event(evidence) -> tuple[str, str] | None:
    """(event name, element name) from ERDSEventId or one of its aliases; a container's first text counts."""
    for name in EVENT_ELEMENTS:
        element = child(evidence, name)
        if element is None:
            continue
        for candidate in (c for c in islice(element.iter(), 64) if local_name(c)):
            value = clean_text(candidate.text or "", 512)
            if value and last_segment(value):
                return last_segment(value), name
    return None


def _party(details) -> tuple[str, str] | None:
    """(address, relative path) of a party: an e-mail address if one is given, else its first identifier."""
    if details is None:
        return None
    found: list[tuple[str, str]] = []
    for name in ADDRESS_ELEMENTS:
        for element in children(details, name):
            value = clean_address(text(element))
            if value:
                found.append((value, name))
    for attribute in descendants(details, "Attribute"):
        label = (attribute.get("FriendlyName") or attribute.get("Name") or "").strip().lower()
        if label in MAIL_ATTRIBUTES:
            for value_element in children(attribute, "AttributeValue"):
                value = clean_address(text(value_element))
                if value:
                    found.append((value, f"{local_name(attribute.getparent())}/Attribute[{label}]"))
    for value, path in found:
        if "@" in value:
            return value, path
    return found[0] if found else None


def _digests(evidence) -> tuple[list[dict[str, str]], str]:
    """Digests of the content: in UserContentInfo (or a message details block), never in the issuer's or
    parties' certificate references nor in the signature."""
    digests: list[dict[str, str]] = []
    containers = [c for c in (child(evidence, name) for name in MESSAGE_CONTAINERS) if c is not None]
    values = [v for container in containers for v in islice(descendants(container, "DigestValue"), MAX_PARTS)]
    values += children(evidence, "DigestValue")
    for value in values[:MAX_PARTS]:
        parent = value.getparent()
        method = child(parent, "DigestMethod") if parent is not None else None
        if method is None:
            continue
        entry = digest_entry(method.get("Algorithm") or text(method), text(value))
        if entry and entry not in digests:
            digests.append(entry)
    where = local_name(containers[0]) if containers else ""
    return digests, where


def _fields(evidence) -> dict[str, Extracted]:
    found: dict[str, Extracted] = {}
    event = _event(evidence)
    if event is not None:
        name, element = event
        reasons = " ".join(text(r) for r in children(evidence, "EventReasons", "EventReason"))[:4096]
        found["event_type"] = Extracted(erds_event_type(name, reasons), f"{SOURCE} {element}")
        found["evidence_event"] = Extracted(name, f"{SOURCE} {element}")

    time_element = child(evidence, "EventTime")
    event_time = parse_time(text(time_element)) if time_element is not None else None
    if event_time is not None:
        found["event_time"] = Extracted(event_time, f"{SOURCE} EventTime")

    identifier = clean_text(text(child(evidence, "EvidenceIdentifier", "EvidenceID", "EvidenceId")),
                            MAX_IDENTIFIER)
    if identifier:
        found["evidence_id"] = Extracted(identifier, f"{SOURCE} EvidenceIdentifier")

    sender = _party(child(evidence, "SenderDetails"))
    if sender:
        found["sender"] = Extracted(sender[0], f"{SOURCE} SenderDetails/{sender[1]}")
    recipients = children(evidence, "RecipientDetails", "RecipientsDetails")
    entities = [entity for details in recipients[:64]
                for entity in (children(details, "EntityDetails", "RecipientDetails") or [details])][:64]
    parties = [party for party in map(_party, entities) if party]
    recipient = join_addresses([address for address, _path in parties])
    if recipient:
        container = local_name(recipients[0])
        path = f"{container}/{parties[0][1]}" if local_name(entities[0]) == container \
            else f"{container}/{local_name(entities[0])}/{parties[0][1]}"
        found["recipient"] = Extracted(recipient, f"{SOURCE} {path}")

    for place in [evidence] + [c for c in (child(evidence, name) for name in MESSAGE_CONTAINERS) if c is not None]:
        prefix = "" if place is evidence else f"{local_name(place)}/"
        if "message_id" not in found:
            for name in MESSAGE_ID_ELEMENTS:
                value = clean_text(text(child(place, name)), MAX_IDENTIFIER)
                if value:
                    found["message_id"] = Extracted(value, f"{SOURCE} {prefix}{name}")
                    break
        if "subject" not in found:
            for name in SUBJECT_ELEMENTS:
                value = clean_text(text(child(place, name)))
                if value:
                    found["subject"] = Extracted(value, f"{SOURCE} {prefix}{name}")
                    break

    digests, where = _digests(evidence)
    if digests:
        path = f"{where} DigestMethod+DigestValue" if where else "DigestMethod+DigestValue"
        found["digests"] = Extracted(digests, f"{SOURCE} {path}")
    return found


def erds_fields(data: bytes) -> dict[str, Extracted]:
    """``event_type``, ``evidence_event``, ``event_time``, ``evidence_id``, ``message_id``, ``sender``,
    ``recipient``, ``digests``, ``subject`` found in an ERDS evidence; {} when it is not one (or not XML)."""
    return read_evidence(data, _find_evidence, _fields)
