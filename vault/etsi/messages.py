"""Messages of ETSI TS 119 512 clause 5.3, as JSON objects carrying the specification's element names.

Every request extends the Request component (clause 5.3.1.1: ``RequestID``, ``Profile``, ``OptionalInputs``) and
every response the Response component (clause 5.3.1.2: ``RequestID``, ``OptionalOutputs``, ``Result``). ``Result``
is the OASIS DSS-X core ``Result`` (``ResultMajor``, ``ResultMinor``, ``ResultMessage``) the specification
reuses. vault's own inputs (deposit metadata, a correction's reason) travel in ``OptionalInputs`` under ``vault:``
names, the extension point the specification leaves for them. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

DSS = "urn:oasis:names:tc:dss:1.0:resultmajor:"
SUCCESS = DSS + "Success"
REQUESTER_ERROR = DSS + "RequesterError"
RESPONDER_ERROR = DSS + "ResponderError"
PENDING = "urn:oasis:names:tc:dss:1.0:profiles:asynchronousprocessing:resultmajor:Pending"
# Minor codes: vault's own URIs (the specification lets a service define them, clause 5.3.1.2); the slug of the
# RFC 9457 problem the REST API answers for the same failure.
MINOR = "urn:vault:etsi:119512:resultminor:"
VALID = MINOR + "valid"
INVALID = MINOR + "invalid"

RETRIEVAL_SUBJECTS = ("PO", "Evidence", "POwithDetachedEvidence", "POwithEmbeddedEvidence")  # clause 5.4.9
SEARCH_FIELDS = ("case_ref", "contract_number", "sender", "recipient", "party", "event_type", "kind", "verdict",
                 "format", "format_puid", "policy")


class MessageError(ValueError):
    """The request is not a well-formed message of the operation (a RequesterError, HTTP 422)."""


def result(major: str = SUCCESS, minor: str | None = None, message: str | None = None) -> dict[str, Any]:
    """The ``Result`` element (OASIS DSS-X core, reused by clause 5.3.1.2)."""
    answer: dict[str, Any] = {"ResultMajor": major}
    if minor:
        answer["ResultMinor"] = minor
    if message:
        answer["ResultMessage"] = {"lang": "en", "value": message}
    return answer


def response(request: dict, major: str = SUCCESS, minor: str | None = None, message: str | None = None,
             outputs: dict | None = None, **elements: Any) -> dict[str, Any]:
    """A Response (clause 5.3.1.2): the request's ``RequestID`` echoed, ``Result`` and the operation's elements."""
    answer: dict[str, Any] = {}
    if isinstance(request.get("RequestID"), str):
        answer["RequestID"] = request["RequestID"]
    if outputs:
        answer["OptionalOutputs"] = outputs
    answer["Result"] = result(major, minor, message)
    answer.update({k: v for k, v in elements.items() if v is not None})
    return answer


def error_result(status: int, slug: str, detail: str) -> dict[str, Any]:
    """The ``Result`` of a failure the REST API answers with ``status`` and problem ``slug``: a RequesterError for
    4xx, a ResponderError for 5xx."""
    return result(REQUESTER_ERROR if status < 500 else RESPONDER_ERROR, MINOR + slug, detail)


def text(request: dict, name: str, required: bool = True, max_length: int = 256) -> str | None:
    value = request.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise MessageError(f"{name} must be a string of 1 to {max_length} characters")
    return value


def options(request: dict) -> dict:
    """``OptionalInputs`` (clause 5.3.1.1), an object or absent."""
    value = request.get("OptionalInputs", {})
    if not isinstance(value, dict):
        raise MessageError("OptionalInputs must be an object")
    return value


def b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise MessageError(f"{name} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MessageError(f"{name} is not valid base64") from None


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Submission:
    """One PO of a PreservePO request (clause 5.3.3.1) as a deposit: its bytes, media type, file name and the
    deposit metadata (``OptionalInputs["vault:Metadata"]``, with ``policy`` taken from the ``Profile``)."""

    content: bytes
    media_type: str | None
    filename: str | None
    metadata: bytes


def submission(request: dict, policy_of_profile) -> Submission:
    """Read a PreservePO request holding exactly one ``PO`` with ``Binary`` data (``Value`` base64, optional
    ``MimeType``); ``policy_of_profile(uri)`` is the retention policy a profile URI names (None: unknown)."""
    profile = text(request, "Profile", max_length=512)
    policy = policy_of_profile(profile)
    if policy is None:
        raise MessageError(f"Profile {profile!r} is not a profile of this service (RetrieveInfo lists them)")
    items = request.get("PO")
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise MessageError("PO must be a list of exactly one preservation object (one deposit per request)")
    po = items[0]
    binary = po.get("Binary")
    if not isinstance(binary, dict):
        raise MessageError("PO[0].Binary must be an object with Value (base64) and optionally MimeType")
    metadata = options(request).get("vault:Metadata", {})
    if not isinstance(metadata, dict):
        raise MessageError("OptionalInputs['vault:Metadata'] must be an object")
    mime = binary.get("MimeType")
    return Submission(content=b64(binary.get("Value"), "PO[0].Binary.Value"),
                      media_type=mime if isinstance(mime, str) else None,
                      filename=po.get("ID") if isinstance(po.get("ID"), str) else None,
                      metadata=json.dumps({**metadata, "policy": policy}).encode())


def subject_of_retrieval(request: dict) -> str:
    """``SubjectOfRetrieval`` (clause 5.4.9), ``POwithDetachedEvidence`` when absent."""
    subject = request.get("SubjectOfRetrieval", "POwithDetachedEvidence")
    if subject not in RETRIEVAL_SUBJECTS:
        raise MessageError(f"SubjectOfRetrieval must be one of {', '.join(RETRIEVAL_SUBJECTS)}")
    return subject


def search_terms(request: dict) -> dict[str, str]:
    """The ``Filter`` of a Search request (clause 5.3.9.1) as search terms: the query string ``GET /v1/objects``
    takes (``case_ref=…&policy=…``), restricted to its text fields."""
    query = text(request, "Filter", max_length=2000)
    terms = dict(parse_qsl(query, keep_blank_values=False))
    unknown = sorted(set(terms) - set(SEARCH_FIELDS))
    if unknown:
        raise MessageError(f"Filter names unknown fields {', '.join(unknown)}; known: {', '.join(SEARCH_FIELDS)}")
    return terms
