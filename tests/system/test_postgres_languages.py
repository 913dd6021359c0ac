"""QA_LANGUAGE on the postgres store, with the real model and a real Postgres: a German and a Chinese
collection found by their words (BM25 alone, and hybrid), their ``tsvector`` lexemes the very tokens
of ``qa.language``'s analysis (the embedded store's), the language recorded with the index and a
mismatch refused; and on 40 XQuAD paragraphs (de, zh), BM25 on Postgres ranks as on the embedded store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.collections import Collections
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import IndexMismatch
from qa.language import Analyser
from qa.service import QAService
from qa.store import open_store
from qa.store.transfer import export_index
from qa.types import Document

from ..api.test_languages import CHINESE, CHINESE_Q, GERMAN, GERMAN_Q
from ..conftest import SHARED
from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BASE_URL = "http://127.0.0.1"
XQUAD = SHARED / "datasets" / "xquad"


def stored_lexemes(url: str, schema: str) -> dict[tuple[str, int], tuple[Counter[str], Counter[str], str, str]]:
    """Per chunk (doc id, ordinal): its lexemes weighted A and B, counted by position, and its
    text and title + heading, read from Postgres."""
    out: dict[tuple[str, int], tuple[Counter[str], Counter[str], str, str]] = {}
    with psycopg.connect(url) as conn:
        chunks = conn.execute(
            f'SELECT c.id, c.doc_id, c.ordinal, substr(d.text, c.start + 1, c."end" - c.start),'
            f" d.title || ' ' || COALESCE(c.heading, '') FROM {schema}.chunks c JOIN {schema}.documents d"
            " ON d.id = c.doc_id"
        ).fetchall()
        for chunk_id, doc_id, ordinal, text, title in chunks:
            a: Counter[str] = Counter()
            b: Counter[str] = Counter()
            rows = conn.execute(
                f"SELECT u.lexeme, u.weights FROM {schema}.chunks c, unnest(c.tsv) u WHERE c.id = %s", (chunk_id,)
            ).fetchall()
            for lexeme, weights in rows:
                for w in weights:
                    (a if w == "A" else b)[lexeme] += 1
            out[(doc_id, ordinal)] = (a, b, text, title)
    return out


@pytest.mark.parametrize(
    ("language", "docs", "question", "gold"),
    [("de", GERMAN, GERMAN_Q, "werkstatt"), ("zh", CHINESE, CHINESE_Q, "tushuguan")],
    ids=["de", "zh"],
)
def test_a_language_collection_on_postgres(
    tmp_path: Path, pg_url: str, embedder: Embedder, language: str, docs: list[Document], question: str, gold: str
) -> None:
    settings = Settings(index_dir=tmp_path / "index", store=pg_url)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=BASE_URL) as c:
        r = c.post("/v1/collections", json={"name": language, "settings": {"language": language}})
        assert r.status_code == 201, r.text
        body = {"documents": [{"id": d.id, "title": d.title, "text": d.text} for d in docs]}
        assert c.post(f"/v1/documents?collection={language}", json=body).status_code in (200, 201)
        for mode in ("lexical", "hybrid"):
            r = c.post(f"/v1/search?collection={language}", json={"question": question, "mode": mode, "k": 2})
            assert r.status_code == 200, r.text
            assert [p["doc_id"] for p in r.json()["passages"]][:1] == [gold], mode
        answer = c.post(f"/v1/ask?collection={language}", json={"question": question, "k": 2}).json()
        assert answer["found"] and answer["citations"][0]["doc_id"] == gold
        # The default (English) collection of the same database does not hold them.
        r = c.post("/v1/search", json={"question": question, "mode": "lexical", "k": 2})
        assert r.json()["passages"] == []
    svc.close()

    # Each chunk's lexemes are qa.language's tokens of its text (A) and its title and heading (B),
    # repeats counted: together, what the embedded store's tantivy index holds for the chunk.
    analyser = Analyser.of(language)
    chunks = stored_lexemes(pg_url, f"qa_{language}")
    assert {doc_id for doc_id, _ in chunks} == {d.id for d in docs}
    for a, b, text, title in chunks.values():
        assert a == Counter(analyser.index_tokens(text))
        assert b == Counter(analyser.index_tokens(title))
        assert a + b == Counter(analyser.index_tokens(f"{title}\n{text}"))
    # And a question's lexemes are the tokens tantivy is searched for.
    terms = analyser.tokens(analyser.query_terms(question))
    assert set(terms) & set(analyser.index_tokens(next(d.text for d in docs if d.id == gold)))

    # The language is recorded with the index: a restart finds it; another language is refused.
    cols = Collections(settings)
    try:
        assert cols.describe(language).overrides == {"language": language}
        assert cols.get(language).search(question, k=1, mode="lexical")[0].doc_id == gold
    finally:
        cols.close()
    other = "zh" if language == "de" else "de"
    built = f"built for QA_LANGUAGE={language}"
    for changed, message in (
        ({"language": other}, built),
        ({"language": "en"}, built),
        ({"lexical_stemmer": "english"}, "analysed as"),
    ):
        wrong = settings.model_copy(update={"index_name": language, "language": language, **changed})
        with pytest.raises(IndexMismatch, match=message):
            open_store(wrong, embedder.name, lambda: embedder.dim)
    # The English index made before (qa_default) is not opened as another language either.
    with pytest.raises(IndexMismatch, match="QA_LANGUAGE=en"):
        open_store(settings.model_copy(update={"language": language}), embedder.name, lambda: embedder.dim)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("language", ["de", "zh"])
def test_lexical_parity_with_the_embedded_store(tmp_path: Path, pg_url: str, embedder: Embedder, language: str) -> None:
    data = XQUAD / language
    if not (data / "queries.jsonl").is_file():
        pytest.fail(f"{data} is missing: the parity test reads ../shared/datasets beside the project")
    corpus = read_jsonl(data / "corpus.jsonl")[:40]
    ids = {str(d["doc_id"]) for d in corpus}
    queries = [q for q in read_jsonl(data / "queries.jsonl") if set(q["gold_doc_ids"]) <= ids][::3][:60]
    docs = [Document(id=str(d["doc_id"]), text=str(d["text"]), title=str(d["title"])) for d in corpus]
    tops: dict[str, list[list[str]]] = {}
    for name, store in (("embedded", ""), ("postgres", pg_url)):
        settings = Settings(index_dir=tmp_path / name, store=store, language=language)
        svc = QAService(settings, embedder=embedder)
        try:
            svc.add_documents(docs)
            tops[name] = [
                [p.doc_id for p in svc.search(str(q["question"]), k=5, mode="lexical", rerank=False, max_per_doc=0)]
                for q in queries
            ]
        finally:
            svc.close()
    emb, pg = tops["embedded"], tops["postgres"]
    n = len(queries)
    top1 = sum(e[:1] == p[:1] for e, p in zip(emb, pg, strict=True)) / n
    overlap = sum(len(set(e) & set(p)) / max(len(e), 1) for e, p in zip(emb, pg, strict=True)) / n
    gold = [str(q["gold_doc_ids"][0]) for q in queries]
    recall = {name: sum(g in t for g, t in zip(gold, tops[name], strict=True)) / n for name in tops}
    print(
        f"\nXQuAD-{language} lexical, {n} queries over 40 paragraphs: top-1 agreement {top1:.3f}, "
        f"top-5 overlap {overlap:.3f}, recall@5 embedded {recall['embedded']:.3f} postgres {recall['postgres']:.3f}"
    )
    assert n >= 40
    # The same terms, two BM25s (tantivy: one field, idf ln(1 + ...); Postgres: title and heading
    # weigh 0.5, FTS5's idf): the best document agrees almost always, the top 5 mostly.
    assert top1 >= 0.9
    assert overlap >= 0.8
    assert recall["postgres"] == pytest.approx(recall["embedded"], abs=0.05)
    assert recall["embedded"] > 0.7


def test_a_german_collection_moves_into_postgres(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    # Exported from the embedded store, imported with `qa --collection de import` (created with the
    # export's settings, its language among them): Postgres analyses it as German, ranks it alike.
    index = tmp_path / "index"
    src = Collections(Settings(index_dir=index))
    try:
        src.create("de", {"language": "de"})
        src.get("de").add_documents(GERMAN)
        dump = tmp_path / "de.jsonl"
        assert export_index(src.get("de").store, dump)["documents"] == len(GERMAN)
        want = [(p.doc_id, p.start, p.end) for p in src.get("de").search(GERMAN_Q, k=2, mode="lexical")]
    finally:
        src.close()
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "pg-jobs"), "QA_STORE": pg_url, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "qa", "--collection", "de", "import", str(dump), "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["documents"] == len(GERMAN)
    pg = Collections(Settings(index_dir=tmp_path / "pg-jobs", store=pg_url))
    try:
        assert pg.describe("de").overrides["language"] == "de"
        got = [(p.doc_id, p.start, p.end) for p in pg.get("de").search(GERMAN_Q, k=2, mode="lexical")]
        assert got == want and got[0][0] == "werkstatt"
    finally:
        pg.close()
