"""Extractive answering: pick the sentence of the top passages that best answers the question.

Every sentence of the top passages is described by a few features, each in 0..1 (see
``FEATURES``): its embedding cosine with the question, its IDF-weighted coverage of the question's
terms (on words, on 5-letter stems, and with the previous sentence as context), how much it says
beyond the question, whether it holds a span of the expected answer type (a name for "who", a date
for "when"), and its passage's cosine and retrieval score. The answer sentence is the one with the
highest weighted sum. The weights were fitted by ``python -m evals.tune_answer`` (pairwise logistic
regression on SQuAD v1.1 dev questions that the reported evals do not use). The answer's score is
its evidence, the mean of the chosen sentence's cosine and term coverage; below ``min_score`` the
answer is an honest "not found" with no citation.

The citation is the exact sentence; when the question has a clear answer type, the answer also
carries the shortest span that answers it (``Answer.short``; see ``qa.span``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.embed import Embedder
from qa.embed.queries import LRUCache
from qa.sentences import sentence_spans
from qa.span import answer_kind, shortest_span
from qa.terms import coverage, idf, minmax, terms
from qa.types import Answer, Citation, Passage, Short

__all__ = ["FEATURES", "NOT_FOUND", "WEIGHTS", "Candidate", "ExtractiveAnswerer", "candidates", "features"]

NOT_FOUND = "I could not find an answer to that in the indexed documents."

FEATURES = ("cosine", "coverage", "passage_cosine", "passage_score", "novelty", "typed", "stem_coverage", "context")
# Fitted by `python -m evals.tune_answer` on SQuAD dev questions 8,000 to 8,699, which no reported
# eval uses (evals/reports/answer_weights.md). Only their ratios matter.
WEIGHTS = (2.41, 1.561, 0.805, 2.567, -0.184, 1.587, 1.756, 1.68)


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int  # offsets into passage.text
    end: int
    lead: str = ""  # the heading or signature line right before it in the passage: never an answer, its context

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]


def candidates(passages: list[Passage]) -> list[Candidate]:
    """Sentences of the passages, each once even where chunks overlap; headings, signatures and code
    lines left out (``qa.sentences``: only prose, list items and table rows can be answers), a
    heading or signature kept as the ``lead`` of the sentence right after it."""
    seen: set[tuple[str, int, int]] = set()
    out = []
    for p in passages:
        lead = ""
        for sentence in sentence_spans(p.text):
            s, e = sentence.start, sentence.end
            key = (p.doc_id, p.start + s, p.start + e)
            if not sentence.answerable:
                lead = p.text[s:e] if sentence.kind in ("heading", "signature") else ""
                continue
            if key not in seen:
                seen.add(key)
                out.append(Candidate(p, s, e, lead))
            lead = ""
    return out


def _stems(words: set[str]) -> set[str]:
    return {w[:5] for w in words}


def features(
    question: str,
    cands: list[Candidate],
    cosines: np.ndarray,
    passage_cosine: dict[int, float],
    passage_score: dict[int, float],
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate sentence."""
    q_terms = terms(question)
    cand_terms = [terms(c.text) for c in cands]
    weights = idf(q_terms, cand_terms)
    q_stems = _stems(q_terms)
    kind = answer_kind(question)
    rows = []
    previous: set[str] = set()
    for i, (c, ct) in enumerate(zip(cands, cand_terms, strict=True)):
        # The sentence before, when it is the previous sentence of the same passage; for the first
        # sentence under a heading or signature line (os.path.basename(path)), that line.
        same = i > 0 and cands[i - 1].passage.chunk_id == c.passage.chunk_id
        previous = terms(c.lead) if c.lead else cand_terms[i - 1] if same else set()
        typed = 0.5 if kind is None else float(shortest_span(question, c.text) is not None)
        rows.append(
            (
                float(cosines[i]),
                coverage(q_terms, weights, ct),
                passage_cosine.get(c.passage.chunk_id, 0.0),
                passage_score.get(c.passage.chunk_id, 0.0),
                len(ct - q_terms) / len(ct) if ct else 0.0,
                typed,
                len(q_stems & _stems(ct)) / len(q_stems) if q_stems else 0.0,
                coverage(q_terms, weights, ct | previous),
            )
        )
    return np.array(rows, dtype=np.float64).reshape(len(cands), len(FEATURES))


