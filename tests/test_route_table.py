"""The start-up authorization check (vault.api.access.check_table) over routes served as declared
(vault.api.routers): every route is checked, none is built a second time, and a route missing from the table, or
taking a Caller against the table's word, stops the start."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from vault.api.access import ROUTES, Caller, api_routes, check_table
from vault.api.app import create_app
from vault.api.routers import serve_router
from vault.api.sandbox_answers import JSONResponse


def test_every_route_is_served_as_declared_and_checked(vault):
    app = create_app(vault)
    assert all(isinstance(route, APIRoute) or not hasattr(route, "original_router") for route in app.routes)
    assert {(method, path) for method, path, _ in api_routes(app)} == set(ROUTES)


def _app_with(router: APIRouter) -> FastAPI:
    app = FastAPI(default_response_class=JSONResponse)
    serve_router(app, router)
    return app


def test_a_route_missing_from_the_table_stops_the_start():
    router = APIRouter(default_response_class=JSONResponse, prefix="/v1/unlisted")

    @router.get("/thing")
    async def thing(principal: Caller):
        return {}

    with pytest.raises(RuntimeError, match=r"GET /v1/unlisted/thing is not in the authorization table"):
        check_table(_app_with(router))


def test_a_public_route_taking_a_caller_stops_the_start():
    router = APIRouter(default_response_class=JSONResponse)

    @router.get("/health")
    async def health(principal: Caller):
        return {}

    with pytest.raises(RuntimeError, match=r"GET /health: the table says public, the route does take a Caller"):
        check_table(_app_with(router))


def test_a_router_of_another_response_class_is_included_and_still_checked():
    """Such a router goes through ``include_router`` (built again, for the application's response class); its
    routes are checked all the same, a Caller found through a nested dependency included."""
    router = APIRouter(prefix="/v1/unlisted")

    def nested(principal: Caller) -> str:
        return principal.holder

    @router.get("/other")
    async def other(holder: Annotated[str, Depends(nested)]):
        return {}

    app = _app_with(router)
    assert not any(isinstance(route, APIRoute) for route in app.routes)
    assert [(method, path) for method, path, _ in api_routes(app)] == [("GET", "/v1/unlisted/other")]
    with pytest.raises(RuntimeError, match=r"GET /v1/unlisted/other is not in the authorization table"):
        check_table(app)
