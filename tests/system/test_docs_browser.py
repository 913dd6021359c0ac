"""``/docs`` (Swagger UI) and ``/redoc`` in a real browser (Debian's chromium, Playwright), against
a real uvicorn server: they render every operation from qa's own files, with no request leaving
127.0.0.1 and nothing refused by the pages' Content-Security-Policy.

Set QA_SCREENSHOT_DIR=path to keep the two screenshots.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService

from ..live_server import live_server

KEY = "docs-test-key"
OPERATIONS = {
    "documents": [
        "list_documents",
        "add_documents",
        "upload_document",
        "get_document",
        "update_document",
        "delete_document",
    ],
    "collections": ["list_collections", "create_collection", "get_collection", "delete_collection"],
    "questions": ["search", "ask", "chat"],
    "jobs": ["list_jobs", "get_job"],
    "openai": ["chat_completions", "create_response", "list_models", "get_model", "create_embeddings"],
    "service": ["health", "stats", "metrics"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("docs"), api_keys=KEY), embedder=embedder)
    with live_server(svc) as base:
        yield base
    svc.close()


class Watched:
    """A page whose every request is recorded, and refused unless it is to 127.0.0.1."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.outside: list[str] = []
        self.problems: list[str] = []
        page.route("**/*", self._route)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("console", self._console)

    def _route(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        # A CSP refusal is reported on the console as an error ("Refused to ...").
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console: {message.text}")


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    w = Watched(context.new_page())
    yield w
    context.close()


def screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("QA_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=False)


def test_swagger_ui_renders_every_operation_offline(server: str, watched: Watched) -> None:
    pg = watched.page
    pg.goto(server + "/docs")
    for tag, ids in OPERATIONS.items():
        for operation_id in ids:
            expect(pg.locator(f"#operations-{tag}-{operation_id}")).to_be_visible(timeout=30_000)
    assert pg.locator(".opblock").count() == sum(len(ids) for ids in OPERATIONS.values())
    # The API key's scheme: an Authorize button; writes show a lock.
    expect(pg.locator("button.authorize")).to_be_visible()
    # Open the upload: its body is the multipart form, with the file field.
    upload = pg.locator("#operations-documents-upload_document")
    upload.locator(".opblock-summary").click()
    expect(upload.locator(".opblock-section-request-body")).to_contain_text("multipart/form-data")
    expect(upload.locator(".opblock-section-request-body")).to_contain_text("file")
    # Try it out, through the page: the health check answers (a read with no key).
    health = pg.locator("#operations-service-health")
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    expect(health.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200", timeout=30_000)
    screenshot(pg, "docs-swagger.png")
    assert watched.outside == [], watched.outside
    assert watched.problems == [], watched.problems
    assert any(u.endswith("/docs/assets/swagger-ui-bundle.js") for u in watched.requests)


def test_redoc_renders_every_operation_offline(server: str, watched: Watched) -> None:
    pg = watched.page
    pg.goto(server + "/redoc")
    for ids in OPERATIONS.values():
        for operation_id in ids:
            expect(pg.locator(f'[data-section-id="operation/{operation_id}"]')).to_have_count(1, timeout=30_000)
    upload = pg.locator('[data-section-id="operation/upload_document"]')
    expect(upload.locator("h2")).to_have_text("Upload Document")
    expect(upload).to_contain_text("multipart/form-data")
    screenshot(pg, "docs-redoc.png")
    assert watched.outside == [], watched.outside
    # ReDoc's sidebar always shows Redocly's logo from its CDN: the page's CSP (img-src 'self') stops
    # the request before it is made, and ReDoc hides the image. Nothing else may be refused.
    logo = [p for p in watched.problems if "https://cdn.redoc.ly/redoc/logo-mini.svg" in p and "img-src" in p]
    assert len(logo) <= 1 and [p for p in watched.problems if p not in logo] == [], watched.problems
