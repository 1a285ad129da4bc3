"""The console's caller: a signed-in session, checked against the one authorization table, and CSRF.

:func:`current_visitor` is to the console what :func:`vault.api.access.current_caller` is to the API: it finds
the session from its cookie, resolves the key again by its digest (a revoked or expired key ends the session within
the key ring's cache time), checks every permission ``ROUTES`` gives the matched route (a refusal is journaled and
answered 403 by :func:`vault.api.security.authorize`, as for the API), and for a ``POST`` checks the form's CSRF
token against the session's (synchronizer token, OWASP CSRF Prevention Cheat Sheet).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from vault.api.access import rule_for
from vault.api.security import authorize, deny, get_vault, journal, request_id, route_family
from vault.auth.roles import Principal
from vault.console.sessions import COOKIE, Session, SessionStore
from vault.journal.entries import AccessEvent, Action, Outcome

CSRF_FIELD = "csrf"


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page (303), coming back to ``next`` after."""

    def __init__(self, next_path: str):
        self.next_path = next_path


def sessions(request: Request) -> SessionStore:
    return request.app.state.console_sessions


def session_of(request: Request) -> Session | None:
    return sessions(request).get(request.cookies.get(COOKIE))


async def current_visitor(request: Request) -> Principal:
    """The signed-in principal, holding every permission the route's rule names (303 to sign in, 403 journaled)."""
    session = session_of(request)
    if session is None:
        raise SignInRequired(request.url.path if request.method == "GET" else "/ui/")
    principal = get_vault(request).keys.resolve_digest(session.key_digest)
    if principal is None:  # revoked or expired since sign-in: the session ends, journaled like an unknown key
        sessions(request).close(request.cookies.get(COOKIE))
        await journal(request, AccessEvent(
            actor="anonymous", action=Action.ACCESS_DENIED, outcome=Outcome.DENIED, request_id=request_id(request),
            detail={"reason": "the console session's API key was revoked or expired", "method": request.method,
                    "route": route_family(request)}))
        raise SignInRequired("/ui/")
    if request.method == "POST":
        form = await request.form()
        if not secrets.compare_digest(str(form.get(CSRF_FIELD, "")), session.csrf):
            await deny(request, principal, "the form's CSRF token does not match this session: reload the page",
                       slug="csrf", title="Invalid form token")
    request.state.principal = principal  # before the checks: a refusal's page still shows who is signed in
    for permission in rule_for(request).permissions:
        await authorize(request, principal, permission)
    return principal


current_visitor.authorizes_by_table = True  # type: ignore[attr-defined]  # vault.api.access.check_table

Visitor = Annotated[Principal, Depends(current_visitor)]
"""A console page's visitor, signed in and authorized by the table."""
