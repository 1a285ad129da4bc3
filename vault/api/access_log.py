"""Pure ASGI middleware writing one ``vault.access`` record per answered request (with ``VAULT_LOG_FORMAT=json``).

A record holds the request id, the caller's tenant, the method, the route *template* (``/v1/objects/{object_id}``,
never the concrete path: ids, case references and query strings stay out of logs), the status and the duration.
No header, query value or body is ever read, so no key or personal value can reach the log.
"""

from __future__ import annotations

import logging
import time

from vault.api.observe import AnswerStatus, matched_route

log = logging.getLogger("vault.access")


class AccessLogMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        answer = AnswerStatus(send)
        try:
            await self.app(scope, receive, answer)
        finally:
            status = answer.status
            state = scope.get("state", {})
            principal = state.get("principal")
            route = matched_route(scope)
            log.info("%s %s %d", scope["method"], route or "-", status, extra={
                "request_id": state.get("request_id"), "tenant": principal.tenant if principal is not None else None,
                "method": scope["method"], "route": route, "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3)})
