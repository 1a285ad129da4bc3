"""Business metadata sent with a deposit, validated strictly: unknown keys are refused, not ignored."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Literal, Optional

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from vault.db.tables import EVENT_TYPES, OBJECT_KINDS

Kind = Literal["lre-evidence", "email-proof", "consent-record", "attachment", "other"]
EventType = Literal["deposit", "sending", "receipt", "refusal", "negligence", "consent", "withdrawal", "other"]
assert set(Kind.__args__) == set(OBJECT_KINDS) and set(EventType.__args__) == set(EVENT_TYPES)

MAX_EXTRA_DEPTH = 8


class MetadataError(ValueError):
    """Metadata that cannot be accepted; ``errors`` lists each field's problem."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.errors = errors or []


def _text(max_length: int):
    return Field(default=None, min_length=1, max_length=max_length)


class DepositMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case_ref: str = Field(min_length=1, max_length=256)
    policy: str = Field(min_length=1, max_length=64)
    contract_number: Optional[str] = _text(256)
    kind: Kind = "other"
    event_type: EventType = "other"
    event_time: Optional[AwareDatetime] = None
    sender: Optional[str] = _text(320)
    recipient: Optional[str] = _text(320)
    expected_sha256: Optional[str] = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    tenant: Optional[str] = _text(64)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("case_ref", "contract_number", "sender", "recipient")
    @classmethod
    def _printable(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise ValueError("control characters are not allowed")
        return value

    @field_validator("event_time")
    @classmethod
    def _utc(cls, value: Optional[datetime]) -> Optional[datetime]:
        return value.astimezone(timezone.utc) if value else None

    @field_validator("extra")
    @classmethod
    def _shallow(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _depth(value) > MAX_EXTRA_DEPTH:
            raise ValueError(f"nested deeper than {MAX_EXTRA_DEPTH} levels")
        return value


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def parse_metadata(raw: bytes, max_bytes: int) -> DepositMetadata:
    """Parse the ``metadata`` form field; raises :class:`MetadataError` with one entry per problem."""
    if len(raw) > max_bytes:
        raise MetadataTooLarge(f"metadata is {len(raw)} bytes, over the {max_bytes}-byte limit")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"metadata is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MetadataError(f"metadata must be a JSON object, got {type(data).__name__}")
    try:
        return DepositMetadata.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]) or "metadata", "problem": _explain(err)}
            for err in exc.errors(include_url=False)
        ]
        summary = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
        raise MetadataError(f"metadata is invalid: {summary}", errors) from None


def _explain(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (put free-form fields under 'extra')"
    if err["type"] == "missing":
        return "required"
    return err["msg"]


class MetadataTooLarge(MetadataError):
    pass
