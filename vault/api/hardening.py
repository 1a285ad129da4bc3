"""Pure ASGI middleware for the answers' safety headers, the body read timeout and client disconnects.

Pure ASGI (not ``BaseHTTPMiddleware``): it only edits the ``http.response.start`` message and wraps ``receive``,
so a streamed download is never buffered and a deposit's chunks pass through untouched.

* ``X-Content-Type-Options: nosniff`` on every answer (WHATWG Fetch §3.5 "X-Content-Type-Options").
* ``Cache-Control: no-store`` (RFC 9111 §5.2.2.5) on JSON answers to an authenticated request (one with an
  ``Authorization`` header) unless the route set its own ``Cache-Control``: a shared cache or a browser's disk
  must not keep an archive's metadata.
* Each wait for the next body chunk is bounded (``VAULT_BODY_TIMEOUT``): a client that declares 200 MB and sends
  1 KB gets 408 (RFC 9110 §15.5.9) instead of holding the request — and its spool file — open for ever. The route
  reading the body sees :class:`BodyTimeout` (a :class:`Problem`), so the deposit reader discards its partial blob.
* A client that goes away (upload cut mid-body, download cut mid-stream) is one log line with the request id,
  not a traceback: nothing is wrong on our side and nobody is left to answer.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import ClientDisconnect, Request

from vault.api.problems import PROBLEM_JSON, Problem, problem_response

log = logging.getLogger(__name__)

_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


class BodyTimeout(Problem):
    """The client sent no body bytes for ``seconds``: answered 408, the request's partial work is discarded."""

    def __init__(self, seconds: float):
        super().__init__(408, "body-timeout", "Request body timeout",
                         f"no part of the request body arrived for {seconds:g} s (VAULT_BODY_TIMEOUT); send the "
                         "body as fast as it was declared, or retry", timeout_seconds=seconds)


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media == PROBLEM_JSON.encode() or media.endswith(b"+json")
    return False


def harden_headers(headers: list[tuple[bytes, bytes]], authenticated: bool) -> list[tuple[bytes, bytes]]:
    """The answer's headers with ``nosniff`` and, for authenticated JSON, ``no-store`` added where missing."""
    names = {name.lower() for name, _ in headers}
    extra = []
    if _NOSNIFF[0] not in names:
        extra.append(_NOSNIFF)
    if authenticated and b"cache-control" not in names and _is_json(headers):
        extra.append(_NO_STORE)
    return headers + extra if extra else headers


class HardeningMiddleware:
    def __init__(self, app, body_timeout: float):
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        authenticated = any(name == b"authorization" for name, _ in scope.get("headers", ()))
        state = {"started": False, "complete": False, "body_done": False, "answered": False}

        async def guarded_send(message):
            if state["answered"]:
                return  # a 408 already went out: the route's own answer to its BodyTimeout is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
                message["headers"] = harden_headers(list(message.get("headers", ())), authenticated)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                state["complete"] = True
            await send(message)

        async def timed_receive():
            if state["body_done"]:
                return await receive()  # waiting for http.disconnect only: no bound
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                problem = BodyTimeout(self.body_timeout)
                log.warning("request %s: %s", _request_id(scope), problem.detail)
                if not state["started"]:
                    await problem_response(Request(scope), problem)(scope, receive, guarded_send)
                    state["answered"] = True
                raise problem from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                state["body_done"] = True
            return message

        try:
            await self.app(scope, timed_receive, guarded_send)
        except BodyTimeout:
            if not state["answered"]:
                raise
        except ClientDisconnect:  # an upload cut mid-body (or, on ASGI spec 2.4 servers, a download cut)
            _went_away(scope, state["started"])
        else:
            if state["started"] and not state["complete"]:  # a streamed answer stopped: its reader left
                _went_away(scope, True)


def _went_away(scope, during: bool) -> None:
    log.info("request %s: %s %s: the client went away %s the answer", _request_id(scope), scope.get("method"),
             scope.get("path"), "during" if during else "before")


def _request_id(scope) -> str:
    return scope.get("state", {}).get("request_id", "-")
