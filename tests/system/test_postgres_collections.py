"""Collections on the postgres store (a schema each), with the real model and a real Postgres:
created, isolated, kept across a restart, deleted; an index made before collections is `default`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.collections import Collections
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import Conflict, NotFound
from qa.service import QAService
from qa.types import Document

from ..live_server import LOCAL
from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HR = "Parental leave policy. Employees receive sixteen weeks of paid parental leave after a birth or adoption."
PARIS = "The Eiffel Tower in Paris was completed in 1889 and is 330 metres tall."
LEAVE = "How many weeks of paid parental leave do employees get?"


def schemas(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'qa%'")}


def test_collections_on_postgres(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path / "index", store=pg_url)
    # An index made before collections: the schema qa_default, opened as the default collection.
    old = QAService(settings, embedder=embedder)
    old.add_documents([Document(id="paris", text=PARIS)])
    old.close()

    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        r = c.post("/v1/collections", json={"name": "hr", "settings": {"chunk_tokens": 100, "language": "en"}})
        assert r.status_code == 201, r.text
        assert "schema qa_hr" in r.json()["location"]
        assert c.post("/v1/documents?collection=hr", json={"id": "leave", "text": HR}).status_code == 201
        listed = c.get("/v1/collections").json()["collections"]
        assert [(x["name"], x["documents"]) for x in listed] == [("default", 1), ("hr", 1)]
        assert c.post("/v1/ask?collection=hr", json={"question": LEAVE}).json()["found"]
        for mode in ("dense", "lexical", "hybrid"):
            found = c.post("/v1/search", json={"question": LEAVE, "mode": mode}).json()["passages"]
            assert "leave" not in [p["doc_id"] for p in found], mode
        assert c.get("/v1/documents/leave").status_code == 404
        chat = {"model": "hr", "messages": [{"role": "user", "content": LEAVE}]}
        assert "sixteen weeks" in c.post("/v1/chat/completions", json=chat).json()["choices"][0]["message"]["content"]
        assert c.post("/v1/collections", json={"name": "hr"}).status_code == 409
    svc.close()
    assert {"qa_default", "qa_hr"} <= schemas(pg_url)

    # A restart (a new registry) finds hr with its settings in its schema's manifest.
    cols = Collections(settings)
    try:
        hr = cols.describe("hr")
        assert hr.overrides == {"chunk_tokens": 100, "language": "en"} and hr.documents == 1
        assert cols.get("hr").settings.chunk_tokens == 100
        assert cols.get("hr").ask(LEAVE).found
        with pytest.raises(Conflict):
            cols.delete("default")
        cols.delete("hr")  # open: closed, then its schema dropped
        assert "qa_hr" not in schemas(pg_url)
        with pytest.raises(NotFound):
            cols.get("hr")
        assert cols.names() == ["default"]
    finally:
        cols.close()


def sessions(url: str) -> int:
    """Connections made to the test's database so far (this one included)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()
    assert row is not None
    return int(row[0])


def test_a_second_worker_sees_a_deletion_and_unknown_names_cost_no_connection(
    tmp_path: Path, pg_url: str, embedder: Embedder
) -> None:
    """Two registries on one database, as two ``--workers`` processes or two replicas."""
    settings = Settings(index_dir=tmp_path / "index", store=pg_url)
    one, two = QAService(settings, embedder=embedder), QAService(settings, embedder=embedder)
    with (
        TestClient(create_app(settings, service=one), base_url=LOCAL) as a,
        TestClient(create_app(settings, service=two), base_url=LOCAL) as b,
    ):
        assert a.post("/v1/collections", json={"name": "hr"}).status_code == 201
        assert a.post("/v1/documents?collection=hr", json={"id": "leave", "text": HR}).status_code == 201
        deadline = time.monotonic() + 10  # b sees a's new collection within a second
        while (r := b.post("/v1/ask?collection=hr", json={"question": LEAVE})).status_code == 404:
            assert time.monotonic() < deadline, r.text
            time.sleep(0.1)
        assert r.json()["found"]  # open in b now

        assert a.delete("/v1/collections/hr").status_code == 200
        deleted_at = time.monotonic()
        while (r := b.post("/v1/ask?collection=hr", json={"question": LEAVE})).status_code != 404:
            assert r.status_code == 200, r.text  # until b looks again: answered, or a 404, never a 5xx
            assert time.monotonic() - deleted_at < 5, "b never noticed hr was deleted"
            time.sleep(0.05)
        # A request that reached the dropped schema first says so; once b has looked again, b knows.
        assert "was deleted while this request was being served" in r.json()["message"] or (
            "no collection 'hr'" in r.json()["message"]
        )
        time.sleep(1.1)  # RECHECK_SECONDS
        r = b.post("/v1/ask?collection=hr", json={"question": LEAVE})
        assert r.status_code == 404 and "no collection 'hr'" in r.json()["message"], r.text
        assert time.monotonic() - deleted_at < 4

        # Unknown names are answered from the list of collections (read at most once a second),
        # not by a connection each: a scan of names costs the database nothing.
        before = sessions(pg_url)
        for i in range(50):
            assert b.post(f"/v1/ask?collection=nope-{i}", json={"question": LEAVE}).status_code == 404
        assert sessions(pg_url) - before <= 4, sessions(pg_url) - before
    one.close()
    two.close()


