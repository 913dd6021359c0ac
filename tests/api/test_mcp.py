"""The MCP server, driven by the official `mcp` SDK's own client over both transports: stdio
(`python -m qa mcp` spawned on an index built here) and streamable HTTP (`/mcp` on a real uvicorn
server). The model, FAISS and SQLite are real."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from qa.access import add_key
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService
from qa.sync import SyncOptions

from ..conftest import EXAMPLES, ROOT
from ..live_server import live_server

KEY = "mcp-test-key"
T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(fn)


def http_client(base: str, key: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    # The SDK's transport takes its HTTP client as is: headers (the API key) go on it.
    transport = streamable_http_client(f"{base}/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=120))
    return Client(transport)


def text(r: CallToolResult) -> str:
    assert len(r.content) == 1 and r.content[0].type == "text"
    return str(r.content[0].text)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    """The sample documents behind a live server whose writes need ``KEY`` (reads are open)."""
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("mcp-http"), api_keys=KEY), embedder=embedder)
    svc.index_paths([EXAMPLES], options=SyncOptions(source="examples"))
    with live_server(svc) as base:
        yield base
    svc.close()


def document_text(base: str, doc_id: str) -> str:
    r = httpx.get(f"{base}/v1/documents/{doc_id}", params={"include_text": True})
    return str(r.json()["text"])


async def check_tools(c: Client, writes: bool, collections: bool = False) -> None:
    """What every transport offers: the tools, their schemas and annotations, and their answers
    (``list_collections`` over HTTP, where there are collections; `qa mcp` serves one)."""
    tools = {t.name: t for t in (await c.list_tools()).tools}
    expected = {"search", "ask", "get_document", "list_documents"} | ({"add_document"} if writes else set())
    assert set(tools) == expected | ({"list_collections"} if collections else set())
    for name in ("search", "ask", "get_document", "list_documents"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True, name
        assert tools[name].output_schema is not None and tools[name].input_schema["type"] == "object", name
    assert tools["search"].input_schema["required"] == ["query"]
    assert {"query", "k", "filters"} <= set(tools["search"].input_schema["properties"])
    assert "citations" in tools["ask"].output_schema["properties"]  # type: ignore[index]
    if writes:
        add = tools["add_document"].annotations
        assert add is not None and add.destructive_hint is True and add.read_only_hint is False

    r = await c.call_tool("ask", {"question": "Who met in Paris?"})
    assert not r.is_error
    a = r.structured_content
    assert a["found"] is True and "al-Shaibani" in a["answer"]
    cite = a["citations"][0]
    assert cite["doc_id"] == "examples/paris-talks.md" and cite["end"] > cite["start"] and "page" in cite
    # The exact quote, and where to read it: get_document's span is the cited characters.
    span = await c.call_tool("get_document", {"doc_id": cite["doc_id"], "start": cite["start"], "end": cite["end"]})
    assert span.structured_content["text"] == cite["quote"]
    assert span.structured_content["title"] == cite["title"] and span.structured_content["chars"] > cite["end"]
    # The readable text: the answer, then its sources with the quote.
    assert text(r).startswith(a["answer"]) and f'"{cite["quote"]}"' in text(r) and "examples/paris-talks.md" in text(r)

    r = await c.call_tool("search", {"query": "sourdough starter", "k": 2})
    passages = r.structured_content["passages"]
    assert len(passages) == 2 and passages[0]["doc_id"] == "examples/bread-baking.txt"
    assert {"doc_id", "start", "end", "page", "text", "score"} <= set(passages[0])
    assert passages[0]["text"] in text(r)
    filtered = await c.call_tool("search", {"query": "sourdough", "filters": {"doc_id": "examples/faiss-notes.md"}})
    assert {p["doc_id"] for p in filtered.structured_content["passages"]} == {"examples/faiss-notes.md"}

    whole = await c.call_tool("get_document", {"doc_id": "examples/paris-talks.md"})
    doc = whole.structured_content
    assert doc["start"] == 0 and doc["end"] == doc["chars"] == len(doc["text"]) and doc["metadata"]
    assert doc["text"][cite["start"] : cite["end"]] == cite["quote"]

    page = await c.call_tool("list_documents", {"limit": 2})
    listed = page.structured_content
    assert len(listed["documents"]) == 2 and listed["total"] >= 8 and listed["next_offset"] == 2
    last = await c.call_tool("list_documents", {"offset": listed["total"] - 1})
    assert len(last.structured_content["documents"]) == 1 and last.structured_content["next_offset"] is None

    nothing = await c.call_tool("ask", {"question": "What is the airspeed velocity of an unladen swallow?"})
    assert not nothing.is_error and nothing.structured_content["found"] is False
    assert nothing.structured_content["citations"] == [] and text(nothing).startswith("Not found:")


async def check_refusals(c: Client) -> None:
    """Bad input is a tool error whose text says what was wrong, never a crash."""
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("get_document", {"doc_id": "no-such-doc"}, "no document with id 'no-such-doc'"),
        (
            "get_document",
            {"doc_id": "examples/paris-talks.md", "start": 50, "end": 10},
            "span start=50, end=10 is outside",
        ),
        ("get_document", {"doc_id": "examples/paris-talks.md", "end": 10**9}, "0 <= start <= end <= "),
        ("get_document", {"doc_id": "examples/paris-talks.md", "start": -1}, "span start=-1"),
        ("search", {"query": "x", "k": 1000}, "k must be between 1 and"),
        ("search", {"query": "   "}, "send a non-blank 'query'"),
        ("search", {"query": "x", "k": "many"}, "invalid arguments for search: k: Input should be a valid integer"),
        ("ask", {"question": "x", "filters": {"topic": {"nested": 1}}}, "filters.topic: expected one of str, int"),
        ("ask", {"question": "x", "filters": {"topic": ["a", "b"]}}, "filter 'topic' must be a string, number or"),
        ("search", {}, "invalid arguments for search: query: Field required"),
        ("list_documents", {"limit": 0}, "limit 1..1000"),
        ("no_such_tool", {}, "no_such_tool"),
    ]
    for tool, args, needle in cases:
        r = await c.call_tool(tool, args)
        assert r.is_error, (tool, args)
        assert needle in text(r) and "Traceback" not in text(r), (tool, args, text(r))


# -- streamable HTTP ------------------------------------------------------------------------------


def test_http_tools(server: str) -> None:
    async def go() -> None:
        async with http_client(server) as c:
            await check_tools(c, writes=True, collections=True)

    run(go)


def test_http_bad_input_is_a_clear_tool_error(server: str) -> None:
    async def go() -> None:
        async with http_client(server) as c:
            await check_refusals(c)

    run(go)


def test_http_add_document_needs_the_api_key(server: str) -> None:
    doc = {
        "id": "notes/kiln",
        "title": "Kiln",
        "text": "The kiln fires at 1240 degrees.",
        "metadata": {"team": "ceramics"},
    }

    async def go() -> None:
        async with http_client(server) as c:
            r = await c.call_tool("add_document", doc)
            assert r.is_error and "needs an API key" in text(r) and "Authorization: Bearer" in text(r)
        async with http_client(server, "wrong-key") as c:
            r = await c.call_tool("add_document", doc)
            assert r.is_error and "not valid" in text(r)
        assert httpx.get(f"{server}/v1/documents/notes/kiln").status_code == 404  # nothing was written
        async with http_client(server, KEY) as c:
            r = await c.call_tool("add_document", doc)
            assert not r.is_error and r.structured_content == {"id": "notes/kiln", "status": "added", "chunks": 1}
            again = await c.call_tool("add_document", doc)
            assert again.structured_content["status"] == "unchanged"
            found = await c.call_tool("search", {"query": "kiln temperature", "filters": {"team": "ceramics"}})
            assert [p["doc_id"] for p in found.structured_content["passages"]] == ["notes/kiln"]
            bad = await c.call_tool("add_document", {"text": "   "})
            assert bad.is_error and "Traceback" not in text(bad)

    run(go)
    assert document_text(server, "notes/kiln") == doc["text"]
    metrics = httpx.get(f"{server}/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
    counted = [m for m in metrics.splitlines() if m.startswith("qa_ingested_documents_total")]
    assert 'qa_ingested_documents_total{collection="default",route="/mcp",status="added"} 1.0' in counted, counted


def test_http_reads_need_a_key_when_configured(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path, api_keys=KEY, require_key_for_read=True)
    svc = QAService(settings, embedder=embedder)

    async def go(base: str) -> None:
        async with http_client(base, KEY) as c:
            assert "list_documents" in {t.name for t in (await c.list_tools()).tools}
            listed = await c.call_tool("list_documents", {})
            assert listed.structured_content["total"] == 0 and text(listed).startswith("No documents")

    with live_server(svc) as base:
        # Refused before MCP, in qa's shape, as every other route.
        r = httpx.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        wrong = httpx.post(f"{base}/mcp", json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        anyio.run(go, base)
    svc.close()


# -- stdio ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stdio_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the sample documents, built here, closed before `qa mcp` opens it."""
    index_dir = tmp_path_factory.mktemp("mcp-stdio")
    svc = QAService(Settings(index_dir=index_dir), embedder=embedder)
    svc.index_paths([EXAMPLES], options=SyncOptions(source="examples"))
    svc.close()
    return index_dir


