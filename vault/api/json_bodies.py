"""Pure ASGI middleware bounding JSON request bodies before FastAPI parses them: size and nesting depth.

FastAPI reads a body as JSON when its ``Content-Type`` is ``application/json``, ``application/*+json`` or absent;
a body nested a thousand levels deep would make its parser or the model validation recurse until Python gives
up. RFC 8259 §9 lets a parser bound nesting: the body is scanned (no recursion) and refused with 422 when deeper
than :data:`vault.limits.MAX_JSON_DEPTH`, with 413 when larger than :data:`MAX_JSON_BODY`.
"""

from __future__ import annotations

from starlette.requests import Request

from vault.api.problems import Problem, problem_response
from vault.limits import MAX_JSON_DEPTH, TooDeep, json_depth_within

MAX_JSON_BODY = 16 * 1024 * 1024
"""The largest JSON request body (a disposal proposal of 100 000 object ids fits)."""


def _parsed_as_json(scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
    return True


class JsonBodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _parsed_as_json(scope):
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nothing to answer
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > MAX_JSON_BODY:
                return await self._refuse(scope, receive, send, Problem(
                    413, "body-too-large", "Request body too large",
                    f"a JSON request body is limited to {MAX_JSON_BODY} bytes", max_bytes=MAX_JSON_BODY))
        body = b"".join(chunks)
        try:
            json_depth_within(body, MAX_JSON_DEPTH)
        except TooDeep as exc:
            return await self._refuse(scope, receive, send, Problem(
                422, "invalid-request", "Invalid request", f"body: {exc}",
                errors=[{"field": "body", "problem": str(exc)}]))
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope, receive, send, problem: Problem) -> None:
        await problem_response(Request(scope), problem)(scope, receive, send)
