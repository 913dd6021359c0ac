"""The chat page in a real browser: Debian's chromium driven by Playwright, against a real uvicorn
server. Never `playwright install`: the browser is the system's (`.ci/run` installs it).

Set QA_SCREENSHOT=path to also save the conversation screenshot there (docs/screenshot.png is
made that way)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Locator, Page, expect

from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService

from ..conftest import EXAMPLES
from ..live_server import live_server, upload_dir

HOSTILE_TEXT = (
    "Kiln safety note. <script>window.__xss = 'script'</script> "
    "The kiln door must stay shut above 600 degrees. <img src=x onerror=\"window.__xss = 'img'\"> "
    "<b>bold?</b> Report cracks in the kiln shelves."
)
HOSTILE_TITLE = "<img src=y onerror=\"window.__xss = 'title'\">Kiln & <i>safety</i>"
# Writes need this key (QA_API_KEYS): the page's upload must send it.
KEY = "web-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}
INJECTED = "#log img, #log script, #log b, #viewer img, #viewer script, #viewer b, #doc-list img, #doc-list i"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("web"), api_keys=KEY), embedder=embedder)
    with live_server(svc) as base:
        upload_dir(base, EXAMPLES, key=KEY)
        yield base
    svc.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 850})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))

    # A dialog (alert/confirm) would be script that should never run.
    def on_dialog(dialog: Dialog) -> None:
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.goto(server + "/")
    pg.wait_for_selector("#doc-list li")
    yield pg
    context.close()
    assert errors == []


def ask(pg: Page, question: str, answers_before: int) -> Locator:
    """Type a question with the keyboard, send it with Enter, wait for its finished answer."""
    box = pg.get_by_label("Ask a question")
    box.focus()
    pg.keyboard.type(question)
    pg.keyboard.press("Enter")
    turn = pg.locator("li.turn.assistant").nth(answers_before)
    expect(turn).to_have_attribute("aria-busy", "false", timeout=60_000)
    return turn


def test_ask_cite_highlight_follow_up_and_screenshot(page: Page, tmp_path: Path) -> None:
    pg = page
    first = ask(pg, "Who met in Paris?", 0)
    answer = first.locator(".answer")
    expect(answer).to_contain_text("al-Shaibani")
    expect(answer).to_contain_text("Dermer")
    expect(first.locator(".short strong")).to_have_text(
        "Syrian Foreign Minister Assaad al-Shaibani and Israeli minister Ron Dermer"
    )
    cite = first.locator("button.cite")
    expect(cite).to_have_text("[1]")
    expect(cite).to_have_attribute(
        "aria-label", "Source 1: Syrian and Israeli officials hold talks in Paris on southern Syria"
    )

    # Keyboard only: focus the marker, Enter opens the source, Escape closes it.
    cite.focus()
    pg.keyboard.press("Enter")
    viewer = pg.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(pg.locator("#viewer-title")).to_have_text(
        "Syrian and Israeli officials hold talks in Paris on southern Syria"
    )
    mark = pg.locator("#viewer-text mark")
    expect(mark).to_have_count(1)
    # The marker sits in the answer, right after its sentence; the highlight is that sentence.
    assert mark.text_content() == answer.locator(".sentence").text_content()
    assert (mark.text_content() or "").startswith("Syrian Foreign Minister Assaad al-Shaibani")
    assert "southern Syria" in (pg.locator("#viewer-text").text_content() or "")
    pg.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(cite).to_be_focused()

    second = ask(pg, "What did they discuss?", 1)
    expect(second.locator(".status")).to_contain_text("Searched for: What did they discuss? (Who met in Paris?")
    expect(second.locator(".answer")).to_contain_text("de-escalation")
    expect(second.locator(".answer")).to_contain_text("Sweida")
    expect(second.locator("button.cite")).to_have_count(1)

    shot = tmp_path / "chat.png"
    pg.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("QA_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["QA_SCREENSHOT"])


def test_document_text_is_rendered_as_text_never_html(page: Page, server: str) -> None:
    pg = page
    doc = {"id": "hostile/kiln", "title": HOSTILE_TITLE, "text": HOSTILE_TEXT}
    assert httpx.post(f"{server}/v1/documents", json=doc, headers=AUTH).status_code == 201
    # And one through the page's own upload form, which needs the API key.
    hostile_file = {"name": "hostile.txt", "mimeType": "text/plain", "buffer": HOSTILE_TEXT.encode()}
    status = pg.locator("#uploads .upload-status")
    pg.get_by_label("Add files").set_input_files(hostile_file)
    pg.get_by_role("button", name="Upload", exact=True).click()
    expect(status).to_contain_text("failed: this route needs an API key")
    pg.get_by_text("API key", exact=True).click()
    pg.get_by_label("API key, if this server needs one").fill(KEY)
    pg.get_by_label("API key, if this server needs one").press("Tab")
    pg.get_by_label("Add files").set_input_files(hostile_file)
    pg.get_by_role("button", name="Upload", exact=True).click()
    expect(status).to_have_text("added (1 passage)")
    pg.reload()

    turn = ask(pg, "What must the kiln door do above 600 degrees?", 0)
    turn.locator("summary").click()
    expect(turn.locator(".passage-text").first).to_contain_text("<script>")
    turn.locator("button.cite").click()
    expect(pg.locator("#viewer-text")).to_contain_text("<img src=x onerror=")
    pg.keyboard.press("Escape")

    pg.get_by_role("button", name=HOSTILE_TITLE).click()
    expect(pg.locator("#viewer-title")).to_have_text(HOSTILE_TITLE)
    expect(pg.locator("#viewer-text")).to_have_text(HOSTILE_TEXT)
    pg.wait_for_timeout(300)
    assert pg.evaluate("window.__xss") is None
    assert pg.locator(INJECTED).count() == 0
    for doc_id in ("hostile/kiln", "upload/hostile.txt"):
        assert httpx.delete(f"{server}/v1/documents/{doc_id}", headers=AUTH).status_code == 200


def test_narrow_screen_and_labels(browser: Browser, server: str) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    pg = context.new_page()
    pg.goto(server + "/")
    # Every control has an accessible name.
    unnamed = pg.evaluate(
        """() => [...document.querySelectorAll('input, textarea, button')]
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
             .map(e => e.outerHTML)"""
    )
    assert unnamed == []
    toggle = pg.get_by_role("button", name="Documents")
    expect(pg.locator("#docs")).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.focus()
    pg.keyboard.press("Enter")
    expect(pg.locator("#docs")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    ask(pg, "Who met in Paris?", 0)
    # Nothing wider than the screen.
    assert pg.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


def test_a_citation_url_opens_the_page_at_its_span(page: Page, server: str) -> None:
    """The OpenAI-compatible route's annotations point at /documents/<id>#<start>-<end>."""
    r = httpx.post(
        f"{server}/v1/chat/completions",
        json={"model": "qa", "messages": [{"role": "user", "content": "Who met in Paris?"}]},
        timeout=60,
    )
    url = r.json()["choices"][0]["message"]["annotations"][0]["url_citation"]["url"]
    quote = r.json()["citations"][0]["quote"]
    page.goto(url)
    expect(page.locator("#viewer")).to_be_visible()
    expect(page.locator("#viewer-title")).to_have_text(
        "Syrian and Israeli officials hold talks in Paris on southern Syria"
    )
    expect(page.locator("#viewer-text mark")).to_have_text(quote)
    expect(page.locator("#viewer-warning")).to_be_hidden()
