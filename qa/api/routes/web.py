"""The chat page at ``/`` and its assets (qa/web/)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from qa.errors import NotFound

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
WEB_FILES = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
# The page loads only its own script and style and talks only to this server; inline script
# (and so any markup that slipped into the DOM) does not run.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it a browser sends `Origin: null` even with the page's own POSTs, which
    # the cross-site write check (qa.security.origin_refusal) can then only accept by Sec-Fetch-Site.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/documents/{doc_id:path}")
def document_page(doc_id: str) -> FileResponse:
    """The page opened at one document: ``/documents/<id>#<start>-<end>`` highlights those
    characters (the URLs of the OpenAI-compatible route's citations); the page reads the path."""
    return page()


@router.get("/web/{name}")
def asset(name: str) -> FileResponse:
    if name not in WEB_FILES:
        raise NotFound(f"no web asset {name!r}")
    return FileResponse(WEB_DIR / name, media_type=WEB_FILES[name], headers=PAGE_HEADERS)
