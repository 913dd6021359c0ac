"""The chat page showing generated answers, in real chromium (Debian's, driven by Playwright as in
``tests/system/test_web.py``) against a real uvicorn server whose LLM is the scripted OpenAI-compatible
server of ``tests/api/test_generate_api.py`` on 127.0.0.1.

The page streams the LLM's draft, then replaces it with the checked answer: a sentence no passage
supports is marked "unsupported", a marker that pointed nowhere never appears, and the surviving
citation highlights exactly the cited characters. When the LLM fails, the page shows the extractive
answer and the note that says so.

Set QA_SCREENSHOT_GENERATED=path to also save the checked answer's screenshot there
(docs/screenshot-generated.png is made that way)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from qa.embed import Embedder
from qa.service import QAService

# The scripted LLM and its fixtures, and the browser, page and `ask` of the page's own test: `page`
# asks for `server`, which this module defines (the service with the scripted LLM).
from ..api.test_generate_api import QUESTION, llm_settings, llm_url, script  # noqa: F401
from ..conftest import EXAMPLES
from ..live_server import live_server, upload_dir
from .test_web import ask, page  # noqa: F401

pytestmark = pytest.mark.slow  # a browser and a handful of answers with the real model

MET = "Syrian Foreign Minister Assaad al-Shaibani and Israeli minister Ron Dermer met in Paris."
FAILED = "Note: Generation failed (the LLM server answered HTTP 500); this is the extractive answer."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, llm_url: str) -> Iterator[str]:  # noqa: F811
    svc = QAService(llm_settings(tmp_path_factory.mktemp("web-generate"), llm_url), embedder=embedder)
    with live_server(svc) as base:
        upload_dir(base, EXAMPLES)
        yield base
    svc.close()


def open_citation(pg: Page, server: str, cite: Locator) -> str:
    """Click a marker; check the viewer highlights exactly the characters the meta line names."""
    cite.click()
    expect(pg.locator("#viewer")).to_be_visible()
    mark = pg.locator("#viewer-text mark")
    expect(mark).to_have_count(1)
    meta = pg.locator("#viewer-meta").text_content() or ""
    found = re.fullmatch(r"(.+) · cited characters (\d+)–(\d+)", meta)
    assert found, meta
    doc_id, start, end = found.group(1), int(found.group(2)), int(found.group(3))
    doc = httpx.get(f"{server}/v1/documents/{doc_id}", params={"include_text": True}, timeout=60).json()
    highlighted = mark.text_content() or ""
    assert highlighted == doc["text"][start:end]
    pg.keyboard.press("Escape")
    expect(pg.locator("#viewer")).to_be_hidden()
    return highlighted


def test_checked_answer_replaces_the_draft_and_marks_the_unsupported_sentence(
    page: Page,  # noqa: F811
    server: str,
    script: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    pg = page
    # "...met in Paris [1][9]. A sourdough starter needs only flour and water [1].", a word every 0.1 s.
    script.update(mode="mixed", gap=0.1)
    box = pg.get_by_label("Ask a question")
    box.focus()
    pg.keyboard.type(QUESTION)
    pg.keyboard.press("Enter")
    # The LLM's words show while it writes, as an unchecked draft...
    expect(pg.locator("li.turn.assistant[aria-busy='true'] .answer.draft")).to_contain_text("al-Shaibani")
    turn = pg.locator("li.turn.assistant").first
    expect(turn).to_have_attribute("aria-busy", "false", timeout=60_000)

    # ...and the checked answer replaces it: the supported sentence with its one marker, the
    # unsupported one marked and without its dropped marker, the out-of-range [9] gone.
    answer = turn.locator(".answer")
    expect(answer).not_to_have_class(re.compile(r"\bdraft\b"))
    expect(answer).to_have_text(f"{MET} [1] unsupported A sourdough starter needs only flour and water.")
    assert "[9]" not in (pg.locator("#log").text_content() or "")
    unsupported = answer.locator(".unsupported")
    expect(unsupported).to_have_count(1)
    expect(unsupported).to_contain_text("A sourdough starter needs only flour and water.")
    expect(unsupported.locator(".flag")).to_have_text("unsupported")
    expect(unsupported.locator(".flag")).to_be_visible()
    expect(unsupported).to_have_accessible_description(re.compile(r"^No retrieved passage supports this sentence"))
    expect(unsupported.locator("button.cite")).to_have_count(0)
    expect(answer.locator(".sentence")).to_have_text(MET)
    cite = answer.locator("button.cite")
    expect(cite).to_have_text("[1]")
    expect(cite).to_have_attribute(
        "aria-label", "Source 1: Syrian and Israeli officials hold talks in Paris on southern Syria"
    )
    expect(turn.locator(".note")).to_have_text(
        "Note: Removed 1 citation(s) to passages that were not retrieved; "
        "dropped 1 citation(s) whose passage does not support the sentence."
    )
    expect(turn.locator(".short")).to_be_hidden()  # a generated answer has no extractive span

    highlighted = open_citation(pg, server, cite)
    assert highlighted.startswith("Syrian Foreign Minister Assaad al-Shaibani and Israeli minister Ron Dermer met")
    expect(cite).to_be_focused()

    shot = tmp_path / "generated.png"
    pg.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("QA_SCREENSHOT_GENERATED"):
        shutil.copyfile(shot, os.environ["QA_SCREENSHOT_GENERATED"])


def test_failed_generation_shows_the_extractive_answer_and_the_note(
    page: Page,  # noqa: F811
    server: str,
    script: dict[str, Any],  # noqa: F811
) -> None:
    pg = page
    script["mode"] = "server-error"
    turn = ask(pg, QUESTION, 0)
    answer = turn.locator(".answer")
    expect(answer).to_contain_text("al-Shaibani")
    expect(answer).to_contain_text("Dermer")
    expect(answer).not_to_have_class(re.compile(r"\bdraft\b"))
    expect(turn.locator(".unsupported")).to_have_count(0)
    expect(turn.locator(".note")).to_have_text(FAILED)
    expect(turn.locator(".short strong")).to_have_text(
        "Syrian Foreign Minister Assaad al-Shaibani and Israeli minister Ron Dermer"
    )
    cite = answer.locator(".sentence + button.cite")  # right after the sentence it supports
    expect(cite).to_have_text("[1]")
    assert open_citation(pg, server, cite) == answer.locator(".sentence").text_content()


def test_generated_markup_is_shown_as_text(
    page: Page,  # noqa: F811
    script: dict[str, Any],  # noqa: F811
) -> None:
    pg = page
    script["mode"] = "markup"
    turn = ask(pg, QUESTION, 0)
    expect(turn.locator(".answer")).to_contain_text("<img src=x onerror=")
    expect(turn.locator(".answer")).to_contain_text("<b>al-Shaibani</b>")
    pg.wait_for_timeout(300)
    assert pg.evaluate("window.__xss") is None
    assert pg.locator("#log img, #log b, #log script").count() == 0
