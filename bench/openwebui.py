"""Open WebUI against qa, in a real browser: the citation chip, the Sources panel and the exact quote.

    python -m bench.openwebui --install       # once: Open WebUI in its own virtualenv (/tmp/qa-openwebui), then the run
    python -m bench.openwebui                 # the run alone

What a run does, every step bounded in time:

1. starts ``qa serve`` on 127.0.0.1 with a temporary index of the seed article
   (``../shared/seed/paris_article.txt``) and the bundled ``examples/docs``;
2. starts Open WebUI (``open-webui serve``) on 127.0.0.1 with its data in a temporary folder,
   single-user (``WEBUI_AUTH=False``), offline (``OFFLINE_MODE``: no model hub, no version check;
   its RAG embeddings through qa's own ``/v1/embeddings``, so it loads no embedding model; no Ollama,
   web search, image generation, code execution or autocomplete), and one OpenAI connection:
   qa's ``/v1`` with a dummy key;
3. drives Open WebUI with Playwright in Debian's chromium (headless; never a downloaded browser;
   every request leaving 127.0.0.1 is refused and listed in the report): a new chat with the
   model ``qa`` selected, asks "Who met in Paris?", waits for the answer, and checks
   - the answer names al-Shaibani and Dermer,
   - an inline citation chip and the "N Sources" button appear,
   - opening the chip shows the exact quote: the text Open WebUI stored for the source
     (``sources[].document`` of the chat) equals the cited document's text at the cited offsets
     (read back from qa, and from the article file when the article is the one cited), and the
     panel shows it,
   - the chat's title, tags and follow-up suggestions came from qa's handling of Open WebUI's task
     prompts (``qa.tasks``: the title is ``qa.tasks.title(question)``, not "New Chat");
   - a second collection (``handbook``, made before Open WebUI starts) is a model in Open WebUI's
     list (``GET /api/models``), next to ``qa``;
4. saves a screenshot with the quote open (``docs/openwebui-citations.png``), writes
   ``bench/results/openwebui.json`` and ``.md`` (versions, timings, each check passed or failed),
   stops both servers and removes the temporary folders (``--keep`` keeps them, with the logs).

Exit code: 0 every check passed, 1 a check failed, 2 something is missing or did not start (one
line on stderr says what). Open WebUI is big (about 2 GB with torch's CPU wheel): it never goes
into the project's virtualenv.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "results"
SCREENSHOT = ROOT / "docs" / "openwebui-citations.png"
ARTICLE = ROOT.parent / "shared" / "seed" / "paris_article.txt"
EXAMPLES = ROOT / "examples" / "docs"
VERSION = "0.12.4"
# torch first, pinned: open-webui's sentence-transformers would otherwise take PyPI's default Linux
# wheel and its 3 GB of CUDA libraries; where a CPU build of this version is on hand (a local
# wheel folder), pip prefers it (2.13.0+cpu sorts after 2.13.0).
TORCH = "torch==2.13.0"
QUESTION = "Who met in Paris?"
# A second collection, made before Open WebUI starts: it must be in Open WebUI's list of models.
SECOND_COLLECTION = "handbook"
NAMES = ("al-Shaibani", "Dermer")
CHROMIUM = Path(os.environ.get("QA_CHROMIUM", "/usr/bin/chromium"))
# tests/system/test_web.py's: headless, and nothing that reaches out on its own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DUMMY_KEY = "unused"


class Missing(Exception):
    """Something the run needs is not there or did not start: exit code 2, one line."""


# ---------------------------------------------------------------------------------------------
# Install


def install(venv: Path, version: str, timeout: float) -> float:
    """Open WebUI ``version`` in ``venv`` (created if needed): torch's pinned wheel first, then
    open-webui. Returns the seconds it took; raises Missing past ``timeout``."""
    t = time.perf_counter()
    deadline = t + timeout
    if sys.version_info[:2] not in ((3, 11), (3, 12)):
        raise Missing(f"open-webui {version} needs Python 3.11 or 3.12; this is {sys.version.split()[0]}")
    steps = [
        [sys.executable, "-m", "venv", str(venv)] if not (venv / "bin" / "python").exists() else None,
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", TORCH],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"open-webui=={version}"],
    ]
    for cmd in steps:
        if cmd is None:
            continue
        left = deadline - time.perf_counter()
        print(f"$ {' '.join(cmd)}", file=sys.stderr, flush=True)
        try:
            subprocess.run(cmd, check=True, timeout=max(left, 1))
        except subprocess.TimeoutExpired as exc:
            raise Missing(f"installing open-webui took more than {timeout:.0f} s (--install-timeout)") from exc
        except subprocess.CalledProcessError as exc:
            raise Missing(f"`{' '.join(cmd)}` failed with exit code {exc.returncode}") from exc
    return time.perf_counter() - t


def installed_version(venv: Path) -> str | None:
    """open-webui's version in ``venv``, or None when it is not installed there."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    r = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('open-webui'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return r.stdout.strip() if r.returncode == 0 else None