class SentenceVectors:
    """Sentence embeddings with an LRU cache: the sentences of popular passages are embedded once,
    not on every question that retrieves them. Thread-safe; ``size`` 0 turns it off."""

    def __init__(self, embedder: Embedder, size: int = 20_000) -> None:
        self.embedder = embedder
        self.cache = LRUCache(size)

    def embed(self, texts: list[str]) -> np.ndarray:
        known = {t: v for t in dict.fromkeys(texts) if (v := self.cache.get(t)) is not None}
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        if todo:
            for t, v in zip(todo, self.embedder.embed(todo), strict=True):
                known[t] = v
                self.cache.put(t, v)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([known[t] for t in texts])


class ExtractiveAnswerer:
    def __init__(
        self,
        embedder: Embedder,
        min_score: float = 0.3,
        weights: tuple[float, ...] = WEIGHTS,
        passages: int = 5,
        cache_size: int = 20_000,
    ) -> None:
        if len(weights) != len(FEATURES):
            raise ValueError(f"{len(FEATURES)} weights needed ({', '.join(FEATURES)}), got {len(weights)}")
        self.embedder = embedder
        self.sentences = SentenceVectors(embedder, cache_size)
        self.min_score = min_score
        self.weights = np.array(weights, dtype=np.float64)
        self.passages = passages

    def score(
        self,
        question: str,
        passages: list[Passage],
        query_vector: np.ndarray | None = None,
        passage_vectors: dict[int, np.ndarray] | None = None,
    ) -> tuple[list[Candidate], np.ndarray]:
        """The candidate sentences of the top passages and their feature rows."""
        top = passages[: self.passages]
        cands = candidates(top)
        if not cands:
            return [], np.zeros((0, len(FEATURES)))
        q = query_vector if query_vector is not None else self.embedder.embed([question])[0]
        cos = self.sentences.embed([c.text for c in cands]) @ q
        # A passage counts by its stored vector's cosine with the question (the retrieval score
        # scale depends on the mode) and by its rank, as the min-max normalized retrieval score.
        pcos = {cid: float(v @ q) for cid, v in (passage_vectors or {}).items()}
        if not pcos:  # a store without vectors: the passage's best sentence stands in
            for c, s in zip(cands, cos, strict=True):
                pcos[c.passage.chunk_id] = max(pcos.get(c.passage.chunk_id, -1.0), float(s))
        pscore = dict(zip((p.chunk_id for p in top), minmax([p.score for p in top]), strict=True))
        return cands, features(question, cands, cos, pcos, pscore)

    def answer(
        self,
        question: str,
        passages: list[Passage],
        query_vector: np.ndarray | None = None,
        passage_vectors: dict[int, np.ndarray] | None = None,
    ) -> Answer:
        """Best sentence of the top passages, cited by its exact span."""
        cands, rows = self.score(question, passages, query_vector, passage_vectors)
        if not cands:
            return Answer(answer=NOT_FOUND, found=False, citations=(), passages=tuple(passages))
        best = int(np.argmax(rows @ self.weights))
        # The evidence: how well the chosen sentence matches the question, in meaning and in words.
        score = float(rows[best, 0] + rows[best, 1]) / 2
        if score < self.min_score:
            return Answer(answer=NOT_FOUND, found=False, citations=(), passages=tuple(passages), score=score)
        c = cands[best]
        p = c.passage
        citation = Citation(
            n=1, doc_id=p.doc_id, title=p.title, start=p.start + c.start, end=p.start + c.end, quote=c.text
        )
        short = None
        span = shortest_span(question, c.text)
        if span is not None:
            s, e = span
            short = Short(text=c.text[s:e], doc_id=p.doc_id, start=citation.start + s, end=citation.start + e)
        return Answer(
            answer=c.text, found=True, citations=(citation,), passages=tuple(passages), score=score, short=short
        )
