"""The OpenAPI document, completed once from declared rules instead of ``responses=`` on every route.

Every error answer is an RFC 9457 problem document (``application/problem+json``, §3), so each operation lists the
error statuses it can realistically answer, derived from the route's shape (a path id: 404; input: 422; a body:
413; a key needed: 401 and 403) plus the few declared below, each with the Problem schema. The deposit gets a
complete example request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from vault.api.access import ROUTES
from vault.api.problems import PROBLEM_JSON
from vault.api.schemas import Problem
from vault.limits import INT64_MAX, INT64_MIN

PUBLIC = {(method.lower(), re.sub(r":\w+}", "}", path)) for (method, path), rule in ROUTES.items() if rule.public}
"""Operations answered without an API key, from the authorization table (paths as OpenAPI writes them)."""

DECLARED: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/objects"): (400, 409, 415),
    ("get", "/v1/objects/{object_id}/content"): (410,),
    ("get", "/v1/objects/{object_id}/validation-report"): (410,),
    ("get", "/v1/objects/{object_id}/evidence-record"): (409,),
    ("delete", "/v1/objects/{object_id}"): (409, 410),
    ("patch", "/v1/objects/{object_id}/retention-start"): (409,),
    ("post", "/v1/objects/{object_id}/policy"): (409,),
    ("delete", "/v1/holds/{hold_id}"): (409,),
    ("post", "/v1/disposal/batches"): (409,),
    ("post", "/v1/disposal/batches/{batch_id}/approve"): (409,),
    ("post", "/v1/disposal/batches/{batch_id}/execute"): (409,),
    ("post", "/v1/disposal/batches/{batch_id}/veto"): (409,),
    ("get", "/v1/disposal/batches/{batch_id}/certificate"): (409,),
    ("get", "/v1/disposal/batches/{batch_id}/certificate.pdf"): (409,),
    ("delete", "/v1/keys/{key_id}"): (409,),
    ("post", "/v1/keys/{key_id}/rotate"): (409,),
    ("post", "/v1/admin/reseal"): (409, 503),
    ("post", "/v1/tsa"): (400, 415),
}
"""Statuses a route answers beyond what its shape implies (conflicts, gone content, unusable bodies)."""

MEANING = {400: "Malformed request", 401: "Missing, unknown, expired or revoked API key",
           403: "The key's role or tenant does not allow this", 404: "No such resource visible to this key",
           409: "Conflicts with the resource's state", 410: "Destroyed after its retention ended",
           413: "Body too large", 415: "Unsupported media type",
           422: "Invalid parameters or body (each field's problem is listed in 'errors')",
           503: "A dependency (the TSA) is unavailable; retry after Retry-After"}

DEPOSIT_EXAMPLE = {
    "file": "%PDF-1.7 … (the proof file's bytes)",
    "metadata": json.dumps({"case_ref": "LRE-2026-000123", "policy": "lre-proof", "kind": "lre-evidence",
                            "event_type": "receipt", "event_time": "2026-03-01T09:30:00+01:00",
                            "sender": "sender@example.org", "recipient": "recipient@example.net",
                            "contract_number": "C-42", "extra": {"channel": "lre"}}),
}
_METHODS = ("get", "put", "post", "delete", "patch")


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer, by the rules above."""
    codes = set(DECLARED.get((method, path), ()))
    if (method, path) not in PUBLIC:
        codes |= {401, 403}
    if "{" in path:
        codes.add(404)
    if operation.get("parameters") or operation.get("requestBody"):
        codes.add(422)
    if operation.get("requestBody"):
        codes.add(413)
    return sorted(codes)


def _problem_response(status: int) -> dict[str, Any]:
    return {"description": MEANING.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _integer_bounds(node: Any) -> None:
    """Write the bounds of integer schemas as integers: generated as floats, 2**63 - 1 would round to 2**63 and
    put a value out of 64 bits inside the documented range."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for bound in ("minimum", "maximum"):
                if isinstance(node.get(bound), float):
                    node[bound] = max(INT64_MIN, min(INT64_MAX, int(node[bound])))
        for value in node.values():
            _integer_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _integer_bounds(value)


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite every operation's error responses to the realistic problem+json set, add the deposit example."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = {code: answer for code, answer in operation.get("responses", {}).items()
                         if not re.fullmatch(r"[45]\d\d", code)}
            responses.update({str(code): _problem_response(code) for code in error_statuses(method, path, operation)})
            operation["responses"] = responses
    form = document["paths"]["/v1/objects"]["post"]["requestBody"]["content"]["multipart/form-data"]
    form["example"] = DEPOSIT_EXAMPLE
    _integer_bounds(document)
    return document


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) answer the completed document, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(title=app.title, version=app.version, summary=app.summary,
                                                      description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi
