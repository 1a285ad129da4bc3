"""Business metadata sent with a deposit, validated strictly: unknown keys are refused, not ignored."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vault.db.tables import EVENT_TYPES, OBJECT_KINDS
from vault.limits import ArchiveTime, load_json
from vault.lre.vocabulary import MAX_NAME, etsi_event_of

Kind = Literal["lre-evidence", "email-proof", "consent-record", "attachment", "other"]
EventType = Literal["deposit", "sending", "receipt", "refusal", "negligence", "consent", "withdrawal", "other"]
RecipientType = Literal["consumer", "professional"]
assert set(Kind.__args__) == set(OBJECT_KINDS) and set(EventType.__args__) == set(EVENT_TYPES)

MAX_EXTRA_DEPTH = 8
MAX_FILENAME = 255


def filename_problem(name: str) -> str | None:
    """Why ``name`` is refused as a file name (a control character — C0, DEL or C1 — or more than
    :data:`MAX_FILENAME` characters), or None: the rule of a deposit's file part and of a correction."""
    if len(name) > MAX_FILENAME or any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in name):
        return f"has a control character or more than {MAX_FILENAME} characters"
    return None


class MetadataError(ValueError):
    """Metadata that cannot be accepted; ``errors`` lists each field's problem."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.errors = errors or []


def _text(max_length: int):
    return Field(default=None, min_length=1, max_length=max_length)


class DepositMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case_ref: Optional[str] = Field(default=None, min_length=1, max_length=256)
    policy: str = Field(min_length=1, max_length=64)
    contract_number: Optional[str] = _text(256)
    kind: Kind = "other"
    event_type: EventType = "other"
    event_time: Optional[ArchiveTime] = None
    sender: Optional[str] = _text(320)
    recipient: Optional[str] = _text(320)
    expected_sha256: Optional[str] = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    tenant: Optional[str] = _text(64)
    subject: Optional[str] = _text(320)
    """The data subject of a consent record (e.g. an e-mail address); stored only as a keyed pseudonym."""
    purpose: Optional[str] = _text(128)
    """What a consent record is about (e.g. ``newsletter``)."""
    consent_ref: Optional[str] = Field(default=None, min_length=1, max_length=36, pattern=r"^[0-9A-Za-z-]+$")
    """The id of the consent record (deposited in this archive, same tenant) an LRE to a consumer relies on."""
    recipient_type: Optional[RecipientType] = None
    """``consumer`` (non-professional: an LRE needs their prior consent) or ``professional``."""
    etsi_event: Optional[str] = Field(default=None, min_length=1, max_length=MAX_NAME)
    """The evidence event in ETSI terms: an EN 319 522-1 event or a TS 102 640-2 ``Type/Code``
    (:mod:`vault.lre.vocabulary`); read from an ERDS or REM evidence when not declared."""
    dkim_records: dict[str, str] = Field(default_factory=dict, max_length=16)
    """DNS TXT records captured when an e-mail was sent, by name (``sel._domainkey.example.com``): the keys DKIM
    signatures are checked with (no DNS lookup is ever made)."""
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("case_ref", "contract_number", "sender", "recipient", "subject", "purpose")
    @classmethod
    def _printable(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise ValueError("control characters are not allowed")
        return value

    @field_validator("etsi_event")
    @classmethod
    def _etsi_event(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        canonical = etsi_event_of(value)
        if canonical is None:
            raise ValueError("not an EN 319 522-1 event (e.g. SubmissionAcceptance, ConsignmentAcceptance) nor a "
                             "TS 102 640-2 Type/Code (e.g. SubmissionAcceptanceRejection/Acceptance); see docs/lre.md")
        return canonical

    @field_validator("dkim_records")
    @classmethod
    def _records(cls, value: dict[str, str]) -> dict[str, str]:
        for name, record in value.items():
            if not 0 < len(name) <= 255 or not 0 < len(record) <= 8192:
                raise ValueError("each record needs a name of 1 to 255 characters and a value of 1 to 8192")
        return value

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


def parse_metadata(raw: bytes, max_bytes: int, case_ref_required: bool = True) -> DepositMetadata:
    """Parse the ``metadata`` form field; raises :class:`MetadataError` with one entry per problem.

    ``case_ref_required=False`` when the archive can read the case reference from the content (a message
    identifier mapped by ``VAULT_CASE_REF_PATTERN``): the deposit service then checks it once the content is read.
    """
    if len(raw) > max_bytes:
        raise MetadataTooLarge(f"metadata is {len(raw)} bytes, over the {max_bytes}-byte limit")
    try:
        data = load_json(raw)
    except ValueError as exc:
        raise MetadataError(f"metadata is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MetadataError(f"metadata must be a JSON object, got {type(data).__name__}")
    try:
        meta = DepositMetadata.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]) or "metadata", "problem": _explain(err)}
            for err in exc.errors(include_url=False)
        ]
        summary = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
        raise MetadataError(f"metadata is invalid: {summary}", errors) from None
    if meta.case_ref is None and case_ref_required:
        raise MetadataError("metadata is invalid: case_ref: required", [{"field": "case_ref", "problem": "required"}])
    return meta


def _explain(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (put free-form fields under 'extra')"
    if err["type"] == "missing":
        return "required"
    return err["msg"]


class MetadataTooLarge(MetadataError):
    pass
