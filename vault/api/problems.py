"""Errors as RFC 9457 ``application/problem+json``: type, title, status, detail, instance (§3.1), plus extensions."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from vault.api.sandbox_answers import JSONResponse
from vault.db.outage import outage_reason

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:vault:problem:"
log = logging.getLogger(__name__)


class Problem(Exception):
    """Raise anywhere in the web layer to answer with a problem document."""

    def __init__(self, status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None,
                 **extensions: Any):
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body = {
        "type": TYPE_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        **problem.extensions,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


_HTTP_SLUGS = {404: ("not-found", "Not found"), 405: ("method-not-allowed", "Method not allowed"),
               401: ("unauthorized", "Unauthorized"), 403: ("forbidden", "Forbidden")}


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
        return problem_response(request, Problem(exc.status_code, slug, title, str(exc.detail),
                                                 headers=getattr(exc, "headers", None)))

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError):
        """The database went away (a PostgreSQL restart, a lost connection): 503 problem+json and one log line,
        never a text/plain 500 with a traceback. The failed transaction was rolled back; a retry is safe."""
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, outage_reason(exc))
        return problem_response(request, Problem(
            503, "database-unavailable", "Database unavailable",
            "the archive's database could not be reached, so the request was not completed; retry shortly",
            headers={"Retry-After": "5"}, retry_after=5))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [
            {"field": ".".join(str(p) for p in err["loc"] if p not in ("query", "path", "header", "body")),
             "problem": err["msg"]}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
        return problem_response(request, Problem(422, "invalid-request", "Invalid request", detail, errors=errors))
