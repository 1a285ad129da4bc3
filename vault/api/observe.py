"""Pure ASGI middleware counting each deposit's outcome (:mod:`vault.monitoring.outcomes`) as it is answered,
whatever answered it: the route, a guard (journal fork, body limits) or an unhandled error (counted as failed)."""

from __future__ import annotations

from vault.monitoring.outcomes import outcome_of

DEPOSIT = ("POST", "/v1/objects")


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
        if scope["type"] != "http" or (scope["method"], scope["path"].rstrip("/")) != DEPOSIT:
            return await self.app(scope, receive, send)
        answer = AnswerStatus(send)
        try:
            await self.app(scope, receive, answer)
        finally:
            principal = scope.get("state", {}).get("principal")
            tenant = principal.tenant if principal is not None else "-"
            self.vault.deposit_outcomes.record(tenant, outcome_of(answer.status))
