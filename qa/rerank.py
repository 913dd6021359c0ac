"""Second-stage scoring of the fused candidates, and diversity of the final top k.

No cross-encoder ships with weights on PyPI (see ../shared/MODELS.md), so the built-in second stage
is sentence evidence: a passage that holds one sentence with most of the question's rare words is
a better answer passage than one that scatters them over ten sentences. Its score is the fused
retrieval score (min-max normalized over the candidates) plus ``weight`` times the best sentence's
IDF-weighted share of the question's terms. It needs no model call, so it runs in ``/v1/search``
at a few milliseconds. Measured in evals/README.md ("Second stage").

A user with a cross-encoder (any sentence-transformers ``CrossEncoder`` name or path) sets
``QA_RERANK_MODEL`` and gets :class:`CrossEncoderReranker` instead, behind the same protocol.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from qa.terms import coverage, idf, minmax, sentence_terms, terms
from qa.types import Passage


class Reranker(Protocol):
    def rerank(self, question: str, passages: list[Passage]) -> list[Passage]:
        """``passages`` reordered best first, each with its second-stage score."""
        ...


class SentenceEvidenceReranker:
    """Fused score plus the best sentence's coverage of the question's rare terms."""

    def __init__(self, weight: float = 0.5) -> None:
        self.weight = weight

    def rerank(self, question: str, passages: list[Passage]) -> list[Passage]:
        if len(passages) < 2:
            return passages
        q_terms = terms(question)
        sentences = [sentence_terms(p.text) for p in passages]
        weights = idf(q_terms, [st for ss in sentences for st in ss])
        fused = minmax([p.score for p in passages])
        scores = [
            f + self.weight * max((coverage(q_terms, weights, st) for st in ss), default=0.0)
            for f, ss in zip(fused, sentences, strict=True)
        ]
        order = sorted(range(len(passages)), key=lambda i: -scores[i])
        return [replace(passages[i], score=scores[i]) for i in order]


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder (name or path) scoring (question, passage) pairs."""

    def __init__(self, model: str, batch_size: int = 32) -> None:
        # Imported here: most users never load a cross-encoder.
        from sentence_transformers import CrossEncoder

        self.model: Any = CrossEncoder(model)
        self.batch_size = batch_size

    def rerank(self, question: str, passages: list[Passage]) -> list[Passage]:
        if not passages:
            return passages
        scores = self.model.predict([(question, p.text) for p in passages], batch_size=self.batch_size)
        order = sorted(range(len(passages)), key=lambda i: -float(scores[i]))
        return [replace(passages[i], score=float(scores[i])) for i in order]


def diversify(passages: list[Passage], k: int, max_per_doc: int) -> list[Passage]:
    """The top ``k`` with near-duplicates collapsed: a chunk that overlaps or directly follows one
    already taken from the same document is stitched onto it (one passage, exact offsets, the
    better score), and no document gives more than ``max_per_doc`` passages (0: no cap)."""
    taken: list[Passage] = []
    per_doc: dict[str, int] = {}
    for p in passages:
        for i, t in enumerate(taken):
            if t.doc_id == p.doc_id and p.start <= t.end and t.start <= p.end:
                taken[i] = stitch(t, p)
                break
        else:
            if max_per_doc and per_doc.get(p.doc_id, 0) >= max_per_doc:
                continue
            if len(taken) == k:
                break
            taken.append(p)
            per_doc[p.doc_id] = per_doc.get(p.doc_id, 0) + 1
    return taken


def stitch(a: Passage, b: Passage) -> Passage:
    """One passage covering two touching or overlapping spans of one document."""
    first, second = (a, b) if a.start <= b.start else (b, a)
    if second.end <= first.end:
        text = first.text
    else:
        text = first.text + second.text[first.end - second.start :]
    return replace(a, start=first.start, end=max(first.end, second.end), text=text)
