"""Evidence event names mapped to our event types (``deposit``, ``sending``, ``receipt``, ``refusal``,
``negligence``, ``consent``, ``withdrawal``, ``other``; see :mod:`vault.deposit.metadata`).

The target is the French LRE (lettre recommandée électronique, CPCE L.100 / R.53): *dépôt* (the sender hands the
letter to the provider), *envoi* / *première présentation* (the recipient is notified that a letter awaits),
*acceptation* / *réception* (the recipient accepts it and gets the content), *refus* (the recipient refuses it),
*négligence* (the recipient did nothing within the 15 days). An evidence that does not say one of these things —
a failure or a rejection *by the service*, a relay hop refused, an event we cannot place — maps to ``other``;
the parsers always return the original name as ``evidence_event`` next to ``event_type``, so nothing is lost.

ETSI TS 102 640-2 (REM): the root element names a pair of outcomes and ``EventCode`` says which one happened.
The code is read by its last segment (``http:uri.etsi.org/02640/Event#Acceptance``,
``http://uri.etsi.org/REM/Event#Acceptance`` and ``Acceptance`` are the same code); a positive code is
Acceptance, Delivery, Download or Retrieval; an *expiry* code is one ending in Expiration / Expiry or starting
with NonRetrieval / NonDownload / NonAcceptance; any other code (Rejection, NonDelivery, …) is negative.

====================================  ===========  ==========  ==========
REM evidence (root element)           positive     negative    expiry
====================================  ===========  ==========  ==========
SubmissionAcceptanceRejection         deposit      other [1]   other
RelayREMMDAcceptanceRejection         sending      other       other
RelayREMMDFailure                     other        other       other
DeliveryNonDeliveryToRecipient        sending [2]  other       negligence
DownloadNonDownloadByRecipient        receipt      other       negligence
RetrievalNonRetrievalByRecipient      receipt      other       negligence
AcceptanceRejectionByRecipient        receipt      refusal     negligence
RelayToNonREMSystem                   sending      other       other
ReceivedFromNonREMSystem              other        other       other
====================================  ===========  ==========  ==========

[1] A submission rejected by the service is not a refusal by the recipient: the letter was never sent.
[2] Delivery puts the message in the recipient's mailbox (or, in PEPPOL, at the receiving access point): the
    recipient is presented with it but has not accepted it yet. A root without a readable code gives ``other``,
    except where the root has a single meaning (Relay…Failure, RelayToNonREMSystem, ReceivedFromNonREMSystem).

ETSI EN 319 522 (ERDS) events, by the last segment of ``ERDSEventId`` (``http://uri.etsi.org/19522/Event/…``):

======================================================================  ==========================
ERDS event                                                              our type
======================================================================  ==========================
SubmissionAcceptance                                                    deposit
SubmissionRejection                                                     other (service refused it)
RelayAcceptance, ContentConsignment, ConsignmentNotification,           sending
NotificationForAcceptance, NotificationDelivered, RelayToNonERDS
ContentHandover, ConsignmentAcceptance, ContentAccessTracking,          receipt
AcceptanceByRecipient, RecipientAcceptance
ConsignmentRejection, RejectionByRecipient, RecipientRejection, Refusal refusal
AcceptanceRejectionExpiry, Expiry, NonAcceptance, ConsignmentExpiry     negligence
ContentHandoverFailure                                                  negligence if its EventReasons
                                                                        speak of expiry, else other
RelayRejection, RelayFailure, ContentConsignmentFailure,                other
ConsignmentNotificationFailure, NotificationForAcceptanceFailure,
NotificationAccessTracking, RelayToNonERDSFailure, ReceivedFromNonERDS
======================================================================  ==========================

Event logs (JSON) may use these ERDS names, REM codes (Retrieval, NonRetrieval, …), our own type names, or
French / English words; :func:`event_type_for` reads all of them (case, accents and punctuation ignored).
Deliberately ambiguous words — a bare "Acceptance", "accepted", "received", "Rejection", "Delivery",
"delivered" (by the service, or by the recipient?) — give ``other``.

The module also holds the value normalisers the three parsers share: times (aware, in UTC), digests
(``{"algorithm": "sha256", "value": hex}``) and party addresses (printable, at most 320 characters).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import unicodedata
from datetime import datetime, timedelta, timezone

EVENT_TYPES = ("deposit", "sending", "receipt", "refusal", "negligence", "consent", "withdrawal", "other")  # as in
# vault.deposit.metadata.EventType (not imported: these parsers stay free of the deposit and database layers)

POSITIVE, NEGATIVE, EXPIRY = "positive", "negative", "expiry"

REM_EVIDENCES: dict[str, dict[str, str]] = {
    "SubmissionAcceptanceRejection": {POSITIVE: "deposit", NEGATIVE: "other", EXPIRY: "other"},
    "RelayREMMDAcceptanceRejection": {POSITIVE: "sending", NEGATIVE: "other", EXPIRY: "other"},
    "RelayREMMDFailure": {POSITIVE: "other", NEGATIVE: "other", EXPIRY: "other"},
    "DeliveryNonDeliveryToRecipient": {POSITIVE: "sending", NEGATIVE: "other", EXPIRY: "negligence"},
    "DownloadNonDownloadByRecipient": {POSITIVE: "receipt", NEGATIVE: "other", EXPIRY: "negligence"},
    "RetrievalNonRetrievalByRecipient": {POSITIVE: "receipt", NEGATIVE: "other", EXPIRY: "negligence"},
    "AcceptanceRejectionByRecipient": {POSITIVE: "receipt", NEGATIVE: "refusal", EXPIRY: "negligence"},
    "RelayToNonREMSystem": {POSITIVE: "sending", NEGATIVE: "other", EXPIRY: "other"},
    "ReceivedFromNonREMSystem": {POSITIVE: "other", NEGATIVE: "other", EXPIRY: "other"},
}
# Roots whose meaning does not depend on the event code.
_REM_SINGLE = {"RelayREMMDFailure": "other", "RelayToNonREMSystem": "sending", "ReceivedFromNonREMSystem": "other"}

_REM_POSITIVE_CODES = {"acceptance", "accepted", "delivery", "delivered", "download", "downloaded", "retrieval",
                       "retrieved"}
_REM_EXPIRY_PREFIXES = ("nonretrieval", "nondownload", "nonacceptance")

ERDS_EVENTS: dict[str, str] = {
    "SubmissionAcceptance": "deposit",
    "SubmissionRejection": "other",
    "RelayAcceptance": "sending",
    "RelayRejection": "other",
    "RelayFailure": "other",
    "ContentConsignment": "sending",
    "ContentConsignmentFailure": "other",
    "ConsignmentNotification": "sending",
    "ConsignmentNotificationFailure": "other",
    "NotificationForAcceptance": "sending",
    "NotificationForAcceptanceFailure": "other",
    "NotificationDelivered": "sending",
    "NotificationAccessTracking": "other",
    "ContentHandover": "receipt",
    "ContentHandoverFailure": "other",
    "ContentAccessTracking": "receipt",
    "ConsignmentAcceptance": "receipt",
    "AcceptanceByRecipient": "receipt",
    "RecipientAcceptance": "receipt",
    "ConsignmentRejection": "refusal",
    "RejectionByRecipient": "refusal",
    "RecipientRejection": "refusal",
    "Refusal": "refusal",
    "AcceptanceRejectionExpiry": "negligence",
    "ConsignmentExpiry": "negligence",
    "Expiry": "negligence",
    "NonAcceptance": "negligence",
    "RelayToNonERDS": "sending",
    "RelayToNonERDSFailure": "other",
    "ReceivedFromNonERDS": "other",
}
# A failure that is an expiry when its reasons say so (ERDS models "handover did not occur" as one event).
_EXPIRY_FAILURES = {"contenthandoverfailure"}

# Words an event log may use (normalised: lower case, no accents, letters and digits only).
_WORDS: dict[str, str] = {
    **{name: name for name in EVENT_TYPES},
    "depot": "deposit", "deposited": "deposit", "submission": "deposit", "submitted": "deposit",
    "submit": "deposit", "posted": "deposit",
    "envoi": "sending", "sent": "sending", "send": "sending", "dispatch": "sending", "dispatched": "sending",
    "premierepresentation": "sending", "presentation": "sending", "notified": "sending",
    "relayremmdacceptance": "sending",
    "reception": "receipt", "recu": "receipt", "recue": "receipt", "acceptation": "receipt",
    "accepte": "receipt", "acceptee": "receipt", "retrieval": "receipt", "retrieved": "receipt",
    "download": "receipt", "downloaded": "receipt",
    "refus": "refusal", "refuse": "refusal", "refusee": "refusal", "refused": "refusal",
    "rejectedbyrecipient": "refusal",
    "negligence": "negligence", "expiry": "negligence", "expired": "negligence", "expiration": "negligence",
    "nonretrieval": "negligence", "nondownload": "negligence", "nonreclame": "negligence",
    "unclaimed": "negligence", "retrievalexpiration": "negligence", "downloadexpiration": "negligence",
    "consentement": "consent", "consented": "consent", "optin": "consent",
    "retrait": "withdrawal", "withdrawn": "withdrawal", "revocation": "withdrawal", "revoked": "withdrawal",
    "optout": "withdrawal",
}


def _norm(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name)
    return re.sub(r"[^a-z0-9]", "", "".join(ch for ch in folded if not unicodedata.combining(ch)).lower())


_ERDS_BY_NORM = {_norm(name): kind for name, kind in ERDS_EVENTS.items()}
_REM_BY_NORM = {_norm(name): name for name in REM_EVIDENCES}


def last_segment(uri: str) -> str:
    """``Acceptance`` from ``http:uri.etsi.org/02640/Event#Acceptance``, ``…/Event/ContentHandover``, ``x:y``."""
    value = uri.strip()
    for separator in ("#", "/", ":"):
        if separator in value:
            tail = value.rsplit(separator, 1)[1].strip()
            if tail:
                value = tail
    return value


