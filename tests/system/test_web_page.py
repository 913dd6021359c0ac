"""The chat page as a new user meets it (issue 19, point 7), in real chromium (Debian's, driven by
Playwright as in ``test_web.py``) at a desktop (1280x800) and a phone (390x844) width, against one
real uvicorn server: the newest answer in view, markers inline, source cards that open the viewer at
the cited characters, Markdown rendered safely in answers and documents, the conversation kept over
a reload, the documents panel (search, pages, delete, several uploads at once), and example
questions drawn from the index.

Set QA_SCREENSHOTS=docs to save the README's pictures there (chat-desktop.png, chat-phone.png,
viewer-desktop.png, documents-phone.png)."""

from __future__ import annotations

import json
import os
import re
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
from ..pdfs import manual_pdf
from .test_web import ask

KEY = "page-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PARIS = "Syrian and Israeli officials hold talks in Paris on southern Syria"
KILN_QUESTION = "At what temperature does the kiln fire stoneware?"
GUIDE = {
    "id": "guide/kiln-monitor.md",
    "title": "Kiln monitor guide",
    "text": (
        "# Kiln monitor guide\n\n"
        "Start the kiln monitor with `qa-kiln --port 9000` before any firing.\n\n"
        "## Steps\n\n"
        "- Load the shelves *evenly*.\n"
        "- Close the **door** firmly.\n\n"
        "```sh\nqa-kiln --port 9000 --log fire.log\n```\n\n"
        "Read [the manual](https://example.org/kiln-manual) or [this link](javascript:window.__xss='link').\n\n"
        "The glaze cabinet stays locked at night <img src=x onerror=\"window.__xss='img'\"> "
        "<script>window.__xss='script'</script> until the supervisor arrives.\n"
    ),
}
INJECTED = "img, script, iframe, object, embed, [onerror], [onclick], a[href^='javascript']"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("web-page"), api_keys=KEY), embedder=embedder)
    with live_server(svc) as base:
        upload_dir(base, EXAMPLES, key=KEY)
        r = httpx.post(f"{base}/v1/documents", files={"file": ("kiln.pdf", manual_pdf())}, headers=AUTH, timeout=120)
        assert r.status_code == 201, r.text
        assert httpx.post(f"{base}/v1/documents", json=GUIDE, headers=AUTH, timeout=120).status_code == 201
        yield base
    svc.close()


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Browser, server: str, size: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))

    def on_dialog(dialog: Dialog) -> None:  # alert/confirm would be script that should never run
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.goto(server + "/")
    expect(pg.locator("#examples button").first).to_be_visible()
    yield pg
    context.close()
    assert errors == []


def screenshot(target: Page | Locator, name: str) -> None:
    """Save a picture for the README when QA_SCREENSHOTS names a folder."""
    folder = os.environ.get("QA_SCREENSHOTS")
    if folder:
        target.screenshot(path=str(Path(folder) / name))


def open_panel(pg: Page, size: str) -> None:
    if size == "phone":
        pg.get_by_role("button", name="Documents", exact=True).click()
    expect(pg.locator("#docs")).to_be_visible()


def box(loc: Locator) -> dict[str, float]:
    b = loc.bounding_box()
    assert b is not None
    return b


def test_the_newest_answer_is_in_view_after_three_questions(page: Page, size: str) -> None:
    pg = page
    for n, question in enumerate(["Who met in Paris?", "What is BM25?", KILN_QUESTION]):
        turn = ask(pg, question, n)
    expect(turn.locator(".answer")).to_contain_text("1240 degrees")
    pg.wait_for_timeout(100)  # no scrolling is animated; one frame for layout
    answer = box(turn.locator(".answer"))
    ask_top = box(pg.locator("#ask"))["y"]
    # The whole answer text is on screen, above the sticky question box, not under it.
    assert answer["y"] >= 0, answer
    assert answer["y"] + answer["height"] <= ask_top + 1, (answer, ask_top)
    # ...and so is the question it answers, when both fit.
    question = box(pg.locator("li.turn.user").nth(2))
    assert question["y"] >= 0
    assert pg.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
    screenshot(pg, f"chat-{size}.png")


