"""Every answer of a sandbox says so (issue #23): a top-level ``"sandbox": true`` in each JSON object the app builds
(``application/json`` and RFC 9457 ``application/problem+json``: views, pages, errors, the ETSI binding, /health,
/ready), and a ``Vault-Sandbox: true`` header on every answer, JSON or not. Outside a sandbox, neither.

The member is added where the JSON is rendered: :class:`JSONResponse` is the app's default response class and the
one every route and the problem handlers use. No body is parsed again and nothing is buffered; streams and bytes
that are signed or whose digest is published (contents, JWS, evidence records, packages, journal tiles and
checkpoints, NDJSON) go out through other response classes, and a JSON document that is itself an issued
artifact goes out as :class:`ArtifactJSON`: their bytes never change. A top-level JSON array would lose its
shape, so it is left as it is (the API answers none: every list is a page object); the header marks it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import orjson
from starlette.responses import JSONResponse as ArtifactJSON

SANDBOX_HEADER = "Vault-Sandbox"
_HEADER = (SANDBOX_HEADER.lower().encode(), b"true")
SANDBOX_NOTE = ("On a sandbox instance (`VAULT_SANDBOX=true`, docs/sandbox.md) every answer carries the header "
                "`Vault-Sandbox: true`, and every JSON object answered (`application/json`, "
                "`application/problem+json`) also carries a top-level member `\"sandbox\": true`, not repeated in "
                "each schema below; signed documents (JWS, destruction certificates) keep their signed shape. Nothing "
                "a sandbox issues has probative value. A real archive answers neither.")
_MARKED_TYPES = frozenset({"application/json", "application/problem+json"})
_in_sandbox: ContextVar[bool] = ContextVar("vault_sandbox_answer", default=False)

__all__ = ["ArtifactJSON", "JSONResponse", "SandboxAnswers", "SANDBOX_HEADER", "SANDBOX_NOTE"]


class JSONResponse(ArtifactJSON):
    """Starlette's JSON answer, with ``"sandbox": true`` first in a JSON object rendered while a sandbox answers
    (unless the object already says ``sandbox`` itself, as the marked documents of :func:`vault.sandbox.marked`
    do: a member is never written twice). Costs one dict copy of the top level, in a sandbox only.

    Rendered by orjson: the same compact UTF-8 bytes as Starlette's ``json.dumps`` for strings, integers, booleans
    and null (a float may be spelled another way for the same number, ``1e16`` for ``1e+16``), in a fraction of the
    time (a page of 40 objects: 14 µs instead of 0.21 ms, of a search's ~5 ms of server CPU). What orjson refuses (an
    integer beyond 64 bits, a key that is not a string) goes the ``json`` module's way, as before."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, dict) and _in_sandbox.get() and "sandbox" not in content \
                and self.media_type in _MARKED_TYPES:
            content = {"sandbox": True, **content}
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError: the json module's way (and its error, if it has one)
            return super().render(content)


class SandboxAnswers:
    """Pure ASGI middleware of a sandbox app, outermost: marks the request's context so :class:`JSONResponse`
    adds the member, and adds ``Vault-Sandbox: true`` to every answer's headers (never touching a body)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_marked(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), _HEADER]
            await send(message)

        token = _in_sandbox.set(True)
        try:
            await self.app(scope, receive, send_marked)
        finally:
            _in_sandbox.reset(token)