def stdio(index_dir: Path, *args: str) -> Client:
    # The SDK passes a minimal environment (PATH, HOME, ...): the settings go explicitly, as in a
    # client's config file.
    env = {k: v for k, v in os.environ.items() if k.startswith(("QA_", "HF_", "TRANSFORMERS_", "TOKENIZERS_"))}
    env |= {"QA_INDEX_DIR": str(index_dir), "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}
    params = StdioServerParameters(command=sys.executable, args=["-m", "qa", "mcp", *args], env=env, cwd=ROOT)
    return Client(params, read_timeout_seconds=300)


def test_stdio_tools_and_refusals(stdio_index: Path) -> None:
    async def go() -> None:
        async with stdio(stdio_index) as c:
            assert c.server_info is not None and c.server_info.name == "qa"
            await check_tools(c, writes=False)
            await check_refusals(c)
            # Without --allow-writes there is no tool that writes.
            r = await c.call_tool("add_document", {"text": "Kilns are hot."})
            assert r.is_error and "add_document" in text(r)

    run(go)


def test_stdio_allow_writes(stdio_index: Path) -> None:
    async def go() -> None:
        async with stdio(stdio_index, "--allow-writes") as c:
            r = await c.call_tool("add_document", {"id": "kiln", "text": "The kiln fires at 1240 degrees."})
            assert not r.is_error and r.structured_content["status"] == "added", text(r)
            assert text(r) == "Added document 'kiln' (1 chunks)."
            found = await c.call_tool("ask", {"question": "At what temperature does the kiln fire?"})
            assert found.structured_content["citations"][0]["doc_id"] == "kiln"

    run(go)


def test_http_tools_take_a_collection(server: str) -> None:
    # Creating and deleting a collection are writes: they need the key, as POST /v1/documents does.
    assert httpx.post(f"{server}/v1/collections", json={"name": "mcp-hr"}).status_code == 401
    created = httpx.post(
        f"{server}/v1/collections", json={"name": "mcp-hr"}, headers={"Authorization": f"Bearer {KEY}"}, timeout=120
    )
    assert created.status_code == 201, created.text
    leave = "Parental leave policy. Employees receive sixteen weeks of paid parental leave."

    async def go() -> None:
        async with http_client(server, KEY) as c:
            r = await c.call_tool("add_document", {"id": "leave", "text": leave, "collection": "mcp-hr"})
            assert not r.is_error, text(r)
            r = await c.call_tool("ask", {"question": "How many weeks of parental leave?", "collection": "mcp-hr"})
            assert not r.is_error and "sixteen weeks" in text(r)
            listed = await c.call_tool("list_documents", {"collection": "mcp-hr"})
            assert "leave" in text(listed)
            r = await c.call_tool("get_document", {"doc_id": "leave", "collection": "mcp-hr"})
            assert not r.is_error and "sixteen weeks" in text(r)
            # Not in the default collection...
            r = await c.call_tool("get_document", {"doc_id": "leave"})
            assert r.is_error
            r = await c.call_tool("search", {"query": "parental leave weeks"})
            assert "sixteen weeks" not in text(r)
            # ...and an unknown collection is a clear tool error.
            r = await c.call_tool("ask", {"question": "Who met in Paris?", "collection": "nope"})
            assert r.is_error and "no collection 'nope'" in text(r)

    try:
        run(go)
    finally:
        assert httpx.delete(f"{server}/v1/collections/mcp-hr").status_code == 401
        headers = {"Authorization": f"Bearer {KEY}"}
        assert httpx.delete(f"{server}/v1/collections/mcp-hr", headers=headers).status_code == 200


def test_http_list_collections_shows_what_the_key_reads(tmp_path: Path, embedder: Embedder) -> None:
    keys_file = tmp_path / "keys.json"
    admin = add_key(keys_file, "*:admin", principal="root")[0]
    hr_reader = add_key(keys_file, "hr:read", principal="hana")[0]
    svc = QAService(Settings(index_dir=tmp_path / "index", keys_file=str(keys_file)), embedder=embedder)

    async def go(base: str) -> None:
        async with http_client(base, admin) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            annotations = tools["list_collections"].annotations
            assert annotations is not None and annotations.read_only_hint is True
            r = await c.call_tool("list_collections", {})
            assert not r.is_error, text(r)
            listed = r.structured_content["collections"]
            assert [x["name"] for x in listed] == ["default", "finance", "hr"]
            hr = listed[2]
            assert hr["documents"] == 1 and hr["settings"]["chunk_tokens"] == 100 and hr["error"] is None
            assert listed[0]["default"] and not hr["default"]
            assert text(r).startswith("3 collections:") and "- hr: model " in text(r)
        async with http_client(base, hr_reader) as c:
            r = await c.call_tool("list_collections", {})
            # Only what the key reads, and without counts (they count documents others may not see).
            assert [x["name"] for x in r.structured_content["collections"]] == ["hr"]
            assert r.structured_content["collections"][0]["documents"] is None
        async with http_client(base) as c:  # no key where reads are open: every collection, no counts
            r = await c.call_tool("list_collections", {})
            listed = r.structured_content["collections"]
            assert [x["name"] for x in listed] == ["default", "finance", "hr"]
            assert [x["documents"] for x in listed] == [None, None, None]

    with live_server(svc) as base:
        headers = {"Authorization": f"Bearer {admin}"}
        for name, settings in (("hr", {"chunk_tokens": 100}), ("finance", {})):
            r = httpx.post(f"{base}/v1/collections", json={"name": name, "settings": settings}, headers=headers)
            assert r.status_code == 201, r.text
        doc = {"id": "leave", "text": "Employees receive sixteen weeks of paid parental leave."}
        assert httpx.post(f"{base}/v1/documents?collection=hr", json=doc, headers=headers).status_code == 201
        anyio.run(go, base)
    svc.close()
