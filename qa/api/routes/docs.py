"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), with every
asset served by qa itself, so they work with no network (FastAPI's own pages load them from a CDN).

The JavaScript and CSS are those of the ``fastapi-offline`` package (Swagger UI 5, Apache-2.0;
ReDoc 2, MIT), which tracks their releases; the two small scripts that start them are ours
(``qa/api/docs/``), since the pages allow no inline script.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from qa.errors import NotFound

OUR_DIR = Path(__file__).resolve().parents[1] / "docs"
BUNDLED_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_PATH = "/docs/assets"
ASSETS = {
    "swagger-ui-bundle.js": (BUNDLED_DIR, "text/javascript"),
    "swagger-ui.css": (BUNDLED_DIR, "text/css"),
    "redoc.standalone.js": (BUNDLED_DIR, "text/javascript"),
    "favicon.png": (BUNDLED_DIR, "image/png"),
    "swagger-init.js": (OUR_DIR, "text/javascript"),
    "redoc-init.js": (OUR_DIR, "text/javascript"),
}
# As strict as the chat page's (qa.api.routes.web) for scripts: this server's files only, no inline
# script. Styles may be inline: Swagger UI and ReDoc (styled-components) set them at run time, and the
# pages show only the API's own schema. ReDoc's search runs in a worker it makes from a blob: URL.
DOCS_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(include_in_schema=False)


def _page(request: Request, title: str, body: str, scripts: tuple[str, ...], css: str = "") -> HTMLResponse:
    root = escape(str(request.scope.get("root_path", "")), quote=True)
    openapi_url = escape(f"{root}{request.app.openapi_url}", quote=True)
    assets = f"{root}{ASSETS_PATH}"
    style = f'<link rel="stylesheet" href="{assets}/{css}">' if css else ""
    tags = "".join(f'<script src="{assets}/{name}"></script>' for name in scripts)
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(request.app.title)} - {title}</title>"
        f'<link rel="icon" type="image/png" href="{assets}/favicon.png">{style}</head>'
        f"<body>{body.format(openapi_url=openapi_url)}{tags}</body></html>\n"
    )
    return HTMLResponse(html, headers=DOCS_HEADERS)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return _page(
        request,
        "Swagger UI",
        '<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>',
        ("swagger-ui-bundle.js", "swagger-init.js"),
        css="swagger-ui.css",
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _page(
        request,
        "ReDoc",
        '<div id="redoc" data-openapi-url="{openapi_url}"></div>',
        ("redoc.standalone.js", "redoc-init.js"),
    )


@router.get(ASSETS_PATH + "/{name}")
def docs_asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"no docs asset {name!r}")
    directory, media_type = ASSETS[name]
    # The files change only with the installed package: a day in the browser's cache is safe.
    return FileResponse(
        directory / name, media_type=media_type, headers={**DOCS_HEADERS, "Cache-Control": "public, max-age=86400"}
    )
