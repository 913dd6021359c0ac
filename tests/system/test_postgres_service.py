"""The service, the CLI and the API on the postgres store, with the real model and a real Postgres.

The replica test starts two real `qa serve` processes on one database: what one ingests or
deletes, the other sees as soon as the request returns.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from qa.config import Settings
from qa.embed import Embedder
from qa.parse import iter_files, load_path
from qa.service import QAService
from qa.types import Document

from ..conftest import EXAMPLES
from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)

pytestmark = pytest.mark.postgres

QUESTIONS = ["Who met in Paris?", "sourdough starter", "What is BM25?", "largest planet", "inner product index"]


def example_docs() -> list[Document]:
    return [d for path, root in iter_files([EXAMPLES]) for d in load_path(path, root)]


def test_service_on_postgres_gives_the_embedded_results(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    docs = example_docs()
    # Dense retrieval is the same computation on both stores (up to HNSW approximation, which a
    # corpus this small never shows); the lexical sides stem differently (Snowball vs Porter).
    dense = {"retrieval_mode": "dense"}
    embedded = QAService(Settings(index_dir=tmp_path / "index", **dense), embedder=embedder)  # type: ignore[arg-type]
    pg = QAService(Settings(index_dir=tmp_path / "index", store=pg_url, **dense), embedder=embedder)  # type: ignore[arg-type]
    try:
        assert pg.stats()["store"] == "postgres" and embedded.stats()["store"] == "embedded"
        assert [r.status for r in pg.add_documents(docs)] == ["added"] * len(docs)
        embedded.add_documents(docs)
        assert {r.status for r in pg.add_documents(docs)} == {"unchanged"}
        for q in QUESTIONS:
            want = [(p.doc_id, p.start, p.end, p.text) for p in embedded.search(q, 3)]
            got = pg.search(q, 3)
            assert [(p.doc_id, p.start, p.end, p.text) for p in got] == want, q
            assert [p.score for p in got] == pytest.approx([p.score for p in embedded.search(q, 3)], abs=1e-5)
            for p in got:
                assert pg.store.get_text(p.doc_id)[p.start : p.end] == p.text  # type: ignore[index]
        for mode in ("lexical", "hybrid"):
            top = pg.search("sourdough starter", 3, mode=mode)  # type: ignore[arg-type]
            assert top[0].doc_id == "bread-baking.txt", mode
            assert pg.store.get_text(top[0].doc_id)[top[0].start : top[0].end] == top[0].text  # type: ignore[index]
        a = pg.ask("Who met in Paris?")
        assert a.found and "Dermer" in a.answer
        assert a.answer == embedded.ask("Who met in Paris?").answer
        pg.delete("paris-talks.md")
        assert all(p.doc_id != "paris-talks.md" for p in pg.search("Who met in Paris?", 10))
        assert pg.stats()["documents"] == len(docs) - 1
    finally:
        embedded.close()
        pg.close()


def test_cli_switches_store_with_one_setting(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    # Build the index through the service (the model is already loaded), then use the CLI
    # commands that need no model: they must find the same index through QA_STORE alone.
    svc = QAService(Settings(store=pg_url), embedder=embedder)
    svc.add_documents(example_docs())
    svc.close()
    env = {**os.environ, "QA_STORE": pg_url, "QA_INDEX_DIR": str(tmp_path / "nowhere"), "HF_HUB_OFFLINE": "1"}

    def qa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env, timeout=120)

    stats = json.loads(qa("stats", "--json").stdout)
    assert stats["store"] == "postgres" and stats["documents"] == len(example_docs())
    assert ":***@" in stats["url"] and pg_url.split(":")[2].split("@")[0] not in stats["url"]
    assert qa("delete", "paris-talks.md").returncode == 0
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM qa_default.documents").fetchone() == (len(example_docs()) - 1,)
    assert not (tmp_path / "nowhere").exists()
    env["QA_STORE"] = "postgresql://qa:pw@127.0.0.1:1/qa"
    down = qa("stats")
    assert down.returncode == 1 and "cannot connect" in down.stderr and "pw@" not in down.stderr


# -- two replicas ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def replicas(tmp_path: Path, pg_url: str) -> Iterator[list[str]]:
    """Two `qa serve` processes on different ports sharing one Postgres; yields their base URLs."""
    env = {
        **os.environ,
        "QA_STORE": pg_url,
        "QA_INDEX_DIR": str(tmp_path / "index"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    logs = []
    try:
        for i in range(2):
            port = _free_port()
            log = open(tmp_path / f"replica{i}.log", "wb")  # noqa: SIM115
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "qa", "serve", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 180
        for url, proc, i in zip(urls, procs, range(2), strict=True):
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"replica {i} exited: {(tmp_path / f'replica{i}.log').read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"replica {i} not healthy in 180 s: {(tmp_path / f'replica{i}.log').read_text()[-3000:]}"
                    )
                time.sleep(0.3)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


def test_two_replicas_share_one_postgres(replicas: list[str]) -> None:
    a, b = (httpx.Client(base_url=u, timeout=60) for u in replicas)
    doc = {
        "id": "notes/kiln",
        "title": "Kiln",
        "text": "The kiln fires stoneware at 1240 degrees for eleven hours.",
        "metadata": {"team": "ceramics"},
    }
    r = a.post("/v1/documents", json=doc)
    assert r.status_code == 201, r.text
    # Immediately, through the other replica: searchable, filterable, readable.
    hits = b.post("/v1/search", json={"question": "At what temperature does the kiln fire?", "k": 1}).json()
    assert hits["passages"][0]["doc_id"] == "notes/kiln"
    p = hits["passages"][0]
    assert doc["text"][p["start"] : p["end"]] == p["text"]  # type: ignore[index]
    filtered = b.post("/v1/search", json={"question": "kiln", "filters": {"team": "ceramics"}}).json()
    assert [x["doc_id"] for x in filtered["passages"]] == ["notes/kiln"]
    ask = b.post("/v1/ask", json={"question": "At what temperature does the kiln fire stoneware?"}).json()
    assert ask["found"] and ask["citations"][0]["quote"] in doc["text"]  # type: ignore[operator]
    assert b.get("/v1/documents/notes/kiln").json()["n_chunks"] == 1
    assert b.get("/v1/stats").json()["documents"] == a.get("/v1/stats").json()["documents"] == 1

    # An update through b replaces what a serves.
    doc2 = {**doc, "text": "The kiln now fires porcelain at 1300 degrees."}
    assert b.post("/v1/documents", json=doc2).json()["results"][0]["status"] == "updated"
    got = a.get("/v1/documents/notes/kiln", params={"include_text": "true"}).json()
    assert got["text"] == doc2["text"]
    hit = a.post("/v1/search", json={"question": "kiln", "k": 5}).json()["passages"]
    assert len(hit) == 1 and "porcelain" in hit[0]["text"]

    # A delete through b is gone from a at once.
    assert b.delete("/v1/documents/notes/kiln").status_code == 200
    assert a.get("/v1/documents/notes/kiln").status_code == 404
    assert a.post("/v1/search", json={"question": "kiln", "k": 5}).json()["passages"] == []
    assert a.delete("/v1/documents/notes/kiln").status_code == 404
