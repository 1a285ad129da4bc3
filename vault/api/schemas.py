"""Response and request schemas for the OpenAPI document. Tables live in :mod:`vault.db.tables`, not here."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from vault.deposit.metadata import DepositMetadata


class FormatCheck(BaseModel):
    detected: Optional[str] = Field(description="media type identified from the first bytes, null when unknown")
    check: str = Field(description="match, mismatch or unknown: the declared media type against the detected one")


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


class ObjectPage(BaseModel):
    items: list[ObjectMetadata]
    next_cursor: Optional[str] = Field(description="pass as ?cursor= for the next page; null on the last page")


class CaseTimeline(BaseModel):
    case_ref: str
    count: int
    truncated: bool
    objects: list[ObjectMetadata]


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["depositor", "archivist", "auditor", "admin"]
    tenant: str = Field(min_length=1, max_length=64, pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$",
                        description="a tenant name, or '*' for every tenant (not for depositors)")
    label: Optional[str] = Field(default=None, max_length=200)


class KeyIssued(BaseModel):
    key_id: str
    key: str = Field(description="the secret; shown once, stored only as a hash")
    role: str
    tenant: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: Optional[str] = None


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

PROBLEM_RESPONSES = {
    code: {"model": Problem, "content": {"application/problem+json": {}}, "description": text}
    for code, text in {400: "Malformed request", 401: "Missing or unknown API key", 403: "Wrong role or tenant",
                       404: "Unknown object", 409: "Idempotency-Key reused for another deposit",
                       413: "Body or metadata too large", 415: "Not multipart/form-data",
                       422: "Invalid metadata or parameters"}.items()
}
