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

from collections.abc import Sequence, Set
from dataclasses import replace
from functools import lru_cache
from typing import Any, Protocol

from qa.language import ENGLISH, Analyser
from qa.terms import (
    case_checked,
    confusable_tokens,
    coverage,
    exact_tokens,
    idf,
    minmax,
    question_evidence,
    sentence_terms,
    split_sentences,
    terms,
)
from qa.types import Passage


class Reranker(Protocol):
    def rerank(self, question: str, passages: list[Passage]) -> list[Passage]:
        """``passages`` reordered best first, each with its second-stage score."""
        ...


@lru_cache(maxsize=8192)
def sentence_evidence(text: str) -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
    """Each sentence's lower-cased terms and its exact tokens. Cached by text: the same chunks come
    back as candidates for many questions, and splitting them is most of the second stage's cost."""
    return tuple((frozenset(terms(text[s:e])), frozenset(exact_tokens(text[s:e]))) for s, e in split_sentences(text))


class SentenceEvidenceReranker:
    """Fused score plus the best sentence's coverage of the question's rare terms; a sentence
    holding only another spelling of an option or conversion the question names ("-v" for "-V")
    does not cover its word."""

    def __init__(self, weight: float = 0.5, analyser: Analyser = ENGLISH) -> None:
        self.weight = weight
        self.analyser = analyser

    def rerank(self, question: str, passages: list[Passage]) -> list[Passage]:
        if len(passages) < 2:
            return passages
        sentences: list[Sequence[Set[str]]]
        asked = confusable_tokens(question)
        if not self.analyser.english:
            # Another language's terms (its words, stemmed), with the same case rule: "-c" and "-C"
            # are written alike in every language.
            terms_of = self.analyser.terms
            q_terms = question_evidence(question, asked, terms_of) if asked else terms_of(question)
            sentences = [self.analyser.sentence_terms(p.text) for p in passages]
            if asked:
                sentences = [
                    [
                        case_checked(w, set(exact_tokens(p.text[a:b])), asked, terms_of)
                        for w, (a, b) in zip(ss, split_sentences(p.text), strict=True)
                    ]
                    for p, ss in zip(passages, sentences, strict=True)
                ]
            return self._ranked(passages, q_terms, sentences)
        if asked:
            q_terms = question_evidence(question, asked)
            sentences = [[case_checked(w, e, asked) for w, e in sentence_evidence(p.text)] for p in passages]
        else:
            q_terms = terms(question)
            sentences = [sentence_terms(p.text) for p in passages]
        return self._ranked(passages, q_terms, sentences)

    def _ranked(self, passages: list[Passage], q_terms: Set[str], sentences: list[Sequence[Set[str]]]) -> list[Passage]:
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


# Most chunks one passage is stitched from. Chunks overlap their neighbours, so without a bound
# every candidate of a document chains into one passage: a filter that leaves a document of 15
# chunks gave the whole document as one passage whatever k. A chunk that overlaps a passage
# already this long is dropped (most of its text is in the passage).
MAX_STITCHED = 3


def diversify(passages: list[Passage], k: int, max_per_doc: int) -> list[Passage]:
    """The top ``k`` chunks with near-duplicates collapsed: a chunk that overlaps or directly
    follows a passage already taken from the same document is stitched onto it (one passage,
    exact offsets, the better score; at most ``MAX_STITCHED`` chunks, past which it is dropped),
    and no document gives more than ``max_per_doc`` passages (0: no cap) while other documents
    can fill ``k``.

    The cap spreads a result over documents; it does not shorten it. When fewer than ``k``
    passages are left under it (a filter leaves one document, or the candidates hold only a few),
    just enough of the passages it held back are let in, best first, to fill ``k``: the result is
    then ``passages`` taken in score order with that many over the cap (with one document, exactly
    the uncapped result). The documents under the cap stay, and the passages let in rank below
    their document's best, so which documents come first does not change."""
    taken, held = _diversify(passages, k, max_per_doc, 0)
    over = 0
    while held and len(taken) < k:
        # Usually once. Again only if letting passages in stitched others together: stitching
        # can only shorten a result, so each round lets in at least one more, at most k in all.
        over += k - len(taken)
        taken, held = _diversify(passages, k, max_per_doc, over)
    return taken