# ---------------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float, what: str) -> float:
    """Seconds until ``url`` answers 200; raises Missing if ``proc`` exits or ``timeout`` passes."""
    t = time.perf_counter()
    while time.perf_counter() - t < timeout:
        if proc.poll() is not None:
            raise Missing(f"{what} exited with code {proc.returncode} before answering: {last_line(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - t
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise Missing(f"{what} did not answer {url} within {timeout:.0f} s: {last_line(log)}")


def last_line(log: Path) -> str:
    """The log's last line that says something (not a box border)."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    said = [ln.strip(" │╭╮╰╯─") for ln in lines if any(ch.isalnum() for ch in ln)]
    return said[-1][-300:] if said else "(no output)"


@contextmanager
def process(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process group, stopped (SIGTERM, then SIGKILL after 20 s) on exit."""
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def qa_command(index_dir: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "qa",
        "--index-dir",
        str(index_dir),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ingest",
        str(ARTICLE),
        "--ingest",
        str(EXAMPLES),
    ]


def qa_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # JSON lines: the access log's method, path and status, counted for the report.
        "QA_LOG_FORMAT": "json",
        # The ONNX export of the model is kept where the user's runs keep it.
        **({"QA_ONNX_CACHE_DIR": os.environ["QA_ONNX_CACHE_DIR"]} if "QA_ONNX_CACHE_DIR" in os.environ else {}),
    }


def webui_env(data_dir: Path, qa_url: str) -> dict[str, str]:
    """Open WebUI's settings for a single-user, offline instance whose one model provider is qa.

    Read from open-webui's ``env.py`` and ``config.py``: ``OFFLINE_MODE`` sets ``HF_HUB_OFFLINE``
    and turns off the version check and models' auto-update; with ``RAG_EMBEDDING_ENGINE=openai``
    ``get_ef`` loads no sentence-transformers model at start (its default,
    ``sentence-transformers/all-MiniLM-L6-v2``, would be fetched from the hub) and embeds through
    qa's ``/v1/embeddings`` instead; ``WEBUI_AUTH=False`` signs every visitor in as one admin."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    return {
        **{k: os.environ[k] for k in keep if k in os.environ},
        "DATA_DIR": str(data_dir),
        "WEBUI_SECRET_KEY": secrets.token_hex(16),
        "WEBUI_AUTH": "False",
        "OFFLINE_MODE": "true",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ENABLE_VERSION_UPDATE_CHECK": "false",
        "ANONYMIZED_TELEMETRY": "False",
        "DO_NOT_TRACK": "true",
        "SCARF_NO_ANALYTICS": "true",
        "ENABLE_OLLAMA_API": "False",
        "ENABLE_OPENAI_API": "True",
        "OPENAI_API_BASE_URLS": f"{qa_url}/v1",
        "OPENAI_API_KEYS": DUMMY_KEY,
        "DEFAULT_MODELS": "qa",
        "RAG_EMBEDDING_ENGINE": "openai",
        "RAG_EMBEDDING_MODEL": "qa",
        "RAG_OPENAI_API_BASE_URL": f"{qa_url}/v1",
        "RAG_OPENAI_API_KEY": DUMMY_KEY,
        "ENABLE_WEB_SEARCH": "False",
        "ENABLE_IMAGE_GENERATION": "False",
        "ENABLE_CODE_INTERPRETER": "False",
        "ENABLE_CODE_EXECUTION": "False",
        "ENABLE_AUTOCOMPLETE_GENERATION": "False",
        "ENABLE_EVALUATION_ARENA_MODELS": "False",
        "ENABLE_COMMUNITY_SHARING": "False",
        # The three task prompts qa answers (qa/tasks.py) stay on: they are checked.
        "ENABLE_TITLE_GENERATION": "True",
        "ENABLE_TAGS_GENERATION": "True",
        "ENABLE_FOLLOW_UP_GENERATION": "True",
        "USER_AGENT": "qa-bench-openwebui",
        "UVICORN_WORKERS": "1",
        "GLOBAL_LOG_LEVEL": "INFO",
    }


# ---------------------------------------------------------------------------------------------
# The browser


class Checks:
    """Named checks, each passed or failed with what was seen."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, name: str, passed: bool, detail: str) -> bool:
        self.items.append({"check": name, "passed": bool(passed), "detail": detail})
        print(f"{'PASS' if passed else 'FAIL'} {name}: {detail}", file=sys.stderr, flush=True)
        return bool(passed)

    @property
    def passed(self) -> bool:
        return bool(self.items) and all(c["passed"] for c in self.items)


