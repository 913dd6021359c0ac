"""``qa.client`` against a real uvicorn server (real model, FAISS and SQLite): every method, typed
results, errors as exceptions, and the SSE stream of ``/v1/chat``, blocking and async."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import qa.client
from qa.client import (
    Answer,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Checked,
    Cited,
    Client,
    Delta,
    Done,
    NotFoundError,
    Passage,
    PermissionDeniedError,
    Retrieved,
    TransportError,
)
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService
from qa.sync import SyncOptions

from ..conftest import EXAMPLES
from ..live_server import free_port, live_server

KEY = "client-test-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    """The sample documents behind a live server whose writes need ``KEY``."""
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("client"), api_keys=KEY), embedder=embedder)
    svc.index_paths([EXAMPLES], options=SyncOptions(source="examples"))
    with live_server(svc) as base:
        yield base
    svc.close()


@pytest.fixture
def client(server: str) -> Iterator[Client]:
    with Client(server, api_key=KEY, timeout=120) as c:
        yield c


def test_ask_gives_typed_citations_of_the_exact_text(client: Client) -> None:
    a = client.ask("Who met in Paris?")
    assert isinstance(a, Answer) and a.found and "al-Shaibani" in a.answer
    c = a.citations[0]
    assert c.n == 1 and c.doc_id == "examples/paris-talks.md" and c.title.startswith("Syrian and Israeli")
    text = client.get_document(c.doc_id, include_text=True).text
    assert text is not None and text[c.start : c.end] == c.quote
    assert a.short_answer is not None and text[a.short_answer.start : a.short_answer.end] == a.short_answer.text
    assert all(isinstance(p, Passage) for p in a.passages) and a.passages
    nothing = client.ask("What is the airspeed velocity of an unladen swallow?")
    assert not nothing.found and nothing.citations == ()


def test_search_with_options(client: Client) -> None:
    passages = client.search("sourdough starter", k=2)
    assert len(passages) == 2 and passages[0].doc_id == "examples/bread-baking.txt" and passages[0].score > 0
    doc = client.get_document("examples/bread-baking.txt", include_text=True).text
    assert doc is not None and doc[passages[0].start : passages[0].end] == passages[0].text
    only = client.search("vector index", filters={"doc_id": "examples/faiss-notes.md"}, mode="lexical", rerank=False)
    assert only and {p.doc_id for p in only} == {"examples/faiss-notes.md"}
    spread = client.search("sourdough starter faiss vectors planets orbit", k=4, max_per_doc=1)
    assert len({p.doc_id for p in spread}) == len(spread) == 4


def test_chat_stream_events_make_the_chat_answer(client: Client) -> None:
    messages = [{"role": "user", "content": "Who met in Paris?"}]
    plain = client.chat(messages)
    events = list(client.chat_stream(messages))
    assert isinstance(events[0], Retrieved) and events[0].passages and not events[0].rewritten
    deltas = [e.text for e in events if isinstance(e, Delta)]
    assert len(deltas) > 1 and "".join(deltas) == plain.answer
    assert not any(isinstance(e, Checked) for e in events)  # no LLM configured: extractive
    cited = [e for e in events if isinstance(e, Cited)]
    assert len(cited) == 1 and cited[0].citations == plain.citations
    assert isinstance(events[-1], Done) and events[-1].found
    # A follow-up is resolved against the conversation.
    follow = client.chat(
        [
            *messages,
            {"role": "assistant", "content": plain.answer},
            {"role": "user", "content": "What did they discuss?"},
        ]
    )
    assert follow.rewritten and follow.query != follow.question


def test_documents_add_upload_list_get_delete(client: Client, tmp_path: Path) -> None:
    r = client.add_document(
        "The kiln fires at 1240 degrees.", id="notes/a b?c#d", title="Kiln", metadata={"team": "ceramics"}
    )
    assert (r.id, r.status, r.chunks) == ("notes/a b?c#d", "added", 1)
    assert (
        client.add_document(
            "The kiln fires at 1240 degrees.", id="notes/a b?c#d", title="Kiln", metadata={"team": "ceramics"}
        ).status
        == "unchanged"
    )
    got = client.get_document("notes/a b?c#d", include_text=True)
    assert (
        got.title == "Kiln" and got.metadata == {"team": "ceramics"} and got.text == "The kiln fires at 1240 degrees."
    )
    assert client.get_document("notes/a b?c#d").text is None

    path = tmp_path / "glaze.md"
    path.write_text("# Glazes\n\nA celadon glaze turns green in a reduction firing.\n")
    assert [x.id for x in client.upload(path, metadata={"team": "ceramics"})] == ["upload/glaze.md"]
    assert [
        x.status for x in client.upload(b"Stoneware is fired hotter than earthenware.", filename="clay.txt", id="clay")
    ] == ["added"]
    both = client.add_documents(
        [
            {"id": "b1", "text": "Bisque firing comes first."},
            {"id": "b2", "text": "Raku pieces leave the kiln red hot."},
        ]
    )
    assert [x.id for x in both] == ["b1", "b2"]
    assert [p.doc_id for p in client.search("celadon glaze reduction", filters={"team": "ceramics"}, k=1)] == [
        "upload/glaze.md"
    ]

    page = client.list_documents(offset=0, limit=3)
    assert len(page.documents) == 3 and page.total == 13 and page.limit == 3
    ids = [d.id for d in client.iter_documents(page_size=4)]
    assert len(ids) == len(set(ids)) == 13 and {"notes/a b?c#d", "clay", "upload/glaze.md"} <= set(ids)

    for doc_id in ("notes/a b?c#d", "clay", "upload/glaze.md", "b1", "b2"):
        client.delete_document(doc_id)
    with pytest.raises(NotFoundError) as e:
        client.get_document("notes/a b?c#d")
    assert e.value.status == 404 and e.value.error == "not_found" and "notes/a b?c#d" in e.value.message
    assert client.health().documents == 8


def test_set_access_changes_who_finds_a_document(server: str, client: Client) -> None:
    assert client.add_document("Kiln logs record the firing curve.", id="kiln-log").status == "added"
    with Client(server) as anonymous:  # reads need no key here: public documents only

        def found() -> bool:
            return "kiln-log" in {p.doc_id for p in anonymous.search("kiln firing curve", k=5)}

        assert found()
        doc = client.set_access("kiln-log", ["group:makers", "user:ada"])
        assert doc.id == "kiln-log" and doc.metadata["access"] == ["group:makers", "user:ada"]
        assert client.get_document("kiln-log").metadata["access"] == ["group:makers", "user:ada"]
        assert not found()
        with pytest.raises(NotFoundError):
            anonymous.get_document("kiln-log")
        with pytest.raises(AuthenticationError):
            anonymous.set_access("kiln-log", None)
        assert "access" not in client.set_access("kiln-log", None).metadata
        assert found()
    with pytest.raises(BadRequestError, match="group:<name>"):
        client.set_access("kiln-log", ["makers"])
    with pytest.raises(NotFoundError):
        client.set_access("no-such-doc", [])
    with pytest.raises(TypeError, match="list of entries"):
        client.set_access("kiln-log", "group:makers")

    async def go() -> None:
        async with AsyncClient(server, api_key=KEY, timeout=120) as c:
            assert (await c.set_access("kiln-log", [])).metadata["access"] == []
            assert (await c.set_access("kiln-log", None)).metadata.get("access") is None

    anyio.run(go)
    client.delete_document("kiln-log")


def test_errors_are_exceptions_with_status_and_message(server: str, client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.delete_document("no-such-doc")
    with pytest.raises(BadRequestError) as e:
        client.search("x", k=1000)
    assert e.value.status == 422 and "k must be between 1 and" in e.value.message
    with pytest.raises(BadRequestError, match="question is empty"):
        client.ask("   ")
    with pytest.raises(BadRequestError, match="last message"):
        list(client.chat_stream([{"role": "assistant", "content": "hello"}]))
    with Client(server) as anonymous:
        assert anonymous.search("sourdough")  # reads are open
        with pytest.raises(AuthenticationError) as auth:
            anonymous.add_document("x", id="x")
        assert auth.value.status == 401 and "API key" in auth.value.message
    with Client(server, api_key="wrong") as wrong, pytest.raises(PermissionDeniedError):
        wrong.delete_document("examples/paris-talks.md")
    with Client(f"http://127.0.0.1:{free_port()}", timeout=5) as nowhere, pytest.raises(TransportError):
        nowhere.health()


def test_health_and_stats(client: Client) -> None:
    h = client.health()
    assert h.status == "ok" and h.documents == 8 and h.chunks and h.model and h.problems == ()
    assert client.stats()["documents"] == 8


def test_async_client(server: str) -> None:
    async def go() -> None:
        async with AsyncClient(server, api_key=KEY, timeout=120) as c:
            a = await c.ask("Who met in Paris?")
            assert a.found and a.citations[0].doc_id == "examples/paris-talks.md"
            events = [e async for e in c.chat_stream("Who met in Paris?")]
            assert "".join(e.text for e in events if isinstance(e, Delta)) == a.answer
            assert isinstance(events[-1], Done)
            assert [p.doc_id for p in await c.search("sourdough starter", k=1)] == ["examples/bread-baking.txt"]
            assert (await c.add_document("Kilns are hot.", id="async-kiln")).status == "added"
            assert (await c.get_document("async-kiln", include_text=True)).text == "Kilns are hot."
            assert len([d async for d in c.iter_documents(page_size=5)]) == 9
            await c.delete_document("async-kiln")
            with pytest.raises(NotFoundError):
                await c.delete_document("async-kiln")
            assert (await c.health()).status == "ok"

    anyio.run(go)


def test_a_client_works_on_its_collection(server: str) -> None:
    """``collection=`` sends every call to that collection: what is added there is found,
    answered and streamed there, and never from the default collection."""
    with Client(server, api_key=KEY, timeout=120) as admin:
        made = admin.create_collection("garden", chunk_tokens=120)
        assert made.name == "garden" and made.model_id == "garden" and made.overrides == {"chunk_tokens": 120}
        assert [c.name for c in admin.list_collections()] == ["default", "garden"]
        with Client(server, api_key=KEY, timeout=120, collection="garden") as garden:
            assert garden.add_document("Tomatoes need eight hours of sun a day.", id="tomatoes").status == "added"
            a = garden.ask("How many hours of sun do tomatoes need?")
            assert a.found and a.citations[0].doc_id == "tomatoes"
            events = list(garden.chat_stream("How many hours of sun do tomatoes need?"))
            cited = [e for e in events if isinstance(e, Cited)]
            assert isinstance(events[-1], Done) and events[-1].found and cited[0].citations[0].doc_id == "tomatoes"
            assert [d.id for d in garden.list_documents().documents] == ["tomatoes"]
        assert "tomatoes" not in [d.id for d in admin.iter_documents()]
        assert all(p.doc_id != "tomatoes" for p in admin.search("tomatoes sun hours", k=5))
        assert admin.get_collection("garden").documents == 1

        async def go() -> None:
            async with AsyncClient(server, api_key=KEY, timeout=120, collection="garden") as c:
                assert (await c.ask("How many hours of sun do tomatoes need?")).citations[0].doc_id == "tomatoes"
                assert [x.name for x in await c.list_collections()] == ["default", "garden"]

        anyio.run(go)
        admin.delete_collection("garden")
        with pytest.raises(NotFoundError):
            admin.get_collection("garden")
        with Client(server, timeout=120, collection="garden") as gone, pytest.raises(NotFoundError):
            gone.ask("How many hours of sun do tomatoes need?")


def test_the_public_surface_and_a_light_import() -> None:
    assert {"Client", "AsyncClient", "QAClientError", "APIError", "Answer", "Citation", "Passage"} <= set(
        qa.client.__all__
    )
    assert all(hasattr(qa.client, name) for name in qa.client.__all__)
    code = (
        "import sys, qa.client; print(sorted({'torch', 'faiss', 'numpy', 'qa.service', 'qa.api'} & set(sys.modules)))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert r.stdout.strip() == "[]"
