"""The chat page's collection picker, in real chromium (Debian's, driven by Playwright as in
``test_web.py``) against a real uvicorn server with two collections: the picker lists the
collections the key may read, switching puts ``?collection=`` in the address and shows that
collection's documents and its own conversation, Back returns to the one before, and a key that
may not list collections leaves the page as it was before there was a picker."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService

from ..live_server import live_server
from .test_web import ask

KEY = "picker-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}
KILN = {
    "id": "kiln-rules",
    "title": "Kiln rules",
    "text": "Kiln rules. The studio kiln fires stoneware at 1240 degrees. Only trained members may load it.",
}
GREENHOUSE = {
    "id": "greenhouse",
    "title": "Greenhouse rules",
    "text": "The community greenhouse opens at seven in the morning. Watering cans are kept by the north door.",
}
KILN_QUESTION = "At what temperature does the kiln fire stoneware?"
CANS_QUESTION = "Where are the watering cans kept?"


def two_collections(base: str) -> None:
    """The default collection holds the kiln rules, collection garden the greenhouse rules."""
    assert httpx.post(f"{base}/v1/documents", json=KILN, headers=AUTH, timeout=120).status_code == 201
    r = httpx.post(f"{base}/v1/collections", json={"name": "garden"}, headers=AUTH, timeout=60)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{base}/v1/documents?collection=garden", json=GREENHOUSE, headers=AUTH, timeout=120)
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    """Reads open to all, writes with the key (the default): anyone may list the collections."""
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("picker"), api_keys=KEY), embedder=embedder)
    with live_server(svc) as base:
        two_collections(base)
        yield base
    svc.close()


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    """Every /v1 route needs the key (QA_REQUIRE_KEY_FOR_READ): without one, listing is a 401."""
    settings = Settings(index_dir=tmp_path_factory.mktemp("picker-locked"), api_keys=KEY, require_key_for_read=True)
    svc = QAService(settings, embedder=embedder)
    with live_server(svc) as base:
        two_collections(base)
        assert httpx.get(f"{base}/v1/collections", timeout=60).status_code == 401
        yield base
    svc.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # Nothing but the qa server: the page fetches no other origin.
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    yield pg
    context.close()
    assert errors == []
    assert requests and all(u.startswith("http://127.0.0.1:") or u.startswith("data:") for u in requests), requests


def test_pick_a_collection_ask_it_and_come_back_to_the_first_conversation(page: Page, server: str) -> None:
    pg = page
    pg.goto(server + "/")
    picker = pg.get_by_label("Collection", exact=True)
    expect(picker).to_be_visible()
    expect(picker.locator("option")).to_have_text(["default (default)", "garden"])
    expect(picker).to_have_value("")
    expect(pg.locator("#doc-list")).to_contain_text("Kiln rules")
    first = ask(pg, KILN_QUESTION, 0)
    expect(first.locator(".answer")).to_contain_text("1240 degrees")

    # The keyboard alone: focus the picker, the next option is the second collection.
    picker.focus()
    pg.keyboard.press("ArrowDown")
    expect(picker).to_have_value("garden")
    expect(pg).to_have_url(server + "/?collection=garden")
    expect(pg).to_have_title("qa: garden")
    expect(pg.locator("li.turn")).to_have_count(0)  # garden's own (empty) conversation
    expect(pg.locator("#doc-list li")).to_have_count(1)
    expect(pg.locator("#doc-list")).to_contain_text("Greenhouse rules")
    turn = ask(pg, CANS_QUESTION, 0)
    expect(turn.locator(".answer")).to_contain_text("north door")
    expect(turn.locator("button.cite").first).to_have_attribute("aria-label", "Source 1: Greenhouse rules")
    expect(turn.locator(".card-title")).to_have_text(["Greenhouse rules"])
    turn.locator(".card-open").first.click()  # the citation opens garden's document, at the span
    expect(pg.locator("#viewer mark").first).to_contain_text("north door")
    pg.get_by_role("button", name="Close").click()

    # Back to the default: its conversation as it was, and its documents.
    picker.select_option("")
    expect(pg).to_have_url(server + "/")
    expect(pg).to_have_title("qa: ask your documents")
    expect(pg.locator("li.turn.assistant")).to_have_count(1)
    expect(pg.locator("li.turn.user")).to_have_text([f"You{KILN_QUESTION}"])
    expect(pg.locator("li.turn.assistant").first.locator(".answer")).to_contain_text("1240 degrees")
    expect(pg.locator("#doc-list")).to_contain_text("Kiln rules")
    expect(pg.locator("#doc-list")).not_to_contain_text("Greenhouse rules")

    # Back in the browser's history is the collection picked before; a reload keeps it.
    pg.go_back()
    expect(pg).to_have_url(server + "/?collection=garden")
    expect(picker).to_have_value("garden")
    expect(pg.locator("li.turn.assistant").first.locator(".answer")).to_contain_text("north door")
    pg.reload()
    expect(picker).to_have_value("garden")
    expect(pg.locator("li.turn.assistant")).to_have_count(1)
    expect(pg.locator("#doc-list")).to_contain_text("Greenhouse rules")


def test_a_key_that_may_not_list_collections_keeps_the_page_as_it_was(page: Page, locked_server: str) -> None:
    """No key yet on a server whose reads need one: GET /v1/collections is a 401, so no picker; the
    page still names the collection of its address. With the key, the picker appears."""
    pg = page
    pg.goto(locked_server + "/?collection=garden")
    expect(pg.locator("#doc-count")).to_contain_text("Could not list documents")  # as before: the key is missing
    expect(pg.locator("#collection")).to_have_text("Collection: garden")
    expect(pg.locator("#collection")).to_be_visible()
    expect(pg.locator("#collection-picker")).to_be_hidden()
    expect(pg).to_have_title("qa: garden")

    pg.get_by_text("API key", exact=True).click()
    key = pg.get_by_label("API key, if this server needs one (kept in this tab only)")
    key.fill(KEY)
    key.press("Tab")  # a change event: the key is used from now on
    picker = pg.get_by_label("Collection", exact=True)
    expect(picker).to_be_visible()
    expect(picker).to_have_value("garden")
    expect(pg.locator("#collection")).to_be_hidden()  # the picker names it now
    expect(pg.locator("#doc-list")).to_contain_text("Greenhouse rules")
    turn = ask(pg, CANS_QUESTION, 0)
    expect(turn.locator(".answer")).to_contain_text("north door")