def _diversify(passages: list[Passage], k: int, max_per_doc: int, over: int) -> tuple[list[Passage], bool]:
    """``diversify`` with at most ``over`` passages past the cap; and whether the cap held one back."""
    taken = _Taken()
    per_doc: dict[str, int] = {}
    held = False
    for p in passages:
        merged = taken.absorb(p)
        while isinstance(merged, Passage):  # the part of p beyond a passage that is long enough
            p = merged
            merged = taken.absorb(p)
        if merged is not None:
            if merged:
                per_doc[p.doc_id] -= merged
            continue
        if len(taken.passages) == k:
            # Full: a passage ranked below the cut is not stitched onto the ones above it.
            break
        capped = bool(max_per_doc) and per_doc.get(p.doc_id, 0) >= max_per_doc
        if capped and not over:
            held = True
            continue
        taken.add(p)
        per_doc[p.doc_id] = per_doc.get(p.doc_id, 0) + 1
        over -= capped
    return taken.passages, held


class _Taken:
    """The passages taken so far, with how many chunks each is stitched from."""

    def __init__(self) -> None:
        self.passages: list[Passage] = []
        self.chunks: list[int] = []

    def add(self, p: Passage) -> None:
        self.passages.append(p)
        self.chunks.append(1)

    def absorb(self, p: Passage) -> int | Passage | None:
        """Stitch ``p`` onto the taken passage it overlaps or touches; None if it touches none.
        Grown, a passage may reach a later one of the same document: they become one, so no two
        passages of a result overlap. Returns how many taken passages that merged away.

        A passage already ``MAX_STITCHED`` chunks long takes no more: what ``p`` holds beyond it
        comes back as a passage of its own (``p`` cut at the long one's edge, exact offsets), to be
        taken like any other; 0 if nothing is beyond it."""
        taken, chunks = self.passages, self.chunks
        for i, t in enumerate(taken):
            if t.doc_id != p.doc_id or p.end < t.start or t.end < p.start:
                continue
            if chunks[i] >= MAX_STITCHED:
                if t.start <= p.start and p.end <= t.end:
                    return 0
                if p.start < t.start < t.end < p.end:  # around it: not a chunk of the same size
                    return 0
                rest = _beyond(p, t)
                if rest is None:  # it only touches the long one: a passage of its own
                    continue
                return rest
            merged, n, gone = stitch(t, p), chunks[i] + 1, 0
            j = i + 1
            while j < len(taken):
                u = taken[j]
                if u.doc_id == merged.doc_id and u.start <= merged.end and merged.start <= u.end:
                    merged, n = stitch(merged, u), n + chunks[j]
                    del taken[j], chunks[j]
                    gone += 1
                else:
                    j += 1
            taken[i], chunks[i] = merged, n
            return gone
        return None


def _beyond(p: Passage, t: Passage) -> Passage | None:
    """``p`` without what it shares with ``t`` (they overlap, neither holds the other); None when
    they only touch."""
    if p.start < t.start:  # p runs into t from before
        if p.end <= t.start:
            return None
        return replace(p, end=t.start, text=p.text[: t.start - p.start])
    if p.start >= t.end:
        return None
    return replace(p, start=t.end, text=p.text[t.end - p.start :])


def stitch(a: Passage, b: Passage) -> Passage:
    """One passage covering two touching or overlapping spans of one document."""
    first, second = (a, b) if a.start <= b.start else (b, a)
    if second.end <= first.end:
        text = first.text
    else:
        text = first.text + second.text[first.end - second.start :]
    return replace(a, start=first.start, end=max(first.end, second.end), text=text)