def test_an_answer_taller_than_the_screen_starts_at_its_question(page: Page) -> None:
    """When the newest question and answer do not fit above the question box, the question goes to
    the top, so the answer reads from its beginning (its stream scripted in the browser)."""
    pg = page
    ask(pg, "Who met in Paris?", 0)
    long = "\n\n".join(f"Paragraph {n} of a long answer about the kiln and its firing schedule." for n in range(60))
    events = [
        ("passages", {"question": "q", "query": "q", "rewritten": False, "passages": []}),
        ("delta", {"text": long}),
        ("citations", {"citations": []}),
        ("done", {"found": True, "score": 0.9, "short_answer": None, "generated": False, "note": None}),
    ]
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    pg.route("**/v1/chat", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body))
    turn = ask(pg, "Tell me everything about the kiln.", 1)
    expect(turn.locator(".answer p")).to_have_count(60)
    question = box(pg.locator("li.turn.user").nth(1))
    assert 0 <= question["y"] <= 20, question
    assert box(turn.locator(".answer p").first)["y"] < box(pg.locator("#ask"))["y"]


def test_the_marker_sits_right_after_its_sentence(page: Page) -> None:
    pg = page
    turn = ask(pg, "Who met in Paris?", 0)
    answer = turn.locator(".answer")
    sentence = answer.locator(".sentence")
    cite = answer.locator("button.cite")
    expect(cite).to_have_text("[1]")
    expect(sentence).to_contain_text("al-Shaibani")
    # In the same paragraph, right after the sentence...
    assert cite.evaluate("b => b.parentElement === b.previousElementSibling.parentElement") is True
    assert cite.evaluate("b => b.previousElementSibling.className") == "sentence"
    assert cite.evaluate("b => b.parentElement.tagName") == "P"
    # ...and on its last line, to its right: not on a line of its own under the answer.
    last = sentence.evaluate(
        "s => { const r = [...s.getClientRects()].pop(); return {top: r.top, bottom: r.bottom, right: r.right}; }"
    )
    marker = box(cite)
    middle = marker["y"] + marker["height"] / 2
    assert last["top"] <= middle <= last["bottom"], (last, marker)
    assert marker["x"] >= last["right"] - 1
    # Nothing under the answer repeats the markers on their own line any more.
    assert turn.locator(".answer + .cites, .cites button.cite").count() == 0


def test_a_source_card_shows_title_page_and_quote_and_opens_the_span(page: Page, server: str) -> None:
    pg = page
    turn = ask(pg, KILN_QUESTION, 0)
    expected = httpx.post(
        f"{server}/v1/chat", json={"messages": [{"role": "user", "content": KILN_QUESTION}]}, timeout=60
    ).json()["citations"][0]
    assert expected["page"] == 3
    card = turn.locator(".cards li.card").first
    expect(card.locator(".card-title")).to_have_text("Kiln Operations Manual")
    expect(card.locator(".card-page")).to_have_text(" · page 3")
    expect(card.locator(".card-quote")).to_have_text(expected["quote"])
    expect(card.locator(".card-meta")).to_have_text("upload/kiln.pdf")
    # The whole card is the target: a click on its quote opens the viewer at exactly that span.
    card.locator(".card-quote").click(force=True)  # at its place: the stretched button takes the click
    expect(pg.locator("#viewer")).to_be_visible()
    expect(pg.locator("#viewer-title")).to_have_text("Kiln Operations Manual")
    expect(pg.locator("#viewer-meta")).to_have_text(
        f"upload/kiln.pdf · page 3 · cited characters {expected['start']}–{expected['end']}"
    )
    marks = pg.locator("#viewer-text mark")
    expect(marks.first).to_be_in_viewport()
    assert "".join(marks.all_text_contents()) == expected["quote"]
    expect(pg.locator("#viewer-warning")).to_be_hidden()
    pg.keyboard.press("Escape")
    expect(pg.locator("#viewer")).to_be_hidden()
    expect(card.locator(".card-open")).to_be_focused()


