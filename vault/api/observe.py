"""Pure ASGI middleware counting each deposit's outcome (:mod:`vault.monitoring.outcomes`) as it is answered,
whatever answered it: the route, a guard (journal fork, body limits) or an unhandled error (counted as failed)."""

from __future__ import annotations

from vault.monitoring.outcomes import outcome_of

DEPOSIT = ("POST", "/v1/objects")


class ObserveMiddleware:
    def __init__(self, app, vault):
        self.app = app
        self.vault = vault

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or (scope["method"], scope["path"].rstrip("/")) != DEPOSIT:
            return await self.app(scope, receive, send)
        status = 500

        async def send_observed(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            principal = scope.get("state", {}).get("principal")
            tenant = principal.tenant if principal is not None else "-"
            self.vault.deposit_outcomes.record(tenant, outcome_of(status))
