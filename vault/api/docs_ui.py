"""``/docs``: Swagger UI served from the installed ``swagger-ui-bundle-v2`` package, so it works offline.

FastAPI's default page loads Swagger UI from a CDN: an archive often runs where no CDN is reachable, and loading
scripts from a third party into a page that holds an API key is a trust we need not give. ReDoc (CDN only) is off.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.staticfiles import StaticFiles

ASSETS = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Mount the Swagger UI assets under :data:`ASSETS` and answer ``/docs`` with a page that uses only them."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    app.add_api_route("/docs", docs, include_in_schema=False)


async def docs(request: Request):
    """The Swagger UI page (a module-level function: FastAPI caches facts about each endpoint function, and a closure
    per app would keep every app of a process alive in that cache)."""
    app = request.app
    return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} — API",
                               swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{ASSETS}/swagger-ui.css",
                               swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
                               swagger_ui_parameters={"validatorUrl": None})  # no call to validator.swagger.io
