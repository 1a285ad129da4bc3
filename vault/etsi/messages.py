"""Messages of ETSI TS 119 512 clause 5.3 in its JSON syntax (member names: :mod:`vault.etsi.names`).

Every request extends the Request component (clause 5.3.1.1: ``reqId``, ``optIn``) and every response the Response
component (clause 5.3.1.2: ``reqId``, ``optOut``, ``result``). ``result`` is the OASIS DSS-X 2.0 ``Result`` in its
JSON form (``maj``, ``min``, ``msg``). Minor codes are the specification's ``http://uri.etsi.org/19512/error/…``
URIs where one fits, vault's own otherwise. vault's own inputs (deposit metadata, a correction's reason) travel in
``optIn`` under ``vault:`` names, the extension point the specification leaves for them. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from vault.etsi.names import DIGEST_LIST_FORMAT

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
ETSI_ERROR = "http://uri.etsi.org/19512/error/"
# The problem slugs that have an error code of the specification (its http://uri.etsi.org/19512/error/ URIs, as
# the independent UCLouvain implementation answers them; see docs/etsi-119512.md).
ETSI_MINOR = {"unknown-object": "unknownPOID", "invalid-message": "parameterError", "forbidden": "noPermission",
              "unsupported-subject": "notSupported", "unsupported-format": "unknownPOFormat",
              "insufficient-storage": "noSpaceError", "storage-unavailable": "externalServiceUnavailable",
              "internal-error": "internalError"}

RETRIEVAL_SUBJECTS = ("PO", "Evidence", "POwithDetachedEvidence", "POwithEmbeddedEvidence")  # clause 5.4.9
SEARCH_FIELDS = ("case_ref", "contract_number", "sender", "recipient", "party", "event_type", "kind", "verdict",
                 "format", "format_puid", "policy")


class MessageError(ValueError):
    """The request is not a well-formed message of the operation, or asks for what vault does not offer (a
    RequesterError, HTTP 422, with problem ``slug``)."""

    def __init__(self, message: str, slug: str = "invalid-message"):
        super().__init__(message)
        self.slug = slug


def result(major: str = SUCCESS, minor: str | None = None, message: str | None = None) -> dict[str, Any]:
    """The ``result`` member (OASIS DSS-X 2.0 ``Result`` in JSON, reused by clause 5.3.1.2)."""
    answer: dict[str, Any] = {"maj": major}
    if minor:
        answer["min"] = minor
    if message:
        answer["msg"] = {"lang": "en", "value": message}
    return answer


def response(request: dict, major: str = SUCCESS, minor: str | None = None, message: str | None = None,
             outputs: dict | None = None, **elements: Any) -> dict[str, Any]:
    """A Response (clause 5.3.1.2): the request's ``reqId`` echoed, ``result`` and the operation's members."""
    answer: dict[str, Any] = {}
    if isinstance(request.get("reqId"), str):
        answer["reqId"] = request["reqId"]
    if outputs:
        answer["optOut"] = outputs
    answer["result"] = result(major, minor, message)
    answer.update({k: v for k, v in elements.items() if v is not None})
    return answer


def error_result(status: int, slug: str, detail: str) -> dict[str, Any]:
    """The ``result`` of a failure the REST API answers with ``status`` and problem ``slug``: a RequesterError for
    4xx, a ResponderError for 5xx; the specification's error URI when one fits the slug."""
    minor = ETSI_ERROR + ETSI_MINOR[slug] if slug in ETSI_MINOR else MINOR + slug
    return result(REQUESTER_ERROR if status < 500 else RESPONDER_ERROR, minor, detail)


def text(request: dict, name: str, required: bool = True, max_length: int = 256) -> str | None:
    value = request.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise MessageError(f"{name} must be a string of 1 to {max_length} characters")
    return value


def options(request: dict) -> dict:
    """``optIn`` (clause 5.3.1.1), an object or absent."""
    value = request.get("optIn", {})
    if not isinstance(value, dict):
        raise MessageError("optIn must be an object")
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
    deposit metadata (``optIn["vault:Metadata"]``, with ``policy`` taken from the profile ``pro``)."""

    content: bytes
    media_type: str | None
    filename: str | None
    metadata: bytes


def submission(request: dict, policy_of_profile) -> Submission:
    """Read a PreservePO request (clause 5.3.3.1, Table 3) holding exactly one ``po`` (Table 20) with
    ``binaryData.value`` (base64), optional ``mimeType`` and ``id``; ``policy_of_profile(uri)`` is the retention
    policy a profile URI names (None: unknown)."""
    profile = text(request, "pro", max_length=512)
    policy = policy_of_profile(profile)
    if policy is None:
        raise MessageError(f"pro {profile!r} is not a profile of this service (RetrieveInfo lists them)")
    items = request.get("po")
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise MessageError("po must be a list of exactly one preservation object (one deposit per request)")
    po = items[0]
    if po.get("formatId") == DIGEST_LIST_FORMAT:
        raise MessageError("this service preserves data, not digest lists: send the data in po[0].binaryData",
                           "unsupported-format")
    binary = po.get("binaryData")
    if not isinstance(binary, dict):
        raise MessageError("po[0].binaryData must be an object with value (base64)")
    metadata = options(request).get("vault:Metadata", {})
    if not isinstance(metadata, dict):
        raise MessageError("optIn['vault:Metadata'] must be an object")
    mime = po.get("mimeType", binary.get("MimeType"))
    return Submission(content=b64(binary.get("value"), "po[0].binaryData.value"),
                      media_type=mime if isinstance(mime, str) else None,
                      filename=po.get("id") if isinstance(po.get("id"), str) else None,
                      metadata=json.dumps({**metadata, "policy": policy}).encode())


def subject_of_retrieval(request: dict) -> str:
    """``sor`` (clause 5.4.9). Absent, clause 5.3.4.1.1 means ``POwithEmbeddedEvidence``, which vault cannot
    give: it answers ``POwithDetachedEvidence`` instead (docs/etsi-119512.md)."""
    subject = request.get("sor", "POwithDetachedEvidence")
    if isinstance(subject, dict):  # the SubjectOfRetrieval component, {"value": …} (Table 22)
        subject = subject.get("value")
    if subject not in RETRIEVAL_SUBJECTS:
        raise MessageError(f"sor must be one of {', '.join(RETRIEVAL_SUBJECTS)}")
    return subject


def search_terms(request: dict) -> dict[str, str]:
    """The filter ``fi`` of a Search request (clause 5.3.9.1, Table 14) as search terms: the query string
    ``GET /v1/objects`` takes (``case_ref=…&policy=…``), restricted to its text fields."""
    query = text(request, "fi", max_length=2000)
    terms = dict(parse_qsl(query, keep_blank_values=False))
    unknown = sorted(set(terms) - set(SEARCH_FIELDS))
    if unknown:
        raise MessageError(f"fi names unknown fields {', '.join(unknown)}; known: {', '.join(SEARCH_FIELDS)}")
    return terms


def event(entry: dict, poid: str) -> dict[str, Any]:
    """One journal entry of the PO as an Event of its Trace (Table 18: ``time``, ``sub`` the acting key, ``op`` the
    journaled action, ``obj`` the PO, ``det`` the whole entry, which its journal proof covers)."""
    return {"time": entry.get("time"), "sub": entry.get("actor"), "op": entry.get("action"), "obj": poid,
            "det": entry}