def rem_outcome(code: str | None) -> str | None:
    """``positive``, ``negative`` or ``expiry`` for a REM EventCode, None when there is none."""
    if not code:
        return None
    name = _norm(last_segment(code))
    if not name:
        return None
    if name.endswith(("expiration", "expiry", "expired")) or name.startswith(_REM_EXPIRY_PREFIXES):
        return EXPIRY
    if name in _REM_POSITIVE_CODES:
        return POSITIVE
    return NEGATIVE


def rem_event_type(evidence: str, code: str | None) -> str:
    """Our event type for a REM evidence (its root element's local name) and its EventCode."""
    root = _REM_BY_NORM.get(_norm(evidence))
    if root is None:
        return "other"
    if root in _REM_SINGLE:
        return _REM_SINGLE[root]
    outcome = rem_outcome(code)
    return REM_EVIDENCES[root][outcome] if outcome else "other"


def erds_event_type(event: str, reasons: str = "") -> str:
    """Our event type for an ERDS event name (or its URI); ``reasons`` is the EventReasons text, if any."""
    name = _norm(last_segment(event))
    if name in _EXPIRY_FAILURES and re.search(r"expir|timeout|time-out|delai|deadline", reasons, re.IGNORECASE):
        return "negligence"
    return _ERDS_BY_NORM.get(name, "other")


