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
ETSI table, with clause references and what is guessed, is in docs/lre.md. Pure: no I/O.
"""

from __future__ import annotations

from vault.lre.events import ERDS_EVENTS, REM_EVIDENCES, _norm, last_segment

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
