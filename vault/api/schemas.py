"""Response and request schemas for the OpenAPI document. Tables live in :mod:`vault.db.tables`, not here."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from vault.deposit.metadata import DepositMetadata
from vault.limits import ArchiveTime


class FormatCheck(BaseModel):
    detected: Optional[str] = Field(description="media type identified from the first bytes, null when unknown")
    check: str = Field(description="match, mismatch or unknown: the declared media type against the detected one")


class PronomFormat(FormatCheck):
    puid: Optional[str] = Field(default=None, description=(
        "PRONOM PUID (FIDO), 'pending' until the background format pass ran, null when no signature matched; "
        "only in GET /v1/objects/{id}"))
    version: Optional[str] = Field(default=None, description="the PRONOM format version")
    pdfa: Optional[str] = Field(default=None, description="PDF/A conformance the file claims in its XMP, e.g. 2b")


class SignatureSummary(BaseModel):
    kind: Literal["pades", "pdf-timestamp", "xades", "xmldsig", "rfc3161", "dkim", "smime"]
    signer: Optional[str] = Field(description="signer certificate subject, TSA name, or DKIM domain")
    verdict: Literal["valid", "invalid", "indeterminate"] = Field(
        description="ETSI TS 119 102-1 main indication: TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE")
    reason: str
    validated_at: str = Field(description="when the check ran (at deposit)")


class Receipt(BaseModel):
    id: str = Field(description="UUIDv7 of the archived object")
    tenant: str
    case_ref: str
    sha256: str
    sha512: str
    size: int
    media_type: str = Field(description="as declared by the depositor")
    format: FormatCheck
    filename: Optional[str]
    deposited_at: str = Field(description="RFC 3339 UTC time the deposit was committed")
    policy: str
    policy_version: int
    retention_start: Optional[str]
    retention_until: Optional[str] = Field(description="null while the policy's start event is unknown")
    journal_index: int = Field(description="sequence number of the deposit's access-journal entry")
    status: str
    validation: list[SignatureSummary] = Field(
        default_factory=list, description="one verdict per signature found in the file (empty: none found)")


class ObjectMetadata(Receipt):
    contract_number: Optional[str]
    kind: str
    event_type: str
    event_time: Optional[str]
    sender: Optional[str]
    recipient: Optional[str]
    depositor: str
    extra: dict[str, Any]
    extracted: dict = Field(default_factory=dict, description="fields filled from the content, with their source")
    consent_ref: Optional[str] = Field(default=None, description="the consent record an LRE sending relies on")
    recipient_type: Optional[Literal["consumer", "professional"]] = Field(
        default=None, description="consumer: a non-professional recipient, whose prior consent an LRE needs")
    etsi_event: Optional[str] = Field(default=None, description=(
        "the evidence event in ETSI terms: an EN 319 522-1 event (ConsignmentAcceptance) or a TS 102 640-2 "
        "Type/Code (DeliveryNonDeliveryToRecipient/Delivery); see docs/lre.md"))
    format: PronomFormat


class ObjectPage(BaseModel):
    items: list[ObjectMetadata]
    next_cursor: Optional[str] = Field(description="pass as ?cursor= for the next page; null on the last page")
    facets: Optional[dict[str, dict[str, int]]] = Field(
        default=None, description="only with ?facets=: per facet, the number of matching objects per value")


class ObjectCount(BaseModel):
    count: int = Field(description="how many objects match the filters (NF Z42-020 count)")
    facets: Optional[dict[str, dict[str, int]]] = Field(
        default=None, description="only with ?facets=: per facet, the number of matching objects per value")


class CaseEvent(ObjectMetadata):
    at: str = Field(description="the time the timeline orders by: event_time, or the deposit time without one")
    time_source: Literal["event_time", "deposit"]


class Completeness(BaseModel):
    status: Literal["complete", "incomplete", "overdue"]
    missing: list[str] = Field(description="names of the expected steps with no event yet")
    due_at: Optional[str] = Field(description="when the first missing step becomes overdue")
    anomalies: list[str] = Field(description="events out of order or earlier than the chain allows")
    steps: list[dict[str, Any]]
    reasons: list[str] = Field(default_factory=list, description="why a step outside the chain is missing "
                               "(consent: a consumer recipient without valid consent at the sending)")


class CaseConsent(BaseModel):
    required: bool = Field(description="the recipient is a consumer (non-professional): the LRE needs consent")
    recipient_type: Optional[Literal["consumer", "professional"]]
    at: str = Field(description="the sending's event time (now before the sending)")
    at_source: Literal["sending", "now"]
    consent_ref: Optional[str]
    lookup: Optional[Literal["consent_ref", "registry"]] = Field(
        description="how the consent was found: by consent_ref, or the recipient and purpose in the registry")
    valid: bool = Field(description="a consent in force at `at`: given before it and not withdrawn by then")
    reason: str
    proof: Optional[dict[str, Any]] = Field(
        description="the deciding consent record: object_id, sha256, sha512, event_time, sealed_at, seal, "
                    "subject_pseudonym, purpose")


class CaseTimeline(BaseModel):
    case_ref: str
    count: int
    truncated: bool
    chain: str = Field(description="id of the expected chain the completeness is computed with")
    events: list[CaseEvent]
    consent: CaseConsent
    completeness: Completeness


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["depositor", "archivist", "auditor", "admin"]
    tenant: str = Field(min_length=1, max_length=64, pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$",
                        description="a tenant name, or '*' for every tenant (not for depositors)")
    holder: Optional[str] = Field(default=None, min_length=1, max_length=200,
                                  description="the person who holds the key (required for admin, archivist and "
                                              "auditor keys: four-eyes destruction counts holders)")
    label: Optional[str] = Field(default=None, max_length=200)
    expires_at: Optional[ArchiveTime] = Field(default=None, description="when the key stops working (ISO 8601 with "
                                                                      "an offset); default: never")


class KeyIssued(BaseModel):
    key_id: str
    key: str = Field(description="the secret; shown once, stored only as a hash")
    role: str
    tenant: str
    holder: Optional[str] = None
    expires_at: Optional[str] = None


class Problem(BaseModel):
    """An RFC 9457 problem document (§3.1 members, and vault's extensions)."""
    type: str = Field(description="urn:vault:problem:<slug>, e.g. urn:vault:problem:invalid-metadata")
    title: str
    status: int
    detail: str = Field(description="what was wrong and what to do, in one sentence")
    instance: Optional[str] = None
    request_id: Optional[str] = Field(default=None, description="as in the X-Request-Id header and the journal")
    errors: Optional[list[dict[str, str]]] = Field(default=None, description="422: each field and its problem")
    sandbox: Optional[bool] = Field(default=None, description="true on a sandbox instance (docs/sandbox.md), absent "
                                    "elsewhere; every JSON object a sandbox answers has it")


DEPOSIT_FORM_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "metadata"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the proof file"},
                        "metadata": {
                            "type": "string",
                            "description": "a JSON object: " + ", ".join(DepositMetadata.model_fields),
                            "contentMediaType": "application/json",
                        },
                    },
                },
                "encoding": {"metadata": {"contentType": "application/json"}},
            }
        },
    }
}

def problem_responses(texts: dict[int, str]) -> dict:
    """OpenAPI responses answered as problem+json (RFC 9457), one per status."""
    return {code: {"model": Problem, "content": {"application/problem+json": {}}, "description": text}
            for code, text in texts.items()}


PROBLEM_RESPONSES = problem_responses({
    400: "Malformed request", 401: "Missing or unknown API key", 403: "Wrong role or tenant", 404: "Unknown object",
    409: "Idempotency-Key reused for another deposit", 413: "Body or metadata too large",
    415: "Not multipart/form-data", 422: "Invalid metadata or parameters"})
