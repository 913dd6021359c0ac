"""Collections deleted while they serve, and collections that no longer open, over HTTP with the
real model, FAISS, SQLite and tantivy: never a 500, and one bad collection breaks no other."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.collections import Collections
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import NotFound
from qa.service import QAService
from qa.types import Document

from ..live_server import LOCAL

LEAVE = "How many weeks of paid parental leave do employees get?"
DOCS = [
    {"id": f"policy-{i}", "text": f"Policy {i}. Employees receive sixteen weeks of paid parental leave. Rule {i}."}
    for i in range(6)
]


@contextmanager
def two_workers(index_dir: Path, embedder: Embedder) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps over one index directory, as two ``qa serve`` workers: ``a`` and ``b``."""
    settings = Settings(index_dir=index_dir)
    one, two = QAService(settings, embedder=embedder), QAService(settings, embedder=embedder)
    try:
        with (
            TestClient(create_app(settings, service=one), base_url=LOCAL) as a,
            TestClient(create_app(settings, service=two), base_url=LOCAL) as b,
        ):
            yield a, b
    finally:
        one.close()
        two.close()


def hammer(calls: list[Callable[[], int]], threads: int, rounds: int, start_delete: threading.Event) -> Counter[int]:
    """``threads`` threads each making ``rounds`` rounds of ``calls``; ``start_delete`` is set once
    a few requests have been answered. Returns the statuses seen."""
    seen: Counter[int] = Counter()
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(rounds):
            status = calls[(n + i) % len(calls)]()
            with lock:
                seen[status] += 1
                if sum(seen.values()) >= threads * 2:
                    start_delete.set()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert not any(w.is_alive() for w in workers)
    return seen


def calls_on(c: TestClient, name: str) -> list[Callable[[], int]]:
    """Reads and writes of every kind on collection ``name``."""
    chat = {"model": name, "messages": [{"role": "user", "content": LEAVE}]}
    return [
        lambda: c.post(f"/v1/ask?collection={name}", json={"question": LEAVE}).status_code,
        lambda: c.post(f"/v1/search?collection={name}", json={"question": "parental leave"}).status_code,
        lambda: c.post("/v1/chat/completions", json=chat).status_code,
        lambda: c.get(f"/v1/documents?collection={name}").status_code,
        lambda: c.get(f"/v1/stats?collection={name}").status_code,
        lambda: c.post(f"/v1/documents?collection={name}", json={"text": "Holidays: 25 days."}).status_code,
    ]