def test_markdown_renders_in_answers_and_documents_and_markup_stays_inert(page: Page, size: str) -> None:
    pg = page
    turn = ask(pg, "How do I start the kiln monitor?", 0)
    expect(turn.locator(".answer code")).to_have_text("qa-kiln --port 9000")
    expect(turn.locator(".answer")).not_to_contain_text("`")

    # The document, formatted: headings, list, emphasis, code block, a safe link; the javascript:
    # link is only its text; the markup in the text is text.
    turn.locator(".card-open").first.click()
    text = pg.locator("#viewer-text")
    expect(text.locator("h3")).to_have_text("Kiln monitor guide")
    expect(text.locator("h4")).to_have_text("Steps")
    expect(text.locator("li")).to_have_count(2)
    expect(text.locator("li em")).to_have_text("evenly")
    expect(text.locator("li strong")).to_have_text("door")
    expect(text.locator("pre code")).to_have_text("qa-kiln --port 9000 --log fire.log")
    link = text.locator("a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://example.org/kiln-manual")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(text).to_contain_text("or this link.")
    expect(text).to_contain_text("<img src=x onerror=\"window.__xss='img'\">")
    expect(text).to_contain_text("<script>window.__xss='script'</script>")
    # The cited sentence highlighted through the formatting: its marks hold the sentence minus the backticks.
    expect(text.locator("mark").first).to_be_visible()
    marked = "".join(text.locator("mark").all_text_contents())
    assert marked == "Start the kiln monitor with qa-kiln --port 9000 before any firing."
    if size == "desktop":
        screenshot(pg, "viewer-desktop.png")
    # The exact characters, as the plain text.
    pg.get_by_role("button", name="Show plain text").click()
    expect(text.locator("mark")).to_have_text("Start the kiln monitor with `qa-kiln --port 9000` before any firing.")
    expect(text.locator("h3, li, pre, a")).to_have_count(0)
    pg.get_by_role("button", name="Show formatted").click()
    expect(text.locator("h3")).to_have_count(1)
    pg.keyboard.press("Escape")

    # An answer that quotes the markup shows it as text.
    turn = ask(pg, "When does the glaze cabinet stay locked?", 1)
    expect(turn.locator(".answer")).to_contain_text("<img src=x onerror=")
    pg.wait_for_timeout(300)
    assert pg.evaluate("window.__xss") is None
    assert pg.locator(f"#log :is({INJECTED}), #viewer :is({INJECTED})").count() == 0
    # The CSP's Trusted Types: an HTML sink throws instead of parsing text.
    refused = pg.evaluate(
        "() => { try { document.body.insertAdjacentHTML('beforeend', '<b>x</b>'); return false; }"
        " catch (e) { return e instanceof TypeError; } }"
    )
    assert refused is True


def test_a_generated_answer_with_markdown_keeps_markers_and_flags(page: Page, server: str) -> None:
    """The page's rendering of a generated answer, its stream scripted in the browser (the real LLM
    path is test_web_generate.py): Markdown survives the check's sentence split, the marker stays
    after its sentence, the unsupported list item is flagged, HTML stays text."""
    pg = page
    real = httpx.post(
        f"{server}/v1/chat", json={"messages": [{"role": "user", "content": KILN_QUESTION}]}, timeout=60
    ).json()["citations"][0]
    draft = (
        "The **kiln** fires stoneware at 1240 degrees.\n\n- Load it *evenly*.\n- It glows green when done.\n\n"
        "```sh\nqa-kiln --port 9000\n```\nSee <img src=x onerror=\"window.__xss='gen'\">."
    )
    sentences = [
        {"text": "The **kiln** fires stoneware at 1240 degrees.", "supported": True, "citations": [1]},
        {"text": "- Load it *evenly*.", "supported": None, "citations": []},
        {"text": "- It glows green when done.", "supported": False, "citations": []},
        {"text": "```sh", "supported": None, "citations": []},
        {"text": "qa-kiln --port 9000", "supported": None, "citations": []},
        {"text": "```", "supported": None, "citations": []},
        {"text": "See <img src=x onerror=\"window.__xss='gen'\">.", "supported": None, "citations": []},
    ]
    events = [
        ("passages", {"question": "q", "query": "q", "rewritten": False, "passages": []}),
        ("delta", {"text": draft}),
        ("answer", {"text": draft, "generated": True, "note": None, "sentences": sentences, "short_answer": None}),
        ("citations", {"citations": [real]}),
        ("done", {"found": True, "score": 0.9, "short_answer": None, "generated": True, "note": None}),
    ]
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    pg.route("**/v1/chat", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body))
    turn = ask(pg, "How hot does the kiln get?", 0)
    answer = turn.locator(".answer")
    expect(answer.locator("p").first).to_have_text("The kiln fires stoneware at 1240 degrees. [1]")
    expect(answer.locator("p strong")).to_have_text("kiln")
    expect(answer.locator(".sentence + button.cite")).to_have_text("[1]")
    expect(answer.locator("li")).to_have_count(2)
    expect(answer.locator("li em")).to_have_text("evenly")
    flagged = answer.locator("li .unsupported")
    expect(flagged).to_have_text("unsupported It glows green when done.")
    expect(flagged).to_have_accessible_description(re.compile(r"^No retrieved passage supports this sentence"))
    expect(answer.locator("pre code")).to_have_text("qa-kiln --port 9000")
    expect(answer).to_contain_text("See <img src=x onerror=")
    assert pg.locator(f"#log :is({INJECTED})").count() == 0
    expect(turn.locator(".card-title")).to_have_text("Kiln Operations Manual")