def test_concurrent_creates_of_one_name_make_one_collection(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path / "index", store=pg_url)
    workers = [Collections(settings, default=QAService(settings, embedder=embedder)) for _ in range(2)]
    try:
        for attempt in range(3):
            start = threading.Barrier(2)
            outcomes: dict[int, object] = {}

            def create(n: int, start: threading.Barrier, outcomes: dict[int, object]) -> None:
                start.wait(timeout=30)
                try:
                    outcomes[n] = workers[n].create("dup", {"chunk_tokens": 100 + n}).overrides
                except Conflict as exc:
                    outcomes[n] = exc

            threads = [threading.Thread(target=create, args=(n, start, outcomes)) for n in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            won = [n for n, o in outcomes.items() if isinstance(o, dict)]
            lost = [o for o in outcomes.values() if isinstance(o, Conflict)]
            assert len(won) == 1 and len(lost) == 1, (attempt, outcomes)
            assert "collection 'dup' exists already" in str(lost[0])
            # The collection is the winner's, with its settings, for both workers.
            winner = won[0]
            assert workers[1 - winner].describe("dup").overrides == {"chunk_tokens": 100 + winner}
            assert workers[1 - winner].get("dup").settings.chunk_tokens == 100 + winner
            workers[winner].delete("dup")
            assert "qa_dup" not in schemas(pg_url)
    finally:
        for w in workers:
            w.close()


def test_a_collection_deleted_under_an_openai_request_is_openais_404(
    tmp_path: Path, pg_url: str, embedder: Embedder
) -> None:
    """b answers from collection hr; a (another worker) drops it; b's next OpenAI-compatible request
    on it, within the second b trusts its list of schemas, reads a dropped schema: a 404 in OpenAI's
    shape (``model_not_found``), streams included, never a 5xx or an "internal error"."""
    settings = Settings(index_dir=tmp_path / "index", store=pg_url)
    one, two = QAService(settings, embedder=embedder), QAService(settings, embedder=embedder)
    messages = [{"role": "user", "content": LEAVE}]
    requests = {
        "chat/completions": ("/v1/chat/completions", {"model": "hr", "messages": messages}),
        "chat/completions stream": ("/v1/chat/completions", {"model": "hr", "messages": messages, "stream": True}),
        "responses": ("/v1/responses", {"model": "hr", "input": LEAVE}),
        "responses stream": ("/v1/responses", {"model": "hr", "input": LEAVE, "stream": True}),
    }
    in_flight = 0
    with (
        TestClient(create_app(settings, service=one), base_url=LOCAL) as a,
        TestClient(create_app(settings, service=two), base_url=LOCAL) as b,
    ):
        for name, (path, body) in requests.items():
            assert a.post("/v1/collections", json={"name": "hr"}).status_code == 201
            assert a.post("/v1/documents?collection=hr", json={"id": "leave", "text": HR}).status_code == 201
            time.sleep(1.1)  # RECHECK_SECONDS: b sees the new collection
            answered = b.post("/v1/chat/completions", json={"model": "hr", "messages": messages})
            assert answered.status_code == 200, answered.text  # open in b, its list of schemas fresh
            assert a.delete("/v1/collections/hr").status_code == 200
            r = b.post(path, json=body)
            if r.status_code == 200:  # a stream: its status went out before the index was read
                assert '"model_not_found"' in r.text and "internal" not in r.text, (name, r.text)
                message = r.text
            else:
                assert r.status_code == 404, (name, r.text)
                error = r.json()["error"]
                assert error["code"] == "model_not_found" and error["param"] == "model", (name, error)
                message = error["message"]
            in_flight += "was deleted while this request was being served" in message
    # Most (here: all but a slow machine's) reached the dropped schema rather than b's fresh list.
    assert in_flight >= 1, in_flight
    one.close()
    two.close()


def test_a_collection_dropped_before_another_worker_reads_it_is_not_made_again(
    tmp_path: Path, pg_url: str, embedder: Embedder
) -> None:
    """b has collection hr open, its schema not read yet (``GET /v1/models/hr`` opened it), when a
    drops hr; b's next requests, within the second b trusts its list of schemas, are 404s and make
    no empty schema under the name (one no one lists, that create calls taken and delete unknown).
    A write from b with hr's schema read is a 404 too. The name stays free for a new hr."""
    settings = Settings(index_dir=tmp_path / "index", store=pg_url)
    one, two = QAService(settings, embedder=embedder), QAService(settings, embedder=embedder)
    with (
        TestClient(create_app(settings, service=one), base_url=LOCAL) as a,
        TestClient(create_app(settings, service=two), base_url=LOCAL) as b,
    ):
        for opened in ("service", "store"):
            assert a.post("/v1/collections", json={"name": "hr"}).status_code == 201
            assert a.post("/v1/documents?collection=hr", json={"id": "leave", "text": HR}).status_code == 201
            time.sleep(1.1)  # RECHECK_SECONDS: b reads the list of schemas again at its next request
            if opened == "service":
                assert b.get("/v1/models/hr").status_code == 200
            else:
                assert b.post("/v1/ask?collection=hr", json={"question": LEAVE}).json()["found"]
            assert a.delete("/v1/collections/hr").status_code == 200
            late = {"id": "late", "text": "Holidays: 25 days a year."}
            for r in (
                b.post("/v1/documents?collection=hr", json=late),
                b.post("/v1/ask?collection=hr", json={"question": LEAVE}),
            ):
                assert r.status_code == 404, (opened, r.text)
                assert "collection 'hr'" in r.json()["message"], (opened, r.text)
            chat = b.post(
                "/v1/chat/completions", json={"model": "hr", "messages": [{"role": "user", "content": LEAVE}]}
            )
            assert chat.status_code == 404 and chat.json()["error"]["code"] == "model_not_found", (opened, chat.text)
            assert "qa_hr" not in schemas(pg_url), opened
            time.sleep(1.1)
            for c in (a, b):
                assert "hr" not in [x["name"] for x in c.get("/v1/collections").json()["collections"]]
            assert a.delete("/v1/collections/hr").status_code == 404
            r = a.post("/v1/collections", json={"name": "hr"})
            assert r.status_code == 201 and r.json()["documents"] == 0, (opened, r.text)
            assert a.delete("/v1/collections/hr").status_code == 200
    one.close()
    two.close()


def test_creating_over_a_schema_left_without_a_collection_record_says_what_to_do(
    tmp_path: Path, pg_url: str, embedder: Embedder
) -> None:
    """A schema under a collection's name that holds an index but no collection (an index made with
    QA_INDEX_NAME=orphan, or a create that did not finish): create refuses it and says how to free
    the name; no route serves it."""
    settings = Settings(index_dir=tmp_path / "index", store=pg_url)
    plain = QAService(settings.model_copy(update={"index_name": "orphan"}), embedder=embedder)
    plain.add_documents([Document(id="paris", text=PARIS)])
    plain.close()
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        r = c.post("/v1/collections", json={"name": "orphan"})
        assert r.status_code == 409, r.text
        message = r.json()["message"]
        assert "schema qa_orphan" in message and "no collection record" in message, message
        assert "DROP SCHEMA qa_orphan CASCADE" in message, message
        assert c.post("/v1/ask?collection=orphan", json={"question": LEAVE}).status_code == 404
        assert c.delete("/v1/collections/orphan").status_code == 404
    svc.close()
    assert "qa_orphan" in schemas(pg_url)  # left as it was: removing it is the operator's call
