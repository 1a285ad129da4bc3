"""Adding a module's router to the application with each route built once.

FastAPI (from 0.16x) builds an included router's routes again for the application, lazily, the first time a request
is matched against them: since routes match in order, the first request of all (``/health``) built nearly all of
them, and the start-up authorization check (:func:`vault.api.access.check_table`) built all of them first. An
``APIRouter`` applies its own prefix, tags, dependencies and limits to each route as it is declared; included
without any of the application's own, with the application's response class, the declared routes are the served
ones, so vault adds them as they are. (``app.dependency_overrides`` does not reach them: vault uses none.)
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.datastructures import DefaultPlaceholder


def _response_class(owner) -> type:
    declared = owner.default_response_class
    return declared.value if isinstance(declared, DefaultPlaceholder) else declared


def serve_router(app: FastAPI, router: APIRouter) -> None:
    """Serve ``router``'s routes in ``app``, as ``app.include_router(router)`` would; each route built once when the
    router declares the application's response class (vault's do), through ``include_router`` otherwise."""
    if _response_class(router) is _response_class(app.router):
        app.router.routes.extend(router.routes)
    else:
        app.include_router(router)