def test_deleting_a_collection_under_load_is_never_a_5xx(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        assert c.post("/v1/collections", json={"name": "busy"}).status_code == 201
        assert c.post("/v1/documents?collection=busy", json={"documents": DOCS}).status_code == 201
        ready = threading.Event()
        deleted: list[int] = []

        def delete() -> None:
            ready.wait(timeout=120)
            deleted.append(c.delete("/v1/collections/busy").status_code)

        deleter = threading.Thread(target=delete)
        deleter.start()
        seen = hammer(calls_on(c, "busy"), threads=8, rounds=12, start_delete=ready)
        deleter.join(timeout=120)
        assert deleted == [200]
        assert not [s for s in seen if s >= 500], seen
        assert set(seen) <= {200, 201, 404}, seen
        assert seen[200] + seen[201] > 0 and seen[404] > 0, seen  # some before the delete, some after
        assert c.post("/v1/ask?collection=busy", json={"question": LEAVE}).status_code == 404
        # The default collection served throughout.
        assert c.get("/v1/collections").json()["collections"][0]["name"] == "default"
    svc.close()
    assert not (tmp_path / "busy").exists()


def test_a_collection_deleted_by_another_worker_is_a_404_for_requests_in_flight(
    tmp_path: Path, embedder: Embedder
) -> None:
    """Two apps on one index directory, as two ``--workers`` processes: one deletes a collection the
    other is serving; the other's requests in flight, and the next ones, are 404s."""
    with two_workers(tmp_path, embedder) as (a, b):
        assert a.post("/v1/collections", json={"name": "shared"}).status_code == 201
        assert a.post("/v1/documents?collection=shared", json={"documents": DOCS}).status_code == 201
        assert b.post("/v1/ask?collection=shared", json={"question": LEAVE}).json()["found"]  # open in b too
        ready = threading.Event()
        deleted: list[int] = []

        def delete() -> None:
            ready.wait(timeout=120)
            deleted.append(a.delete("/v1/collections/shared").status_code)

        deleter = threading.Thread(target=delete)
        deleter.start()
        seen = hammer(calls_on(b, "shared")[:5], threads=6, rounds=10, start_delete=ready)
        deleter.join(timeout=120)
        assert deleted == [200]
        assert not [s for s in seen if s >= 500], seen
        assert set(seen) <= {200, 404}, seen
        r = b.post("/v1/ask?collection=shared", json={"question": LEAVE})
        assert r.status_code == 404 and "no collection 'shared'" in r.json()["message"]


def break_settings(index_dir: Path, name: str, settings: dict[str, object]) -> None:
    """Store ``settings`` as collection ``name``'s, as an older or newer qa (or a hand edit) might."""
    with sqlite3.connect(index_dir / name / "qa.sqlite") as db:
        (extra,) = db.execute("SELECT value FROM manifest WHERE key = 'extra'").fetchone()
        record = json.loads(extra)
        record["collection"]["settings"] = settings
        db.execute("UPDATE manifest SET value = ? WHERE key = 'extra'", (json.dumps(record),))


@pytest.mark.parametrize(
    "stored", [{"chunk_tokens": -3}, {"chunk_tokens": 50, "chunk_overlap": 80}, {"a_setting_from_the_future": 1}]
)
def test_a_collection_that_no_longer_opens_breaks_no_other(
    tmp_path: Path, embedder: Embedder, stored: dict[str, object]
) -> None:
    cols = Collections(Settings(index_dir=tmp_path))
    cols.create("bad")
    cols.create("good")
    cols.close()
    break_settings(tmp_path, "bad", stored)

    settings = Settings(index_dir=tmp_path)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        r = c.get("/v1/collections")
        assert r.status_code == 200, r.text
        listed = {x["name"]: x for x in r.json()["collections"]}
        assert list(listed) == ["default", "bad", "good"]
        assert listed["default"]["error"] is None and listed["good"]["error"] is None
        error = listed["bad"]["error"]
        assert "collection 'bad' cannot be opened: its stored settings no longer validate" in error, error
        assert listed["bad"]["overrides"] == stored and listed["bad"]["model"]
        # Its routes say why, in JSON; a 409 like an index of another model.
        for r in (
            c.get("/v1/collections/bad"),
            c.post("/v1/ask?collection=bad", json={"question": LEAVE}),
            c.get("/v1/documents?collection=bad"),
        ):
            assert r.status_code == 409 and "stored settings no longer validate" in r.json()["message"], r.text
        chat = c.post("/v1/chat/completions", json={"model": "bad", "messages": [{"role": "user", "content": "hi"}]})
        assert chat.status_code == 409 and "no longer validate" in chat.json()["error"]["message"], chat.text
        # The others serve as ever, and the bad one can be deleted.
        assert c.post("/v1/documents?collection=good", json=DOCS[0]).status_code == 201
        assert c.post("/v1/ask?collection=good", json={"question": LEAVE}).json()["found"]
        assert c.delete("/v1/collections/bad").status_code == 200
        assert [x["name"] for x in c.get("/v1/collections").json()["collections"]] == ["default", "good"]
    svc.close()


def assert_gone_everywhere(c: TestClient, name: str) -> None:
    """Every route on deleted collection ``name`` is a 404 that says so: qa's shape on qa's routes,
    OpenAI's (``model_not_found``, ``param: model``) on the OpenAI-compatible ones, streams included."""
    native = {
        "ask": c.post(f"/v1/ask?collection={name}", json={"question": LEAVE}),
        "search": c.post(f"/v1/search?collection={name}", json={"question": LEAVE}),
        "chat": c.post(f"/v1/chat?collection={name}", json={"messages": [{"role": "user", "content": LEAVE}]}),
        "chat stream": c.post(
            f"/v1/chat?collection={name}", json={"messages": [{"role": "user", "content": LEAVE}], "stream": True}
        ),
        "documents": c.get(f"/v1/documents?collection={name}"),
        "document": c.get(f"/v1/documents/policy-0?collection={name}"),
        "upload": c.post(f"/v1/documents?collection={name}", json={"text": "Holidays: 25 days."}),
        "upload file": c.post(f"/v1/documents?collection={name}", files={"file": ("a.txt", b"Holidays: 25 days.")}),
        "patch document": c.patch(f"/v1/documents/policy-0?collection={name}", json={"access": None}),
        "delete document": c.delete(f"/v1/documents/policy-0?collection={name}"),
        "jobs": c.get(f"/v1/jobs?collection={name}"),
        "job": c.get(f"/v1/jobs/0123456789abcdef0123456789abcdef?collection={name}"),
        "stats": c.get(f"/v1/stats?collection={name}"),
        "collection": c.get(f"/v1/collections/{name}"),
        "delete collection": c.delete(f"/v1/collections/{name}"),
    }
    for route, r in native.items():
        assert r.status_code == 404, (route, r.text)
        body = r.json()
        assert body["error"] == "not_found" and f"collection {name!r}" in body["message"], (route, body)
    messages = [{"role": "user", "content": LEAVE}]
    openai = {
        "chat/completions": c.post("/v1/chat/completions", json={"model": name, "messages": messages}),
        "chat/completions stream": c.post(
            "/v1/chat/completions", json={"model": name, "messages": messages, "stream": True}
        ),
        "responses": c.post("/v1/responses", json={"model": name, "input": LEAVE}),
        "responses stream": c.post("/v1/responses", json={"model": name, "input": LEAVE, "stream": True}),
        "embeddings": c.post("/v1/embeddings", json={"model": name, "input": LEAVE}),
        "models/{id}": c.get(f"/v1/models/{name}"),
    }
    for route, r in openai.items():
        assert r.status_code == 404, (route, r.text)
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, (route, error)
        assert error["code"] == "model_not_found" and error["type"] == "invalid_request_error", (route, error)
        assert f"{name!r}" in error["message"], (route, error)
    assert name not in [m["id"] for m in c.get("/v1/models").json()["data"]]


def test_a_deleted_collection_is_a_404_on_every_route_in_its_shape(tmp_path: Path, embedder: Embedder) -> None:
    """Deleted through the API, then asked for: never a 5xx, and OpenAI clients get OpenAI's 404."""
    settings = Settings(index_dir=tmp_path)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        assert c.post("/v1/collections", json={"name": "gone"}).status_code == 201
        assert c.post("/v1/documents?collection=gone", json={"documents": DOCS}).status_code == 201
        chat = {"model": "gone", "messages": [{"role": "user", "content": LEAVE}]}
        assert c.post("/v1/chat/completions", json=chat).status_code == 200  # open, and answering
        assert c.delete("/v1/collections/gone").status_code == 200
        assert_gone_everywhere(c, "gone")
    svc.close()


def test_a_collection_deleted_by_another_worker_is_a_404_on_every_route_in_its_shape(
    tmp_path: Path, embedder: Embedder
) -> None:
    """Two apps on one index directory, as two ``--workers`` processes: b has the collection open
    and answering when a deletes it; b's next requests on it are 404s in each route's shape."""
    with two_workers(tmp_path, embedder) as (a, b):
        assert a.post("/v1/collections", json={"name": "shared"}).status_code == 201
        assert a.post("/v1/documents?collection=shared", json={"documents": DOCS}).status_code == 201
        chat = {"model": "shared", "messages": [{"role": "user", "content": LEAVE}]}
        r = b.post("/v1/chat/completions", json=chat)
        assert r.status_code == 200 and "sixteen weeks" in r.json()["choices"][0]["message"]["content"], r.text
        assert a.delete("/v1/collections/shared").status_code == 200
        assert_gone_everywhere(b, "shared")


def assert_gone_for_good(a: TestClient, b: TestClient, index_dir: Path, name: str) -> None:
    """Collection ``name``, deleted through ``a``, left nothing under its name: not listed, a 404
    in both workers, a second delete a 404, and the name free for a new collection (empty, and
    the one both workers then serve)."""
    assert not (index_dir / name).exists(), sorted(p.name for p in index_dir.iterdir())
    for c in (a, b):
        assert name not in [x["name"] for x in c.get("/v1/collections").json()["collections"]]
        r = c.post(f"/v1/ask?collection={name}", json={"question": LEAVE})
        assert r.status_code == 404 and "no collection" in r.json()["message"], r.text
    assert a.delete(f"/v1/collections/{name}").status_code == 404
    r = a.post("/v1/collections", json={"name": name})
    assert r.status_code == 201, r.text
    assert r.json()["documents"] == 0
    for c in (a, b):
        assert not c.post(f"/v1/ask?collection={name}", json={"question": LEAVE}).json()["found"]
    late = {"id": "new", "text": "Holidays: 25 days."}
    assert b.post(f"/v1/documents?collection={name}", json=late).status_code == 201
    assert [d["id"] for d in a.get(f"/v1/documents?collection={name}").json()["documents"]] == ["new"]


def test_a_collection_deleted_before_another_worker_reads_it_is_not_made_again(
    tmp_path: Path, embedder: Embedder
) -> None:
    """b holds collection hr for a request that has not read its index yet (the service is open,
    its store not) when a deletes hr: b's request is a 404 and makes no empty index under the name,
    so hr is not stuck (listed by no one, yet "exists already" to create and unknown to delete)."""
    with two_workers(tmp_path, embedder) as (a, b):
        assert a.post("/v1/collections", json={"name": "hr"}).status_code == 201
        assert a.post("/v1/documents?collection=hr", json={"documents": DOCS}).status_code == 201
        workers: Collections = b.app.state.collections  # type: ignore[attr-defined]
        held = workers.acquire("hr")  # a request of b's on hr, between finding hr and reading it
        try:
            assert a.delete("/v1/collections/hr").status_code == 200
            for read in (held.counts, lambda: held.search(LEAVE), held.list_jobs, held.stats):
                with pytest.raises(NotFound, match="deleted"):
                    read()
        finally:
            workers.release(held)
        assert_gone_for_good(a, b, tmp_path, "hr")


def test_a_write_from_a_worker_that_has_a_deleted_collection_open_fails_and_makes_nothing(
    tmp_path: Path, embedder: Embedder
) -> None:
    """b has hr open (its index read) and a request writing to it when a deletes hr: the write is
    a 404 (nothing acknowledged, nothing written under the name: no lexical or FAISS files); b's
    next requests serve the hr a creates again, not the deleted one."""
    with two_workers(tmp_path, embedder) as (a, b):
        assert a.post("/v1/collections", json={"name": "hr"}).status_code == 201
        assert a.post("/v1/documents?collection=hr", json={"documents": DOCS}).status_code == 201
        assert b.post("/v1/ask?collection=hr", json={"question": LEAVE}).json()["found"]  # open in b
        workers: Collections = b.app.state.collections  # type: ignore[attr-defined]
        held = workers.acquire("hr")
        try:
            assert a.delete("/v1/collections/hr").status_code == 200
            writes = (
                lambda: held.add_documents([Document(id="late", text="Holidays: 25 days a year.")]),
                lambda: held.delete("policy-0"),
                lambda: held.set_access("policy-1", ["group:hr"]),
            )
            for write in writes:
                with pytest.raises(NotFound, match="deleted"):
                    write()
                assert not (tmp_path / "hr").exists()
        finally:
            workers.release(held)
        assert_gone_for_good(a, b, tmp_path, "hr")


def test_creating_over_a_directory_left_without_a_collection_record_says_what_to_do(
    tmp_path: Path, embedder: Embedder
) -> None:
    """A directory under a collection's name that holds no collection (a create killed half way,
    or left by an older qa): create refuses it and says how to free the name; no route serves it."""
    settings = Settings(index_dir=tmp_path)
    svc = QAService(settings, embedder=embedder)
    Collections(settings).create("plain")  # a real collection, then its record lost: an index alone
    with sqlite3.connect(tmp_path / "plain" / "qa.sqlite") as db:
        db.execute("UPDATE manifest SET value = '{}' WHERE key = 'extra'")
    (tmp_path / "half" / "lexical").mkdir(parents=True)  # files, no index
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        for name in ("plain", "half"):
            r = c.post("/v1/collections", json={"name": name})
            assert r.status_code == 409, r.text
            message = r.json()["message"]
            assert f"{tmp_path / name}" in message and "no collection record" in message, message
            assert "remove that directory" in message, message
            assert c.post(f"/v1/ask?collection={name}", json={"question": LEAVE}).status_code == 404
            assert c.delete(f"/v1/collections/{name}").status_code == 404
        assert [x["name"] for x in c.get("/v1/collections").json()["collections"]] == ["default"]
    svc.close()


def test_a_collection_deleted_and_made_again_by_another_worker_is_the_new_one_everywhere(
    tmp_path: Path, embedder: Embedder
) -> None:
    """b has hr open (its index read) when a deletes hr and creates hr again: b's next requests
    read and write the new hr, never the deleted one b still has open."""
    with two_workers(tmp_path, embedder) as (a, b):
        assert a.post("/v1/collections", json={"name": "hr"}).status_code == 201
        assert a.post("/v1/documents?collection=hr", json={"documents": DOCS}).status_code == 201
        assert b.post("/v1/ask?collection=hr", json={"question": LEAVE}).json()["found"]  # open in b
        assert a.delete("/v1/collections/hr").status_code == 200
        assert a.post("/v1/collections", json={"name": "hr", "settings": {"chunk_tokens": 100}}).status_code == 201
        assert not b.post("/v1/ask?collection=hr", json={"question": LEAVE}).json()["found"]
        assert b.get("/v1/collections/hr").json()["overrides"] == {"chunk_tokens": 100}
        r = b.post("/v1/documents?collection=hr", json={"id": "new", "text": "Holidays: 25 days."})
        assert r.status_code == 201, r.text
        assert [d["id"] for d in a.get("/v1/documents?collection=hr").json()["documents"]] == ["new"]
