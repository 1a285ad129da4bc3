"""The FastAPI application: routers, problem handlers, request ids. Built around an opened :class:`Vault`."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from vault.api.access import check_table
from vault.api.access_log import AccessLogMiddleware
from vault.api.docs_ui import install_docs
from vault.api.fork_guard import JournalForkGuard
from vault.api.hardening import HardeningMiddleware
from vault.api.json_bodies import JsonBodyLimit
from vault.api.observe import ObserveMiddleware
from vault.api.openapi import install_openapi
from vault.api.problems import install_problem_handlers
from vault.api.request_id import RequestIdMiddleware
from vault.api.routers import serve_router
from vault.api.routes import (
    admin, cases, etsi, evidence, formats, health, journal, keys, kpis, lre, metadata_records, objects, packages,
    rectification, reports, restriction, retention, sandbox, search, tsa,
)
from vault.api.sandbox_answers import SANDBOX_NOTE, JSONResponse, SandboxAnswers
from vault.app import Vault
from vault.console.app import install_console
from vault.settings import Settings, duration_of


def create_app(vault: Vault, *, close_on_shutdown: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        if close_on_shutdown:
            vault.close()

    app = FastAPI(
        title="vault",
        version="1",  # the API contract (/v1), not the release: public documents do not name the build
        summary="Long-term evidence archive: deposit, seal, find and prove registered-mail evidence",
        description=SANDBOX_NOTE,
        lifespan=lifespan,
        docs_url=None,  # served from local assets by install_docs
        redoc_url=None,  # ReDoc comes only from a CDN
        default_response_class=JSONResponse,  # a sandbox's JSON objects say "sandbox": true (sandbox_answers)
    )
    app.state.vault = vault
    install_problem_handlers(app)
    install_openapi(app)
    # reports before cases: /v1/cases/{case_ref:path} would also match …/report; search (/v1/objects/count)
    # before objects (/v1/objects/{object_id})
    for module in (packages, reports, search, objects, metadata_records, rectification, restriction, evidence,
                   retention, cases, lre, kpis, formats, keys, journal, tsa, admin, sandbox, health, etsi):
        serve_router(app, module.router)
    install_docs(app)
    install_console(app, duration_of(vault.settings.console_idle_timeout).total_seconds())
    app.add_middleware(HardeningMiddleware, body_timeout=vault.settings.body_timeout)
    app.add_middleware(JournalForkGuard, vault=vault)
    app.add_middleware(ObserveMiddleware, vault=vault)
    app.add_middleware(JsonBodyLimit)  # inside RequestIdMiddleware: its problems carry the request id
    app.add_middleware(RequestIdMiddleware)  # outermost but one, so the hardening layer sees the request id
    if vault.settings.log_format == "json":
        app.add_middleware(AccessLogMiddleware)  # outermost: times the whole answer, reads the id set inside
    if vault.settings.sandbox:
        app.add_middleware(SandboxAnswers)  # around everything: every answer, problems included, is marked
    check_table(app)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from ``VAULT_*``."""
    vault = Vault.open(Settings.from_env())
    return create_app(vault, close_on_shutdown=True)