def event_type_for(name: str) -> str:
    """Our event type for any event name found in a log: ours, ERDS, REM codes, French or English words."""
    if not isinstance(name, str):
        return "other"
    for candidate in (name, last_segment(name)):
        key = _norm(candidate)
        if key in _ERDS_BY_NORM:
            return _ERDS_BY_NORM[key]
        if key in _WORDS:
            return _WORDS[key]
    return "other"


_FAILURE_WORDS = {"failed", "failure", "technicalfailure", "echec", "nondelivery", "undeliverable"}


def reports_technical_failure(evidence_event: object, event_type: str) -> bool:
    """Whether an evidence, by its original name (``evidence_event`` as the parsers return it: an ERDS event, a
    REM ``Root/Code``, a log's word) and our type, reports a technical failure of the service: an ERDS ``…Failure``
    event (EN 319 522-2: RelayFailure, ContentConsignmentFailure, …; a ContentHandoverFailure that speaks of expiry is
    a negligence, not a failure), a REM RelayREMMDFailure or a DeliveryNonDeliveryToRecipient with a negative
    code (TS 102 640-2: the message could not be put in the recipient's mailbox). Recipients' acts are not failures.
    """
    if event_type != "other" or not isinstance(evidence_event, str) or not evidence_event:
        return False
    root, _, code = evidence_event.partition("/")
    rem_root = _REM_BY_NORM.get(_norm(root))
    if rem_root is not None:
        return rem_root == "RelayREMMDFailure" or (
            rem_root == "DeliveryNonDeliveryToRecipient" and rem_outcome(code) == NEGATIVE)
    name = _norm(last_segment(evidence_event))
    return name.endswith("failure") or name in _FAILURE_WORDS


