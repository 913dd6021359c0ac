"""Retrieval: a question in, ranked passages out. The whole pipeline lives here:

    first stage by mode (dense | lexical | hybrid)
      -> fusion of the two candidate lists (hybrid: convex or reciprocal rank)
      -> second stage (``qa.rerank``: sentence evidence, or a cross-encoder)
      -> diversity (overlapping chunks stitched, at most ``max_per_doc`` passages per document
         while other documents can fill k)

Stages rank ``(chunk id, score)`` hits; passage text is fetched from the store only for the fused
candidates, inside one ``store.snapshot()``, so both lists come from one state of the index.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from qa.embed import Embedder, embed_queries
from qa.errors import InvalidInput
from qa.language import ENGLISH, Analyser
from qa.rerank import Reranker, diversify
from qa.stages import stage
from qa.store import Store
from qa.store.filters import FilterSpec
from qa.terms import exact_tokens, minmax
from qa.types import Hit, Passage

Mode = Literal["dense", "lexical", "hybrid"]
Fusion = Literal["rrf", "convex"]
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")


def rrf_hits(lists: list[list[Hit]], k: int, rrf_k: int = 60) -> list[Hit]:
    """Reciprocal rank fusion: score = sum over lists of 1 / (rrf_k + rank), rank from 1."""
    scores: dict[int, float] = {}
    for hits in lists:
        for rank, (chunk_id, _) in enumerate(hits, 1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (rrf_k + rank)
    order = sorted(scores, key=lambda c: (-scores[c], c))[:k]
    return [(c, scores[c]) for c in order]


def _normalized(hits: list[Hit]) -> dict[int, float]:
    return dict(zip((c for c, _ in hits), minmax([s for _, s in hits]), strict=True))


def convex_hits(dense: list[Hit], lexical: list[Hit], k: int, alpha: float = 0.5) -> list[Hit]:
    """Normalized-score fusion: alpha * minmax(dense) + (1 - alpha) * minmax(lexical); absent = 0."""
    d, lx = _normalized(dense), _normalized(lexical)
    ids = dict.fromkeys([c for c, _ in lexical] + [c for c, _ in dense])
    scores = {c: alpha * d.get(c, 0.0) + (1 - alpha) * lx.get(c, 0.0) for c in ids}
    order = sorted(scores, key=lambda c: (-scores[c], c))[:k]
    return [(c, scores[c]) for c in order]


@dataclass(frozen=True)
class Options:
    """The retrieval settings (``QA_*``; each described in qa/config.py)."""

    mode: Mode = "hybrid"
    fusion: Fusion = "convex"
    alpha: float = 0.5
    rrf_k: int = 60
    candidates: int = 50
    rerank: bool = True
    rerank_candidates: int = 30
    max_per_doc: int = 3
    stopwords: bool = True
    # The lexical analysis of the index's language (``QA_LANGUAGE``): it makes the BM25 query terms.
    analyser: Analyser = ENGLISH


class Retriever:
    """The retrieval pipeline over one store with one embedder."""

    def __init__(self, store: Store, embedder: Embedder, reranker: Reranker, options: Options) -> None:
        self.store, self.embedder, self.reranker, self.options = store, embedder, reranker, options

    def embed_query(self, question: str) -> np.ndarray:
        with stage("embed"):
            return embed_queries(self.embedder, [question])[0]

    def retrieve(
        self,
        question: str,
        k: int,
        filters: FilterSpec | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
        vector: np.ndarray | None = None,
        max_per_doc: int | None = None,
    ) -> list[Passage]:
        """The top ``k`` passages: first stage by ``mode``, then the second stage (unless
        ``rerank`` is False), then near-duplicates stitched and at most ``max_per_doc`` per
        document (default ``Options.max_per_doc``; 0: no cap) while other documents can fill
        ``k`` (see ``qa.rerank.diversify``). ``vector`` is the question's embedding when already
        known."""
        o = self.options
        rerank = o.rerank if rerank is None else rerank
        max_per_doc = o.max_per_doc if max_per_doc is None else max_per_doc
        # Stitching and the per-document cap drop passages: fetch more than k.
        depth = max(2 * k, o.rerank_candidates if rerank else 0)
        passages = self.first_stage(question, depth, filters, mode or o.mode, vector)
        if rerank:
            with stage("second_stage"):
                passages = self.second_stage(question, passages)
        return diversify(passages, k, max_per_doc)

    def first_stage(
        self, question: str, n: int, filters: FilterSpec | None, mode: Mode, vector: np.ndarray | None = None
    ) -> list[Passage]:
        """The top ``n`` candidates of one mode, with their first-stage (fused) scores."""
        if mode not in MODES:
            raise InvalidInput(f"mode must be 'dense', 'lexical' or 'hybrid', got {mode!r}")
        if mode != "lexical" and vector is None:
            vector = self.embed_query(question)  # a stage of its own
        with stage("first_stage"):
            if mode == "lexical":
                return self.store.lexical_search(
                    self.options.analyser.query_terms(question, self.options.stopwords),
                    n,
                    filters,
                    exact_tokens(question),
                )
            assert vector is not None
            if mode == "dense":
                return self.store.search(vector, n, filters)
            return self.hybrid(question, vector, n, filters)

    def hybrid(self, question: str, vector: np.ndarray, k: int, filters: FilterSpec | None = None) -> list[Passage]:
        """Dense and lexical candidates fused into one ranking of ``k``."""
        o = self.options
        n = max(k, o.candidates)
        # Both lists from one state of the index: a write landing between them could otherwise
        # fuse passages of a document with those of the document that replaced or followed it.
        with self.store.snapshot():
            dense = self.store.search_hits(vector, n, filters)
            lexical = self.store.lexical_hits(
                o.analyser.query_terms(question, o.stopwords), n, filters, exact_tokens(question)
            )
            return self.store.passages(self.fuse(dense, lexical, k))

    def fuse(self, dense: list[Hit], lexical: list[Hit], k: int) -> list[Hit]:
        """The top ``k`` of the two ranked lists by the configured fusion."""
        if self.options.fusion == "rrf":
            return rrf_hits([dense, lexical], k, self.options.rrf_k)
        return convex_hits(dense, lexical, k, self.options.alpha)

    def second_stage(self, question: str, passages: list[Passage]) -> list[Passage]:
        """The top ``rerank_candidates`` rescored; the rest follow in first-stage order, scored
        below every rescored one so scores stay decreasing."""
        n = self.options.rerank_candidates
        head = self.reranker.rerank(question, passages[:n])
        if not head or len(passages) <= n:
            return head
        floor = min(p.score for p in head)
        return head + [replace(p, score=floor - (i + 1) * 1e-6) for i, p in enumerate(passages[n:])]
