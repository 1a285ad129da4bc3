"""The ETSI evidence-event vocabulary an object's ``etsi_event`` is written in (issue 23).

Two families, as the evidence itself names them:

- ERDS (ETSI EN 319 522-1 clause 8 "evidence", events of the ERDS events model; EN 319 522-2 clause 8.3 the
  evidence set with its reason codes): one name per event, e.g. ``SubmissionAcceptance``,
  ``ConsignmentAcceptance``, ``ContentConsignmentFailure``, ``AcceptanceRejectionExpiry``.
- REM (ETSI TS 102 640-2 clause 5, the REM evidence types, and the ``EventCode`` an evidence carries):
  ``<evidence type>/<event code>``, e.g. ``SubmissionAcceptanceRejection/Acceptance``,
  ``DeliveryNonDeliveryToRecipient/Delivery``; the three evidence types with a single meaning
  (``RelayREMMDFailure``, ``RelayToNonREMSystem``, ``ReceivedFromNonREMSystem``) stand alone.

:func:`etsi_event_of` turns what the parsers return as ``evidence_event`` (:mod:`vault.lre.erds`,
:mod:`vault.lre.rem`, :mod:`vault.lre.eventlog`), or what a depositor declares, into the canonical name; anything
outside the vocabulary gives None (the original name stays in ``extracted.evidence_event``). The French LRE ↔
ETSI table, with clause references and what is guessed, is in docs/lre.md; :func:`event_conflict` says when an
object's LRE ``event_type`` contradicts its ``etsi_event`` under that table. Pure: no I/O.
"""

from __future__ import annotations

from vault.lre.events import ERDS_EVENTS, REM_EVIDENCES, _norm, erds_event_type, last_segment, rem_event_type

ERDS_ALIASES = {
    "AcceptanceByRecipient": "ConsignmentAcceptance", "RecipientAcceptance": "ConsignmentAcceptance",
    "RejectionByRecipient": "ConsignmentRejection", "RecipientRejection": "ConsignmentRejection",
    "Refusal": "ConsignmentRejection",
    "ConsignmentExpiry": "AcceptanceRejectionExpiry", "Expiry": "AcceptanceRejectionExpiry",
    "NonAcceptance": "AcceptanceRejectionExpiry",
}
"""Names some implementations use for an EN 319 522-1 event (read by :mod:`vault.lre.events` too)."""

ERDS_VOCABULARY = tuple(name for name in ERDS_EVENTS if name not in ERDS_ALIASES)
"""The ERDS event names an ``etsi_event`` may take."""

REM_CODES: dict[str, tuple[str, ...]] = {
    "SubmissionAcceptanceRejection": ("Acceptance", "Rejection"),
    "RelayREMMDAcceptanceRejection": ("Acceptance", "Rejection"),
    "DeliveryNonDeliveryToRecipient": ("Delivery", "NonDelivery", "DeliveryExpiration", "Acceptance"),
    "DownloadNonDownloadByRecipient": ("Download", "NonDownload", "DownloadExpiration"),
    "RetrievalNonRetrievalByRecipient": ("Retrieval", "NonRetrieval", "RetrievalExpiration"),
    "AcceptanceRejectionByRecipient": ("Acceptance", "Rejection", "AcceptanceRejectionExpiration"),
}
"""TS 102 640-2 evidence types that pair outcomes, with the event codes each may carry (the ``…Expiration``
codes are our reading of the expiry outcome; ``Acceptance`` on a delivery is what PEPPOL evidences say: see
docs/lre.md)."""
REM_SINGLE = ("RelayREMMDFailure", "RelayToNonREMSystem", "ReceivedFromNonREMSystem")

REM_VOCABULARY = tuple(f"{root}/{code}" for root, codes in REM_CODES.items() for code in codes) + REM_SINGLE
ETSI_EVENTS = ERDS_VOCABULARY + REM_VOCABULARY
"""Every value ``etsi_event`` may take, ERDS names first."""
assert set(REM_CODES) | set(REM_SINGLE) == set(REM_EVIDENCES)

_ERDS = {_norm(name): ERDS_ALIASES.get(name, name) for name in ERDS_EVENTS}
_REM = {_norm(name): name for name in REM_VOCABULARY}
MAX_NAME = 64


def etsi_event_of(name: object) -> str | None:
    """The canonical EN 319 522-1 or TS 102 640-2 event for ``name`` (an ERDS event or its URI, a REM
    ``Root/Code`` or a single-meaning REM root; case and punctuation ignored), None when it is not one."""
    if not isinstance(name, str) or not name.strip() or len(name) > 4 * MAX_NAME:
        return None
    root, slash, code = name.strip().partition("/")
    if slash and not root.lower().startswith("http"):
        return _REM.get(_norm(root) + _norm(last_segment(code)))
    key = _norm(last_segment(name))
    return _ERDS.get(key) or _REM.get(key)


UNPLACED = "other"
"""The LRE ``event_type`` that places an object nowhere in the chain (and the deposit's default): it states no LRE
step, so it contradicts no ETSI event."""


def lre_event_types(etsi_event: str) -> frozenset[str]:
    """The LRE ``event_type`` values a canonical ``etsi_event`` maps to, by the parsers' own mapping
    (:mod:`vault.lre.events`, the table of docs/lre.md): one type, except ``ContentHandoverFailure``, which is a
    ``negligence`` when its EN 319 522-2 reasons (clause 8.3.3.5, RE03/RE04) speak of expiry and ``other`` else."""
    root, slash, code = etsi_event.partition("/")
    if slash or root in REM_SINGLE:  # TS 102 640-2 clause 5: evidence type and event code
        return frozenset({rem_event_type(root, code or None)})
    return frozenset({erds_event_type(root), erds_event_type(root, "expiry")})


def event_conflict(event_type: str, etsi_event: str | None) -> str | None:
    """Why ``event_type`` and the canonical ``etsi_event`` contradict each other, in one sentence naming both
    fields, or None when they agree: no ETSI event, an unplaced (``other``) type, or a type the ETSI event maps
    to (:func:`lre_event_types`; the mapping is many ETSI events to one LRE type, so the check is one-way)."""
    if etsi_event is None or event_type == UNPLACED:
        return None
    expected = lre_event_types(etsi_event)
    if event_type in expected:
        return None
    return (f"event_type {event_type!r} contradicts etsi_event {etsi_event!r}, which is an LRE "
            f"{' or '.join(repr(t) for t in sorted(expected))} event (docs/lre.md): correct one of them, or give "
            f"event_type {UNPLACED!r}")
