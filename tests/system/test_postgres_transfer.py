"""`qa export` / `qa import`: an index moves between the embedded and the postgres store, vectors and all."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embed import Embedder
from qa.errors import IndexMismatch, InvalidInput
from qa.service import QAService
from qa.store.embedded import EmbeddedStore
from qa.store.postgres import PostgresStore
from qa.store.transfer import export_index, import_index

from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)
from ..store.test_store_contract import DIM, vec, words
from .test_postgres_service import example_docs

pytestmark = pytest.mark.postgres


def lines(path: Path) -> list[dict[str, object]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        return [json.loads(line) for line in fh]


def test_round_trip_embedded_to_postgres_and_back(tmp_path: Path, pg_url: str) -> None:
    src = EmbeddedStore(tmp_path / "src", model="m", dim=DIM)
    src.write(
        [
            words("a", "héllo 🍞 wörld", [0, 1, 2], topic="x", n=1),
            words("b", "gamma delta", [3, 4], title="Bee", tags=["p", "q"]),
            words("empty", "", []),
        ]
    )
    first = tmp_path / "one.jsonl.gz"
    assert export_index(src, first) == {"documents": 3, "chunks": 5, "path": str(first)}
    pg = PostgresStore(pg_url, model="m", dim=DIM)
    try:
        assert import_index(pg, first)["chunks"] == 5
        for i in range(5):  # one-hot vectors: the best match is unique, the rest tie at 0
            want = [(h.doc_id, h.start, h.end, h.text, h.metadata, h.score) for h in src.search(vec(i), 1)]
            got = [(h.doc_id, h.start, h.end, h.text, h.metadata, h.score) for h in pg.search(vec(i), 1)]
            assert got == want
        # Importing again replaces documents by equal ones: same content, nothing added.
        import_index(pg, first)
        assert (pg.stats()["documents"], pg.stats()["chunks"]) == (3, 5)
        info = pg.get("a")
        assert info and info.content_hash == src.get("a").content_hash  # type: ignore[union-attr]
        second = tmp_path / "two.jsonl"
        export_index(pg, second)
        assert lines(second) == lines(first)
        back = EmbeddedStore(tmp_path / "back", model="m", dim=DIM)
        import_index(back, second)
        chunks, vecs = back.document_chunks("a")
        assert [c.text for c in chunks] == ["héllo", "🍞", "wörld"] and np.allclose(vecs[1], vec(1))
    finally:
        pg.close()


def test_bad_files_and_other_models_are_refused(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"hello": 1}\n')
    with pytest.raises(InvalidInput, match="not a qa export"):
        import_index(store, junk)
    other = EmbeddedStore(tmp_path / "other", model="other-model", dim=DIM)
    other.write([words("a", "alpha", [0])])
    export_index(other, tmp_path / "other.jsonl")
    with pytest.raises(IndexMismatch, match="QA_MODEL=other-model"):
        import_index(store, tmp_path / "other.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text((tmp_path / "other.jsonl").read_text().splitlines()[0] + '\n{"id": "x"}\n')
    with pytest.raises(InvalidInput, match="line 2"):
        import_index(other, broken)


def test_cli_moves_an_index_into_postgres_without_the_model(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    docs = example_docs()
    dense = {"retrieval_mode": "dense"}
    src = QAService(Settings(index_dir=tmp_path / "index", **dense), embedder=embedder)  # type: ignore[arg-type]
    src.add_documents(docs)
    src.close()
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index"), "HF_HUB_OFFLINE": "1"}
    dump = tmp_path / "index.jsonl.gz"
    r = subprocess.run(
        [sys.executable, "-m", "qa", "export", str(dump), "--json"], env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["documents"] == len(docs)
    r = subprocess.run(
        [sys.executable, "-m", "qa", "import", str(dump), "--json"],
        env={**env, "QA_STORE": pg_url},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["documents"] == len(docs)
    src = QAService(Settings(index_dir=tmp_path / "index", **dense), embedder=embedder)  # type: ignore[arg-type]
    pg = QAService(Settings(store=pg_url, **dense), embedder=embedder)  # type: ignore[arg-type]
    try:
        # The imported documents count as unchanged: indexing them again embeds nothing.
        assert {x.status for x in pg.add_documents(docs)} == {"unchanged"}
        for q in ("Who met in Paris?", "sourdough starter"):
            assert [(p.doc_id, p.start, p.end) for p in pg.search(q, 3)] == [
                (p.doc_id, p.start, p.end) for p in src.search(q, 3)
            ]
    finally:
        src.close()
        pg.close()