def test_the_renderer_keeps_every_text_node_at_its_source_offset(page: Page) -> None:
    """markdown.js's invariant, on tricky and random inputs: each text node it reports holds exactly
    the source characters at its offset (what highlighting a citation inside a formatted document
    relies on), and no input makes an element other than the Markdown ones."""
    result = page.evaluate(
        """() => {
        const tricky = ["# T\\n\\n*em* **st** ***both*** _u_ __uu__ snake_case_x 5 * 3", "- a\\n  - b\\n\\n1. x\\n2) y",
          "```\\ncode\\n```", "> q\\n> r\\n\\nT\\n===", "[a](https://x.y/z) [b](javascript:x) <https://q.r>",
          "\\\\*esc\\\\* \\\\[x]", "a\\r\\nb\\r\\n\\r\\n- c\\r\\n", "`a` ``b ` c`` ```", "***", "<b>x</b>&amp;"];
        let seed = 7;
        const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
        const alphabet = ["*", "_", "`", "[", "]", "(", ")", "#", "-", ">", " ", "\\n", "\\n\\n", "a", "b", "1.",
          "\\\\", "https://e.x", "<", "~~~", "  ", "\\t", "=", "!"];
        const inputs = [...tricky];
        for (let i = 0; i < 400; i++) {
          let s = ""; const n = rand(40);
          for (let k = 0; k < n; k++) s += alphabet[rand(alphabet.length)];
          inputs.push(s);
        }
        const allowed = new Set(["P", "H3", "H4", "H5", "H6", "H7", "EM", "STRONG", "CODE", "PRE", "UL", "OL", "LI",
          "BLOCKQUOTE", "HR", "A", "SPAN"]);
        const bad = [];
        for (const src of inputs) {
          const div = document.createElement("div");
          div.append(QAMarkdown.render(src, { onText: (node, at) => {
            if (src.slice(at, at + node.data.length) !== node.data) bad.push([src, at, node.data]);
          } }));
          for (const e of div.querySelectorAll("*")) if (!allowed.has(e.tagName)) bad.push([src, e.tagName]);
          for (const a of div.querySelectorAll("a")) if (!/^https?:/.test(a.href)) bad.push([src, a.href]);
        }
        return { n: inputs.length, bad: bad.slice(0, 5) };
        }"""
    )
    assert result["n"] > 400 and result["bad"] == []


def test_a_reload_keeps_the_conversation_until_new_chat(page: Page) -> None:
    pg = page
    first = ask(pg, "Who met in Paris?", 0)
    answer = first.locator(".answer").text_content()
    pg.reload()
    expect(pg.locator("li.turn")).to_have_count(2)
    restored = pg.locator("li.turn.assistant").first
    expect(restored.locator(".answer")).to_have_text(answer or "")
    expect(restored.locator(".answer button.cite")).to_have_text("[1]")
    expect(restored.locator(".card-title")).to_have_text(PARIS)
    expect(pg.locator("#empty")).to_be_hidden()
    # The restored turns are the conversation: a follow-up is read in their light.
    second = ask(pg, "What did they discuss?", 1)
    expect(second.locator(".status")).to_contain_text("Searched for: What did they discuss? (Who met in Paris?")
    restored.locator("button.cite").click()  # a restored marker still opens its span
    expect(pg.locator("#viewer-text mark").first).to_contain_text("Syrian Foreign Minister")
    pg.keyboard.press("Escape")

    pg.get_by_role("button", name="New chat").click()
    expect(pg.locator("li.turn")).to_have_count(0)
    expect(pg.locator("#empty")).to_be_visible()
    pg.reload()
    expect(pg.locator("#examples button").first).to_be_visible()
    expect(pg.locator("li.turn")).to_have_count(0)
    assert pg.evaluate("localStorage.getItem('qa-chat')") is None


