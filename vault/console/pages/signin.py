"""Sign-in (an API key exchanged for a server-side session), sign-out, and the way in (``/`` and ``/ui/``).

The sign-in form is itself protected from login CSRF by a double-submit token: a random value in a
``SameSite=Strict`` cookie that the form must repeat (OWASP CSRF Prevention Cheat Sheet, "Login CSRF").
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from vault.api.security import get_vault, journal, request_id
from vault.auth.keys import hash_secret
from vault.console.guard import CSRF_FIELD, SignInRequired, session_of, sessions
from vault.console.render import NAV, page, translator
from vault.console.sessions import COOKIE
from vault.journal.entries import AccessEvent, Action, Outcome
from vault.api.sandbox_answers import JSONResponse

router = APIRouter(default_response_class=JSONResponse, include_in_schema=False)
SIGN_IN = "/ui/sign-in"
PRE_SESSION = "vault_signin"


def safe_next(path: str | None) -> str:
    """Only a console path: a sign-in never redirects to another site (CWE-601)."""
    if path and path.startswith("/ui/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/ui/"


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/ui", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def _form(request: Request, next_path: str, status: int = 200, error: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, "sign_in.html", status=status, title=translator(request)("signin.title"),
                    next_path=safe_next(next_path), signin_token=token, error=error)
    _cookie(response, request, PRE_SESSION, token)
    return response


@router.get("/")
async def root():
    """A browser that opens the service lands on the console."""
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/")
async def home(request: Request):
    """The first page the visitor's key allows, or the sign-in form."""
    session = session_of(request)
    principal = session and get_vault(request).keys.resolve_digest(session.key_digest)
    if not principal:
        return RedirectResponse(SIGN_IN, status_code=303)
    first = next((item.path for item in NAV if principal.may(item.permission)), None)
    if first:
        return RedirectResponse(first, status_code=303)
    request.state.principal = principal
    return page(request, "home.html", title=translator(request)("home.title"))


@router.get(SIGN_IN)
async def sign_in_form(request: Request, next: str | None = None):
    return _form(request, next or "/ui/")


@router.post(SIGN_IN)
async def sign_in(request: Request, api_key: str = Form(max_length=200), csrf: str = Form(max_length=100),
                  next: str = Form(default="/ui/", max_length=2000)):
    """Exchange a key for a session: the cookie holds a random id; the session, the key's digest only."""
    expected = request.cookies.get(PRE_SESSION, "")
    if not expected or not secrets.compare_digest(csrf, expected):
        return _form(request, next, status=400, error=translator(request)("signin.expired"))
    principal = get_vault(request).keys.resolve(api_key.strip())
    if principal is None:
        await journal(request, AccessEvent(
            actor="anonymous", action=Action.ACCESS_DENIED, outcome=Outcome.DENIED, request_id=request_id(request),
            detail={"reason": "missing or unknown API key", "method": "POST", "route": "/ui/sign-in"}))
        return _form(request, next, status=401, error=translator(request)("signin.unknown"))
    sessions(request).close(request.cookies.get(COOKIE))  # a new id at each sign-in: no session fixation
    session_id, _session = sessions(request).open(hash_secret(api_key.strip()))
    response = RedirectResponse(safe_next(next), status_code=303)
    _cookie(response, request, COOKIE, session_id)
    response.delete_cookie(PRE_SESSION, path="/ui")
    return response


@router.post("/ui/sign-out")
async def sign_out(request: Request):
    """End the session (the form carries the session's CSRF token: another site cannot sign the visitor out)."""
    session = session_of(request)
    form = await request.form()
    if session and secrets.compare_digest(str(form.get(CSRF_FIELD, "")), session.csrf):
        sessions(request).close(request.cookies.get(COOKIE))
    response = RedirectResponse(SIGN_IN, status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


def to_sign_in(exc: SignInRequired) -> Response:
    from urllib.parse import quote

    return RedirectResponse(f"{SIGN_IN}?next={quote(exc.next_path, safe='/')}", status_code=303)
