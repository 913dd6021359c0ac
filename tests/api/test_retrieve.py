"""Lexical retrieval (BM25 in the tantivy lexical index) and fusion, with the real store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.errors import InvalidInput
from qa.retrieve import convex_hits, rrf_hits
from qa.service import QAService
from qa.store.embedded import EmbeddedStore
from qa.terms import query_terms
from qa.types import Document, Passage

from ..fakes import HashEmbedder


def test_rrf_by_hand() -> None:
    fused = rrf_hits([[(1, 9), (2, 8)], [(2, 5), (3, 4)]], k=3, rrf_k=60)
    # chunk 2: 1/62 + 1/61; chunk 1: 1/61; chunk 3: 1/62
    assert [c for c, _ in fused] == [2, 1, 3]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[2][1] == pytest.approx(1 / 62)


def test_convex_by_hand() -> None:
    dense = [(1, 0.9), (2, 0.5), (3, 0.1)]  # minmax: 1, 0.5, 0
    lexical = [(3, 12.0), (4, 2.0)]  # minmax: 1, 0
    fused = convex_hits(dense, lexical, k=4, alpha=0.6)
    assert dict(fused) == pytest.approx({1: 0.6, 2: 0.3, 3: 0.4, 4: 0.0})
    assert [c for c, _ in fused] == [1, 3, 2, 4]


def test_query_terms() -> None:
    assert query_terms("Who met in Paris? Paris!") == ["met", "paris"]
    assert query_terms("Who is the one?", stopwords=False) == ["who", "is", "the", "one"]


@pytest.fixture
def lexical_service(tmp_path: Path) -> QAService:
    from qa.config import Settings

    return QAService(Settings(index_dir=tmp_path), embedder=HashEmbedder())


def test_bm25_finds_rare_terms_and_stems(lexical_service: QAService) -> None:
    svc = lexical_service
    svc.add_documents(
        [
            Document(id="a", title="Kilns", text="The kiln fires stoneware at 1240 degrees."),
            Document(id="b", title="Glazes", text="Celadon glazes turn green in reduction firing."),
            Document(id="c", title="Clay", text="Porcelain is a white clay body."),
        ]
    )
    assert [x.doc_id for x in svc.search("celadon", mode="lexical")] == ["b"]
    assert svc.search("firing", mode="lexical")[0].doc_id in {"a", "b"}  # "fires" stems like "firing"
    assert {x.doc_id for x in svc.search("fired kilns", mode="lexical")} >= {"a"}
    # Query syntax in a question is never interpreted (quotes, operators, column filters, prefixes).
    for q in ['"kiln', "kiln AND NOT", "title:kiln", "kil*", "NEAR(kiln fires)", "()", "-"]:
        svc.search(q, mode="lexical")
    assert svc.search("the of and", mode="lexical") == []  # only stop words: nothing to match


def test_deleted_and_replaced_documents_are_never_found_by_their_words(lexical_service: QAService) -> None:
    svc = lexical_service
    svc.add_documents([Document(id="a", text="Zanzibar xylophones quietly hum.")])
    svc.add_documents([Document(id="b", text="Zanzibar is an island.")])
    svc.add_documents([Document(id="a", text="Completely different words now.")])
    store = svc.store
    assert isinstance(store, EmbeddedStore)
    assert [x.doc_id for x in svc.search("zanzibar xylophones", mode="lexical")] == ["b"]
    assert [x.doc_id for x in svc.search("completely", mode="lexical")] == ["a"]
    chunk_ids = {r[0] for r in store.db.execute("SELECT id FROM chunks")}
    assert store.lexical.ids() == chunk_ids and len(chunk_ids) == 2
    svc.delete("a")
    assert svc.search("different", mode="lexical") == []
    assert store.lexical.ids() == {r[0] for r in store.db.execute("SELECT id FROM chunks")}
    assert store.verify() == []


def test_stemmer_setting_rebuilds_the_lexical_index(tmp_path: Path) -> None:
    from qa.config import Settings

    svc = QAService(Settings(index_dir=tmp_path), embedder=HashEmbedder())
    svc.add_documents([Document(id="a", text="Runners were running.")])
    assert svc.search("run", mode="lexical")
    svc.close()
    plain = QAService(Settings(index_dir=tmp_path, lexical_stemmer="none"), embedder=HashEmbedder())
    assert plain.search("run", mode="lexical") == []
    assert plain.search("running", mode="lexical")[0].doc_id == "a"


def test_lexical_filters_and_hybrid_modes(make_service: Callable[..., QAService]) -> None:
    svc = make_service()
    svc.add_documents(
        [
            Document(
                id="bm25",
                text="BM25 ranks documents by term frequency and inverse document frequency.",
                metadata={"topic": "ranking"},
            ),
            Document(
                id="dense",
                text="Dense retrieval embeds queries and passages as vectors.",
                metadata={"topic": "retrieval"},
            ),
        ]
    )
    assert [x.doc_id for x in svc.search("term frequency", mode="lexical", filters={"topic": "retrieval"})] == []
    for mode in ("dense", "lexical", "hybrid"):
        hits = svc.search("How does BM25 rank documents?", k=2, mode=mode)  # type: ignore[arg-type]
        assert hits[0].doc_id == "bm25", mode
    a = svc.ask("How does BM25 rank documents?", mode="lexical")
    assert a.found and a.citations[0].doc_id == "bm25"
    with pytest.raises(InvalidInput, match="mode"):
        svc.search("x", mode="fuzzy")  # type: ignore[arg-type]


def test_store_returns_stored_vectors(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "i", model="m", dim=4)
    from qa.store import Write
    from qa.types import Chunk

    v = np.array([[1, 0, 0, 0]], dtype=np.float32)
    store.write([Write(Document(id="a", text="hello"), [Chunk("a", 0, 0, 5, "hello")], v, "x")])
    got = store.vectors([1, 99])
    assert list(got) == [1] and np.array_equal(got[1], v[0])


@pytest.mark.parametrize("fusion", ["convex", "rrf"])
def test_hybrid_fetches_only_fused_passages_and_ranks_as_fusing_passages_does(
    make_service: Callable[..., QAService], fusion: str
) -> None:
    """The embedded store's hybrid search fuses (chunk id, score) pairs and fetches passages for
    the fused top k only; the result equals fusing both lists of full passages, scores included."""
    svc = make_service(fusion=fusion, hybrid_candidates=8)
    texts = [
        "BM25 ranks documents by term frequency and inverse document frequency.",
        "Dense retrieval embeds questions and passages as vectors in one space.",
        "Reciprocal rank fusion adds one over sixty plus the rank from each list.",
        "A kiln fires stoneware; glazes melt into glass on the clay body.",
        "FAISS searches vectors exactly with a flat index or approximately with HNSW.",
        "Sourdough rises from wild yeast and lactic bacteria in a starter.",
    ]
    svc.add_documents([Document(id=f"d{i}", text=t, metadata={"even": i % 2 == 0}) for i, t in enumerate(texts * 2)])
    store = svc.store
    fetched: list[int] = []
    real_passages = store.passages

    def counting(hits: list[tuple[int, float]]) -> list[Passage]:
        fetched.append(len(hits))
        return real_passages(hits)

    store.passages = counting  # type: ignore[method-assign]
    for question, filters in [("How are vectors searched?", None), ("rank fusion of lists", {"even": True})]:
        vector = svc.retriever.embed_query(question)
        got = svc.retriever.hybrid(question, vector, 3, filters)
        dense = store.search(vector, 8, filters)
        lexical = store.lexical_search(query_terms(question), 8, filters)
        by_id = {x.chunk_id: x for x in dense + lexical}
        hits = ([(x.chunk_id, x.score) for x in dense], [(x.chunk_id, x.score) for x in lexical])
        if fusion == "rrf":
            fused = rrf_hits(list(hits), 3, svc.settings.rrf_k)
        else:
            fused = convex_hits(*hits, 3, svc.settings.fusion_alpha)
        want = [replace(by_id[c], score=s) for c, s in fused]
        assert got == want and len(got) == 3
        assert fetched == [3]
        assert all(svc.store.get_text(x.doc_id)[x.start : x.end] == x.text for x in got)  # type: ignore[index]
        if filters:
            assert all(x.metadata["even"] for x in got)
        fetched.clear()
