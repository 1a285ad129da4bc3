"""Pure ASGI middleware measuring every HTTP request: its duration by route template and method
(``vault_http_request_duration_seconds``, vault.monitoring.histogram) and, for a deposit, its outcome
(:mod:`vault.monitoring.outcomes`), whatever answered it: the route, a guard (journal fork, body limits) or an
unhandled error (counted as failed)."""

from __future__ import annotations

import time

from starlette.routing import Match

from vault.monitoring.outcomes import outcome_of

DEPOSIT = ("POST", "/v1/objects")
OTHER = "other"  # the route label of a path no route matches: the label set stays bounded
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope) -> str:
    """The template of the route that served (or would serve) the request, e.g. ``/v1/objects/{object_id}``;
    :data:`OTHER` for a path no route matches."""
    return matched_route(scope) or OTHER


def matched_route(scope) -> str | None:
    """The template of the route that served (or would serve) the request; None for a path no route matches. A
    guard that answered before routing leaves no route in the scope: the router's routes are matched then."""
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        for candidate in getattr(getattr(app, "router", None), "routes", ()):
            if candidate.matches(scope)[0] is not Match.NONE:
                route = candidate
                break
    return getattr(route, "path", None)


class AnswerStatus:
    """A ``send`` that remembers the status of the answer it passes on (500 while none has started: the error
    handler outside the middlewares answers 500 to what raises)."""

    def __init__(self, send):
        self.send = send
        self.status = 500

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


class ObserveMiddleware:
    def __init__(self, app, vault):
        self.app = app
        self.vault = vault

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        answer = AnswerStatus(send)
        started = time.monotonic()
        try:
            await self.app(scope, receive, answer)
        finally:
            method = scope["method"] if scope["method"] in METHODS else OTHER
            self.vault.request_latency.observe((route_template(scope), method), time.monotonic() - started)
            if (scope["method"], scope["path"].rstrip("/")) == DEPOSIT:
                principal = scope.get("state", {}).get("principal")
                tenant = principal.tenant if principal is not None else "-"
                self.vault.deposit_outcomes.record(tenant, outcome_of(answer.status))
