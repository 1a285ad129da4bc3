"""Pure ASGI middleware: while the journal is forked (:mod:`vault.journal.fork`), every write answers 503.

A write is any request that is not GET, HEAD or OPTIONS: a deposit, a key, a hold, a disposal, an erasure. Reads
go on, and are journaled on the surviving log (a consultation is never served untraced). The answer is RFC 9457
problem+json ``journal-fork`` naming the anchor and the sizes; ``vault journal accept-fork`` and a restart end it.
"""

from __future__ import annotations

from starlette.requests import Request

from vault.api.problems import Problem, problem_response

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class JournalForkGuard:
    def __init__(self, app, vault):
        self.app = app
        self.vault = vault

    async def __call__(self, scope, receive, send):
        fork = self.vault.fork
        if fork is None or scope["type"] != "http" or scope["method"] in SAFE:
            return await self.app(scope, receive, send)
        problem = Problem(503, "journal-fork", "Journal fork: writes refused",
                          f"{fork.describe()}; an operator must investigate and run "
                          f"`vault journal accept-fork --reason …` before writes resume",
                          headers={"Retry-After": "3600"}, **fork.detail())
        await problem_response(Request(scope), problem)(scope, receive, send)