def test_example_questions_come_from_the_index(page: Page, server: str) -> None:
    pg = page
    assert "Paris" not in httpx.get(server + "/").text  # no example is written into the page
    docs = httpx.get(f"{server}/v1/documents", params={"limit": 100}).json()["documents"]
    words = {w.lower() for d in docs for w in re.findall(r"\w+", (d["title"] or "") + " " + d["id"])}
    examples = pg.locator("#examples button")
    expect(examples).not_to_have_count(0)
    for text in examples.all_text_contents():
        topic = re.fullmatch(r"What is “(.+)” about\?", text)
        assert topic, text
        assert {w.lower() for w in re.findall(r"\w+", topic.group(1))} <= words, text
    examples.first.click()
    turn = pg.locator("li.turn.assistant").first
    expect(turn).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(turn.locator(".cards li")).not_to_have_count(0)


def test_an_empty_index_says_to_add_documents(page: Page) -> None:
    pg = page
    pg.route(
        re.compile(r".*/v1/documents\?.*"),
        lambda route: route.fulfill(json={"documents": [], "total": 0, "offset": 0, "limit": 100}),
    )
    pg.reload()
    expect(pg.locator("#empty-lead")).to_have_text(
        "No documents are indexed yet. Add some under Documents, then ask about them."
    )
    expect(pg.locator("#examples button")).to_have_count(0)