# --- values shared by the parsers -------------------------------------------------------------------------

MAX_ADDRESS = 320
MAX_TEXT = 998

_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,12}))?)?"
                       r"\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)")


def parse_time(raw: object) -> datetime | None:
    """An ISO 8601 / xs:dateTime string with a zone as an aware UTC datetime; no zone (or unreadable) → None."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    match = _DATETIME.fullmatch(raw.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        if zone in ("Z", "z", "UTC"):
            tz = timezone.utc
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            if offset >= timedelta(hours=24):
                return None
            tz = timezone(sign * offset)
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz)
        return value.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def parse_epoch(raw: object) -> datetime | None:
    """Seconds (or milliseconds, when too large for seconds) since 1970 as an aware UTC datetime."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    try:
        seconds = float(raw)
        if math.isnan(seconds) or seconds < 0:
            return None
        if seconds > 1e11:
            seconds /= 1000.0
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


DIGEST_SIZES = {"md5": 16, "sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64,
                "sha3-224": 28, "sha3-256": 32, "sha3-384": 48, "sha3-512": 64, "ripemd160": 20}
_DIGEST_OIDS = {"1.2.840.113549.2.5": "md5", "1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.4": "sha224",
                "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
                "2.16.840.1.101.3.4.2.3": "sha512", "2.16.840.1.101.3.4.2.7": "sha3-224",
                "2.16.840.1.101.3.4.2.8": "sha3-256", "2.16.840.1.101.3.4.2.9": "sha3-384",
                "2.16.840.1.101.3.4.2.10": "sha3-512"}


def digest_algorithm(raw: object) -> str | None:
    """``sha256`` from ``http://www.w3.org/2001/04/xmlenc#sha256``, ``SHA-256``, ``SHA256``, an OID…"""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 200:
        return None
    value = raw.strip()
    oid = value.lower().removeprefix("urn:oid:")
    if oid in _DIGEST_OIDS:
        return _DIGEST_OIDS[oid]
    name = re.sub(r"[^a-z0-9]", "", last_segment(value).lower())
    if name.startswith("sha3") and len(name) == 7:
        name = f"sha3-{name[4:]}"
    elif name.startswith("sha2") and len(name) == 7 and name[4:] in ("224", "256", "384", "512"):
        name = f"sha{name[4:]}"  # "SHA2-256"
    return name if name in DIGEST_SIZES else None


def digest_value(algorithm: str, raw: object) -> str | None:
    """The hex digest from a base64 (or hex) value, when its length fits the algorithm."""
    if not isinstance(raw, str) or len(raw) > 1024:
        return None
    value = re.sub(r"\s+", "", raw)
    size = DIGEST_SIZES[algorithm]
    if re.fullmatch(r"[0-9a-fA-F]+", value) and len(value) == 2 * size:
        return value.lower()
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        try:
            decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None
    return decoded.hex() if len(decoded) == size else None


def digest_entry(algorithm: object, value: object) -> dict[str, str] | None:
    name = digest_algorithm(algorithm)
    if name is None:
        return None
    hexed = digest_value(name, value)
    return {"algorithm": name, "value": hexed} if hexed else None


def clean_text(raw: object, limit: int = MAX_TEXT) -> str | None:
    """Whitespace-collapsed printable text of at most ``limit`` characters, else None."""
    if not isinstance(raw, str) or len(raw) > 16 * limit:
        return None
    value = " ".join(raw.split())
    if not value or len(value) > limit or not value.isprintable():
        return None
    return value


def clean_address(raw: object) -> str | None:
    """An e-mail address or a party identifier: printable, ``mailto:`` dropped, at most 320 characters."""
    value = clean_text(raw, MAX_ADDRESS)
    if value is None:
        return None
    if value.lower().startswith("mailto:"):
        value = value[7:].strip()
    return value or None


def join_addresses(values: list[str]) -> str | None:
    unique = list(dict.fromkeys(values))
    joined = ", ".join(unique)
    return joined if unique and len(joined) <= MAX_ADDRESS else None