def normalize(text: str) -> str:
    return " ".join(text.split())


def cited_span(url: str) -> tuple[str, int, int] | None:
    """(doc id, start, end) of qa's citation URL ``<base>/documents/<id>#<start>-<end>``."""
    parts = urlsplit(url)
    m = re.fullmatch(r"(\d+)-(\d+)", parts.fragment)
    if not parts.path.startswith("/documents/") or m is None:
        return None
    return unquote(parts.path[len("/documents/") :]), int(m.group(1)), int(m.group(2))


def poll(fn: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    """``fn()``'s first truthy result within ``timeout`` seconds, else its last one."""
    t = time.perf_counter()
    value = fn()
    while not value and time.perf_counter() - t < timeout:
        time.sleep(interval)
        value = fn()
    return value


def drive(
    webui_url: str, qa_url: str, screenshot: Path, answer_timeout: float, checks: Checks, result: dict[str, Any]
) -> None:
    """Ask the question in Open WebUI and check what it shows; fills ``result`` as it goes."""
    from playwright.sync_api import Route, expect, sync_playwright

    from qa.tasks import title as qa_title

    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        result["versions"]["chromium"] = browser.version
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.set_default_timeout(60_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)[:300]))

            t = time.perf_counter()
            page.goto(webui_url + "/")
            chat_input = page.locator("#chat-input")
            expect(chat_input).to_be_visible(timeout=120_000)
            result["timings_s"]["page_ready"] = round(time.perf_counter() - t, 1)
            # An admin's first visit opens the changelog ("What's New"): close it.
            lets_go = page.get_by_role("button", name="Okay, Let's Go!")
            if lets_go.is_visible():
                lets_go.click()
            selector = page.locator("button[id^='model-selector-'][id$='-button']").first
            label = selector.get_attribute("aria-label") or ""
            checks.add("model qa selected in a new chat", "qa" in label.split(":")[-1].split(), f"selector: {label!r}")

            t = time.perf_counter()
            chat_input.click()
            page.keyboard.type(QUESTION)
            page.keyboard.press("Enter")
            message = page.locator("div[id^='message-']").filter(has=page.locator(".chat-assistant")).last
            content = message.locator("#response-content-container")
            try:
                expect(content).to_contain_text(NAMES[1], timeout=answer_timeout * 1000)
            except AssertionError:
                pass
            answer = content.inner_text() if content.count() else ""
            result["answer_shown"] = answer
            result["timings_s"]["answer"] = round(time.perf_counter() - t, 1)
            checks.add(
                "answer names al-Shaibani and Dermer",
                all(n in answer for n in NAMES),
                f"answer shown: {normalize(answer)[:160]!r}",
            )

            # The sources arrive after the text: the "N Sources" button under the message.
            toggle = message.get_by_role("button", name=re.compile(r"^Toggle (1 source|\d+ sources)$"))
            try:
                expect(toggle).to_be_visible(timeout=60_000)
            except AssertionError:
                pass
            toggle_text = normalize(toggle.inner_text()) if toggle.count() else ""
            checks.add("Sources button under the answer", bool(toggle_text), f"button: {toggle_text!r}")
            chip = message.get_by_role("button", name=re.compile(r"^View source: "))
            chips = chip.count()
            chip_label = chip.first.get_attribute("aria-label") if chips else None
            checks.add("inline citation chip in the answer", chips > 0, f"{chips} chip(s), first: {chip_label!r}")

            chat_id = urlsplit(page.url).path.rsplit("/c/", 1)[-1] if "/c/" in page.url else None
            result["chat_id"] = chat_id
            token = page.evaluate("() => localStorage.token")

            # qa's collections are models for OpenAI clients: Open WebUI lists the second one too.
            listed = httpx.get(f"{webui_url}/api/models", headers={"authorization": f"Bearer {token}"}, timeout=30)
            ids = [m.get("id") for m in listed.json().get("data", [])] if listed.status_code == 200 else []
            checks.add(
                f"collection {SECOND_COLLECTION!r} is a model in Open WebUI's list",
                {"qa", SECOND_COLLECTION} <= set(ids),
                f"GET /api/models: {listed.status_code}, ids {ids}",
            )

            def stored_chat() -> dict[str, Any] | None:
                if not chat_id:
                    return None
                r = httpx.get(
                    f"{webui_url}/api/v1/chats/{chat_id}", headers={"authorization": f"Bearer {token}"}, timeout=10
                )
                return r.json() if r.status_code == 200 else None

            def assistant_message(chat: dict[str, Any] | None) -> dict[str, Any] | None:
                # The messages as Open WebUI keeps them: a tree under chat.history, the answer at currentId.
                history = ((chat or {}).get("chat") or {}).get("history") or {}
                m = (history.get("messages") or {}).get(history.get("currentId") or "")
                return m if m and m.get("role") == "assistant" else None

            def done_message() -> dict[str, Any] | None:
                m = assistant_message(stored_chat())
                return m if m and m.get("done") and m.get("sources") else None

            stored = poll(done_message, 30) or assistant_message(stored_chat()) or {}
            sources = stored.get("sources") or []
            result["sources_stored"] = sources

            # The quote: what Open WebUI stored for the first source == the cited span's text.
            quote_ok = False
            detail = "no source stored with the message"
            expected = None
            for s in sources:
                for doc, meta in zip(s.get("document") or [], s.get("metadata") or [], strict=False):
                    span = cited_span(str((meta or {}).get("source", "")))
                    if span is None:
                        continue
                    doc_id, start, end = span
                    text = httpx.get(
                        f"{qa_url}/v1/documents/{doc_id}", params={"include_text": "true"}, timeout=30
                    ).json()["text"]
                    expected = text[start:end]
                    # The file itself, where qa keeps a file's text as it is (.txt, .md): same characters.
                    file = ARTICLE if doc_id == ARTICLE.name else EXAMPLES / doc_id
                    raw = file.read_text(encoding="utf-8") if file.is_file() else None
                    file_span = raw[start:end] if raw is not None and raw == text else None
                    quote_ok = doc == expected and (file_span is None or file_span == doc)
                    result["citation"] = {"doc_id": doc_id, "start": start, "end": end, "quote": doc}
                    on_disk = f"{os.path.relpath(file, ROOT)}[{start}:{end}]"
                    detail = (
                        f"{doc_id} characters {start}-{end} in qa {'==' if doc == expected else '!='} the quote"
                        " Open WebUI stored"
                        + ("" if file_span is None else f", {'==' if file_span == doc else '!='} {on_disk}")
                        + f": {doc!r}"
                    )
                    break
                if expected is not None:
                    break
            checks.add("stored source quote == document text at the cited offsets", quote_ok, detail)

            # Open it as a user would: the chip (else the Sources list), then the panel.
            if chips:
                chip.first.click()
            elif toggle_text:
                toggle.click()
                message.get_by_role("button").filter(has_text=re.compile(r"^\s*1\s")).first.click()
            modal = page.locator(".modal").last
            shown = ""
            try:
                expect(modal).to_be_visible(timeout=15_000)
                if expected:
                    expect(modal).to_contain_text(normalize(expected)[:60], timeout=15_000)
                shown = modal.inner_text()
            except AssertionError:
                shown = modal.inner_text() if modal.count() else ""
            result["panel_text"] = shown
            checks.add(
                "the source panel shows the exact quote",
                bool(expected) and normalize(expected or "") in normalize(shown),
                f"panel: {normalize(shown)[:200]!r}",
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.wait_for_timeout(1000)  # the panel fades in
            page.screenshot(path=str(screenshot))
            result["screenshot"] = str(screenshot.relative_to(ROOT) if screenshot.is_relative_to(ROOT) else screenshot)

            # The task prompts: Open WebUI asks the chat model (qa) after the answer.
            want_title = qa_title(QUESTION)
            t = time.perf_counter()

            def titled() -> dict[str, Any] | None:
                chat = stored_chat()
                return chat if chat and chat.get("title") not in (None, "", "New Chat") else None

            chat = poll(titled, 60) or stored_chat() or {}
            result["timings_s"]["title_after_quote"] = round(time.perf_counter() - t, 1)
            got_title = chat.get("title")
            result["title"] = got_title
            checks.add(
                "chat title from qa's task-prompt answer",
                got_title == want_title,
                f"title {got_title!r}, qa.tasks.title gives {want_title!r}",
            )

            def tagged() -> list[str]:
                c = stored_chat() or {}
                return [t.get("name", t) if isinstance(t, dict) else t for t in (c.get("meta") or {}).get("tags") or []]

            got_tags = poll(tagged, 30)
            result["tags"] = got_tags
            checks.add("chat tags from qa's task-prompt answer", bool(got_tags), f"tags {got_tags!r}")

            follow = poll(lambda: (assistant_message(stored_chat()) or {}).get("followUps"), 30)
            result["follow_ups"] = follow
            checks.add(
                "follow-up suggestions from qa's task-prompt answer",
                bool(follow) and all(str(f).startswith("What about ") for f in follow),
                f"follow-ups {follow!r}",
            )
            result["page_errors"] = errors
            result["blocked_requests"] = sorted(set(blocked))
        finally:
            browser.close()


# ---------------------------------------------------------------------------------------------
# Report


def requests_seen(log: Path) -> dict[str, int]:
    """What Open WebUI asked qa: "<method> <path> <status>" -> count, from qa's JSON access log."""
    seen: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("name") == "qa.access" and "path" in rec:
            key = f"{rec.get('method')} {rec['path']} {rec.get('status')}"
            seen[key] = seen.get(key, 0) + 1
    return seen


def versions(venv: Path) -> dict[str, Any]:
    def version(pkg: str) -> str | None:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return None

    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    revision = (rev.stdout.strip() or "unknown revision") + (
        " with uncommitted changes" if dirty.stdout.strip() else ""
    )
    return {
        "open-webui": installed_version(venv),
        "qa": f"{version('qa')} ({revision})",
        "playwright": version("playwright"),
        "python": sys.version.split()[0],
    }


def markdown(r: dict[str, Any]) -> str:
    v = r["versions"]
    lines = [
        f"# Open WebUI against qa: citations in the browser ({'PASS' if r['passed'] else 'FAIL'})",
        "",
        f"`{r['command']}` on {r['started']} ({r['machine']}; load average {r['load_average_before']} before, "
        f"{r['load_average_after']} after).",
        "",
        f"Open WebUI {v.get('open-webui')}, qa {v.get('qa')}, chromium {v.get('chromium')} (Debian's, headless), "
        f"Playwright {v.get('playwright')}, Python {v.get('python')}.",
        "",
        f'Question: "{QUESTION}", asked in a new chat with the model `qa`.',
        "",
        "| check | result | what was seen |",
        "|---|---|---|",
    ]
    for c in r["checks"]:
        detail = c["detail"].replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {c['check']} | {'pass' if c['passed'] else '**FAIL**'} | {detail} |")
    if r.get("error"):
        lines += ["", f"Stopped early: {r['error']}"]
    lines += ["", "| step | seconds |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {s} |" for k, s in r["timings_s"].items()]
    if r.get("qa_requests"):
        asked = ", ".join(f"`{k}` × {n}" for k, n in sorted(r["qa_requests"].items()))
        lines += [
            "",
            f"Requests qa served during the run (its access log; `/healthz` and `/v1/documents/...` are this "
            f"script's, the rest Open WebUI's: the answer, then its title, tags and follow-up prompts): {asked}.",
        ]
    if r.get("screenshot"):
        lines += ["", f"![Open WebUI showing qa's answer and the cited quote]({Path('..', '..', r['screenshot'])})"]
    lines += [
        "",
        "Open WebUI ran single-user and offline (`WEBUI_AUTH=False`, `OFFLINE_MODE=true`, RAG embeddings through "
        "qa's `/v1/embeddings`, no Ollama, web search, image generation, code execution or autocomplete), with qa "
        "as its one OpenAI connection (`OPENAI_API_BASE_URLS=<qa>/v1`, a dummy key). Requests the page made "
        f"beyond 127.0.0.1, refused: {', '.join(f'`{u}`' for u in r.get('blocked_requests') or []) or 'none'}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--install", action="store_true", help="Install Open WebUI into --venv first (or update it).")
    ap.add_argument("--venv", type=Path, default=Path("/tmp/qa-openwebui"), help="Open WebUI's own virtualenv.")
    ap.add_argument("--version", default=VERSION, help="The open-webui release to install and expect.")
    ap.add_argument("--install-timeout", type=float, default=2400, help="Seconds the install may take.")
    ap.add_argument("--start-timeout", type=float, default=420, help="Seconds each server may take to answer.")
    ap.add_argument("--answer-timeout", type=float, default=180, help="Seconds the answer may take to show.")
    ap.add_argument("--out", type=Path, default=OUT, help="Where openwebui.json and openwebui.md go.")
    ap.add_argument("--screenshot", type=Path, default=SCREENSHOT, help="Where the PNG goes.")
    ap.add_argument("--keep", action="store_true", help="Keep the temporary folders (data, index, logs).")
    args = ap.parse_args(argv)

    from bench.machine import describe, load_avg

    result: dict[str, Any] = {
        "command": "python -m bench.openwebui" + (" --install" if args.install else ""),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": describe(),
        "load_average_before": load_avg(),
        "timings_s": {},
        "checks": [],
    }
    checks = Checks()
    tmp = Path(tempfile.mkdtemp(prefix="qa-openwebui-run-"))
    code = 2
    try:
        for path, hint in (
            (CHROMIUM, "apt-get install chromium (or QA_CHROMIUM=path)"),
            (ARTICLE, "the seed article is read from ../shared/seed"),
        ):
            if not path.exists():
                raise Missing(f"{path} is missing: {hint}")
        try:
            import playwright  # noqa: F401
        except ImportError as exc:
            raise Missing("playwright is not installed here: pip install -e '.[dev]'") from exc
        if args.install:
            result["timings_s"]["install"] = round(install(args.venv, args.version, args.install_timeout), 1)
        have = installed_version(args.venv)
        if have is None:
            raise Missing(f"no Open WebUI in {args.venv}: run `python -m bench.openwebui --install` (or --venv)")
        if have != args.version:
            raise Missing(f"{args.venv} has open-webui {have}, not {args.version}: run with --install")
        result["versions"] = versions(args.venv)

        qa_port, webui_port = free_port(), free_port()
        qa_url, webui_url = f"http://127.0.0.1:{qa_port}", f"http://127.0.0.1:{webui_port}"
        webui_dir = tmp / "webui"
        webui_dir.mkdir()
        t = time.perf_counter()
        with process(qa_command(tmp / "index", qa_port), qa_env(), ROOT, tmp / "qa.log") as qa_proc:
            result["timings_s"]["qa_start_with_ingest"] = round(
                wait_http(f"{qa_url}/healthz", qa_proc, tmp / "qa.log", args.start_timeout, "qa serve"), 1
            )
            created = httpx.post(f"{qa_url}/v1/collections", json={"name": SECOND_COLLECTION}, timeout=120)
            if created.status_code != 201:
                raise Missing(
                    f"qa did not create collection {SECOND_COLLECTION!r}: {created.status_code} {created.text}"
                )
            webui_cmd = [
                str(args.venv / "bin" / "open-webui"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(webui_port),
            ]
            env = webui_env(webui_dir / "data", qa_url)
            with process(webui_cmd, env, webui_dir, tmp / "webui.log") as webui_proc:
                result["timings_s"]["webui_start"] = round(
                    wait_http(f"{webui_url}/health", webui_proc, tmp / "webui.log", args.start_timeout, "Open WebUI"), 1
                )
                code = 1
                try:
                    drive(webui_url, qa_url, args.screenshot, args.answer_timeout, checks, result)
                except Exception as exc:  # a step that timed out or broke: report it with the checks so far
                    result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    print(f"error: {result['error']}", file=sys.stderr)
                result["qa_requests"] = requests_seen(tmp / "qa.log")
        result["timings_s"]["servers_up_to_stopped"] = round(time.perf_counter() - t, 1)
        code = 0 if checks.passed and not result.get("error") else 1
    except Missing as exc:
        result["error"] = str(exc)
        code = 2
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result["checks"] = checks.items
    result["passed"] = code == 0
    result["exit_code"] = code
    result["load_average_after"] = load_avg()
    result.setdefault("versions", {})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "openwebui.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (args.out / "openwebui.md").write_text(markdown(result))
    report = args.out / "openwebui.md"
    failed = [c["check"] for c in checks.items if not c["passed"]]
    if code == 2:
        print(f"bench.openwebui: {result['error']} (report: {report})", file=sys.stderr)
    elif code == 1:
        why = f"{len(failed)} of {len(checks.items)} checks failed" if failed else result.get("error")
        print(f"FAIL: {why} (report: {report})", file=sys.stderr)
    else:
        print(f"PASS: all {len(checks.items)} checks (report: {report})", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