def test_the_documents_panel_searches_pages_deletes_and_uploads(page: Page, size: str, server: str) -> None:
    pg = page
    prefix = f"batch-{size}"
    batch = [
        {
            "id": f"{prefix}/note-{n:02d}",
            "title": f"Batch {size} note {n:02d}",
            "text": f"Note {n} of the {size} batch.",
        }
        for n in range(1, 26)
    ]
    assert httpx.post(f"{server}/v1/documents", json={"documents": batch}, headers=AUTH, timeout=120).status_code == 201
    total = httpx.get(f"{server}/v1/documents", params={"limit": 1}).json()["total"]
    pg.reload()
    open_panel(pg, size)
    count = pg.locator("#doc-count")
    items = pg.locator("#doc-list li")

    # Paging: 20 a page, the API's total.
    expect(count).to_have_text(f"{total} documents · showing 1–20")
    expect(items).to_have_count(20)
    expect(pg.get_by_role("button", name="Previous")).to_be_disabled()
    pg.get_by_role("button", name="Next").click()
    expect(count).to_have_text(f"{total} documents · showing 21–{min(40, total)}")
    expect(items).to_have_count(min(20, total - 20))
    pg.get_by_role("button", name="Previous").click()
    expect(count).to_have_text(f"{total} documents · showing 1–20")

    # Search by title, then by id.
    search = pg.get_by_label("Search documents by title or id")
    search.fill(f"batch {size} note 2")
    expect(count).to_have_text(f"6 documents match “batch {size} note 2” · showing 1–6")
    expect(items).to_have_count(6)
    search.fill(f"{prefix}/note-07")
    expect(items).to_have_count(1)
    expect(items.first.locator("button.doc")).to_have_text(f"Batch {size} note 07")
    search.fill("no such document anywhere")
    expect(count).to_have_text("No document matches “no such document anywhere”")

    # Delete, with a confirmation; without the key the server says no, with it the document goes.
    search.fill(f"{prefix}/note-07")
    expect(items).to_have_count(1)
    delete = pg.get_by_role("button", name=f"Delete {prefix}/note-07")
    delete.click()
    confirm = pg.locator("#confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text(f"Delete “Batch {size} note 07” ({prefix}/note-07)?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(items).to_have_count(1)
    delete.click()
    confirm.get_by_role("button", name="Delete").click()
    expect(pg.locator("#doc-status")).to_contain_text("this route needs an API key")
    expect(pg.locator("#doc-status")).to_contain_text("Enter the API key under API key.")
    pg.get_by_text("API key", exact=True).click()
    pg.get_by_label("API key, if this server needs one").fill(KEY)
    pg.get_by_label("API key, if this server needs one").press("Tab")
    delete.click()
    confirm.get_by_role("button", name="Delete").click()
    expect(pg.locator("#doc-status")).to_have_text(f"Deleted {prefix}/note-07.")
    expect(count).to_have_text(f"No document matches “{prefix}/note-07”")
    assert httpx.get(f"{server}/v1/documents/{prefix}/note-07").status_code == 404

    # Several files at once: each its own progress and result; the bad one fails alone.
    files = [
        {"name": f"{size}-one.md", "mimeType": "text/markdown", "buffer": b"# One\n\nThe first uploaded note."},
        {"name": f"{size}-two.txt", "mimeType": "text/plain", "buffer": b"The second uploaded note."},
        {"name": f"{size}-old.doc", "mimeType": "application/msword", "buffer": b"\xd0\xcf\x11\xe0 not supported"},
    ]
    pg.get_by_label("Add files").set_input_files(files)
    pg.get_by_role("button", name="Upload", exact=True).click()
    rows = pg.locator("#uploads li")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text(f"{size}-one.md")
    expect(rows.nth(0).locator(".upload-status")).to_have_text("added (1 passage)")
    expect(rows.nth(1).locator(".upload-status")).to_have_text("added (1 passage)")
    expect(rows.nth(2)).to_have_class(re.compile(r"\berror\b"))
    expect(rows.nth(2).locator(".upload-status")).to_contain_text("failed: ")
    expect(rows.nth(2).locator(".upload-status")).to_contain_text(".doc")
    for n in (0, 1):
        expect(rows.nth(n).locator("progress")).to_have_js_property("value", 100)
    search.fill(f"{size}-")
    expect(items).to_have_count(2)
    if size == "phone":
        screenshot(pg.locator("#docs"), "documents-phone.png")

    for d in [*batch, {"id": f"upload/{size}-one.md"}, {"id": f"upload/{size}-two.txt"}]:
        if d["id"] != f"{prefix}/note-07":
            assert httpx.delete(f"{server}/v1/documents/{d['id']}", headers=AUTH).status_code == 200


def test_a_collections_page_names_it_asks_it_and_keeps_its_own_conversation(browser: Browser, server: str) -> None:
    """`/?collection=garden`: the header and the tab name the collection, the documents panel lists
    its documents only, a question is answered from it, and the default page's conversation is not
    shown there (nor this one on the default page)."""
    r = httpx.post(f"{server}/v1/collections", json={"name": "garden"}, headers=AUTH, timeout=60)
    assert r.status_code == 201, r.text
    doc = {
        "id": "greenhouse",
        "title": "Greenhouse rules",
        "text": "The community greenhouse opens at seven in the morning. Watering cans are kept by the north door.",
    }
    assert (
        httpx.post(f"{server}/v1/documents?collection=garden", json=doc, headers=AUTH, timeout=120).status_code == 201
    )
    context = browser.new_context(viewport=SIZES["desktop"])
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server + "/")
    ask(pg, KILN_QUESTION, 0)  # a conversation on the default collection
    pg.goto(server + "/?collection=garden")
    expect(pg.locator("#collection")).to_have_text("Collection: garden")
    expect(pg).to_have_title("qa: garden")
    expect(pg.locator("#doc-list li")).to_have_count(1)
    expect(pg.locator("#doc-list")).to_contain_text("Greenhouse rules")
    expect(pg.locator("li.turn")).to_have_count(0)  # not the default collection's conversation
    turn = ask(pg, "Where are the watering cans kept?", 0)
    expect(turn.locator(".answer")).to_contain_text("north door")
    pg.goto(server + "/")
    expect(pg.locator("#collection")).to_be_hidden()
    expect(pg.locator("li.turn.assistant")).to_have_count(1)
    expect(pg.locator("li.turn.assistant").first).to_contain_text("degrees")
    context.close()
    assert errors == []
