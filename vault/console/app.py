"""Wire the console into the API application: its pages, its static files, its error pages and headers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from vault.api.problems import Problem
from vault.api.routers import serve_router
from vault.console.guard import SignInRequired
from vault.console.pages import admin, archivist, auditor, disposal, holds, signin
from vault.console.render import ConsoleHeaders, error_page
from vault.console.sessions import SessionStore
from vault.console.verification import Verifications

PAGES = (signin, archivist, holds, disposal, auditor, admin)
"""Every module of pages."""

STATIC = "/ui/static"


def _console(request: Request) -> bool:
    return request.url.path == "/ui" or request.url.path.startswith("/ui/")


def install_console(app: FastAPI, idle_seconds: float) -> None:
    """Add the pages, ``/ui/static`` (the package's own CSS: nothing from elsewhere), HTML error pages under
    ``/ui`` (problem+json elsewhere, unchanged), and the console's headers."""
    from importlib.resources import files

    app.state.console_sessions = SessionStore(idle_seconds)
    app.state.console_verifications = Verifications()
    for module in PAGES:
        serve_router(app, module.router)
    app.mount(STATIC, StaticFiles(directory=str(files("vault.console") / "static")), name="console-static")
    api_problem = app.exception_handlers[Problem]
    api_validation = app.exception_handlers[RequestValidationError]
    api_http = app.exception_handlers[StarletteHTTPException]

    async def problem(request: Request, exc: Problem):
        return error_page(request, exc) if _console(request) else await api_problem(request, exc)

    async def invalid(request: Request, exc: RequestValidationError):
        if not _console(request):
            return await api_validation(request, exc)
        detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
        return error_page(request, Problem(422, "invalid-request", "Invalid request", detail))

    async def http_error(request: Request, exc: StarletteHTTPException):
        if not _console(request) or request.url.path.startswith(STATIC + "/"):
            return await api_http(request, exc)
        return error_page(request, Problem(exc.status_code, "http-error", "HTTP error", str(exc.detail)))

    async def sign_in(request: Request, exc: SignInRequired):
        return signin.to_sign_in(exc)

    app.add_exception_handler(Problem, problem)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(SignInRequired, sign_in)
    app.add_middleware(ConsoleHeaders)


__all__ = ["install_console"]
