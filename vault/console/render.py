"""Pages as HTML: Jinja2 templates (autoescaped), the navigation, error pages, and the console's safety headers.

Every ``/ui`` answer carries a strict Content-Security-Policy (CSP Level 3: nothing but this origin's own files,
no inline script or style, no framing, forms only to this origin, no ``<base>``), so an injected string can
neither run script nor send a form elsewhere; pages are never cached (RFC 9111 §5.2.2.5).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from vault.api.problems import Problem
from vault.auth.roles import Permission, Principal
from vault.console import i18n
from vault.console.guard import session_of

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store"}


@dataclass(frozen=True)
class NavItem:
    """A link of the header's navigation, shown to visitors whose key holds ``permission``."""

    path: str
    label: str  # a message key
    permission: Permission


NAV = [
    NavItem("/ui/search", "nav.search", Permission.SEARCH),
    NavItem("/ui/holds", "nav.holds", Permission.READ_RETENTION),
    NavItem("/ui/disposal", "nav.disposal", Permission.READ_RETENTION),
    NavItem("/ui/journal", "nav.journal", Permission.READ_JOURNAL),
    NavItem("/ui/keys", "nav.keys", Permission.MANAGE_KEYS),
    NavItem("/ui/policies", "nav.policies", Permission.READ_POLICIES),
    NavItem("/ui/inventory", "nav.inventory", Permission.MANAGE_SEALS),
    NavItem("/ui/alerts", "nav.alerts", Permission.READ_ALERTS),
    NavItem("/ui/kpis", "nav.kpis", Permission.READ_KPIS),
]

_env = Environment(loader=PackageLoader("vault.console", "templates"), autoescape=select_autoescape(default=True),
                   trim_blocks=True, lstrip_blocks=True)


def page(request: Request, template: str, *, status: int = 200, title: str, **context) -> HTMLResponse:
    """Render ``template`` in the visitor's language, with the navigation their key allows and the CSRF token."""
    t = i18n.Translator(i18n.language(request))
    principal: Principal | None = getattr(request.state, "principal", None)
    session = session_of(request)
    html = _env.get_template(template).render(
        t=t, lang=t.lang, title=title, principal=principal, path=request.url.path,
        nav=[item for item in NAV if principal and principal.may(item.permission)],
        csrf=session.csrf if session else "", request=request,
        sandbox=request.app.state.vault.settings.sandbox, **context)
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    if request.query_params.get("lang") in i18n.LANGUAGES:  # the language switch: remembered for the next pages
        response.set_cookie(i18n.COOKIE, t.lang, max_age=365 * 86400, path="/ui", samesite="strict",
                            secure=request.url.scheme == "https", httponly=True)
    return response


def translator(request: Request) -> i18n.Translator:
    return i18n.Translator(i18n.language(request))


def error_page(request: Request, problem: Problem) -> HTMLResponse:
    """A problem (the same the API would answer) as a page: a translated heading, the service's own detail."""
    t = translator(request)
    key = f"error.{problem.status}" if f"error.{problem.status}" in i18n.catalog("en") else "error.other"
    response = page(request, "error.html", status=problem.status, title=t(key), problem=problem, heading=key)
    for name, value in problem.headers.items():
        response.headers.setdefault(name, value)
    return response


class ConsoleHeaders:
    """Pure ASGI: adds :data:`HEADERS` to every answer under ``/ui`` (pages, redirects, errors, static files; a
    static file keeps its own cache validators)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not (scope["path"] == "/ui" or scope["path"].startswith("/ui/")):
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/ui/static/")

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                for name, value in HEADERS.items():
                    if name.lower().encode() not in present and not (static and name == "Cache-Control"):
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
