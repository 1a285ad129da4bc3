"""The deposit receipt as a signed document: the JSON receipt (``vault.deposit.receipt``) with its seal state
(``vault.evidence.status.seal_state``), signed as a JWS with the archive's Ed25519 key, or rendered as a PDF
signed with PAdES.

The signed document is the JSON answer of ``GET /v1/objects/{id}/receipt`` plus four fields that say what it is:
``type`` (``vault-deposit-receipt``), ``version`` (1), ``issuer`` (the archive's name) and ``issued_at`` (when it
was signed: the seal state is the one of that moment).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vault.clock import iso_z
from vault.deposit.receipt import receipt_from_row
from vault.documents.pdf import wrap
from vault.sandbox import notice_lines

RECEIPT_TYPE = "vault-deposit-receipt"
RECEIPT_CONTENT_TYPE = "vault-deposit-receipt+json"
VERSION = 1


def receipt_with_seal(row: dict[str, Any], seal: dict) -> dict:
    """The JSON receipt: what was stored, and the current seal state."""
    return {**receipt_from_row(row), "seal": seal}


def signed_receipt_document(row: dict[str, Any], seal: dict, issuer: str, issued_at: datetime) -> dict:
    """What the JWS and the PDF say: the JSON receipt with what the document is, who issued it and when."""
    return {"type": RECEIPT_TYPE, "version": VERSION, "issuer": issuer, "issued_at": iso_z(issued_at),
            **receipt_with_seal(row, seal)}


def seal_line(seal: dict) -> str:
    if seal.get("status") != "sealed":
        return "pending: the deposit waits for its seal batch to be timestamped (RFC 3161)"
    line = (f"sealed in batch {seal['batch_id']} ({seal['algorithm']}) at {seal['sealed_at']}; "
            f"timestamp genTime {seal['token_gen_time']} by TSA {seal['tsa']}")
    return line + (f" ({seal['qualification']})" if seal.get("qualification") else "")


def signature_lines(verdicts: list[dict]) -> list[str]:
    if not verdicts:
        return ["  none found in the file at deposit"]
    return [f"  {v.get('kind')}: {v.get('verdict')} - signer {v.get('signer') or 'unknown'}"
            f"{' - ' + v['reason'] if v.get('reason') else ''} (validated {v.get('validated_at')})" for v in verdicts]


def object_lines(document: dict) -> list[str]:
    """The object's facts, one per line (shared by the receipt and the probative-value report)."""
    detected = document.get("format") or {}
    sha512 = document["sha512"] or ""
    return [
        f"Object id          {document['id']}",
        f"Tenant             {document['tenant']}",
        f"Case reference     {document['case_ref']}",
        f"File name          {document['filename'] or '(none given)'}",
        f"Media type         {document['media_type']} (detected {detected.get('detected') or 'nothing'}: "
        f"{detected.get('check', 'unknown')})",
        f"Size               {document['size']} bytes",
        f"SHA-256            {document['sha256']}",
        f"SHA-512            {sha512[:64]}",
        f"                   {sha512[64:]}",
        f"Deposited at       {document['deposited_at']}",
        f"Policy             {document['policy']} version {document['policy_version']}",
        f"Retention          from {document['retention_start'] or '(start event not known yet)'} until "
        f"{document['retention_until'] or '(not known yet)'}",
        f"Journal index      {document['journal_index']} (the deposit's entry in the access journal)",
        f"Status             {document['status']}",
    ]


def receipt_lines(document: dict, key_id: str) -> list[str]:
    """The PDF receipt's text."""
    lines = notice_lines(document) + ["Deposit receipt", "",
             f"Issued by {document['issuer']} at {document['issued_at']}", ""]
    lines += object_lines(document)
    lines += ["", f"Seal               {seal_line(document['seal'])}", "",
              "Signatures found in the file at deposit (verdicts of the deposit-time validation):"]
    lines += signature_lines(document.get("validation") or [])
    lines += ["", "This PDF is signed by the archive (PAdES, with a signature timestamp from its TSA).",
              f"The same receipt as JSON signed with the archive's Ed25519 key (JWS, EdDSA, kid {key_id}):",
              f"GET /v1/objects/{document['id']}/receipt?format=jws"]
    return wrap(lines)
