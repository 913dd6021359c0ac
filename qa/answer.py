"""Extractive answering: pick the sentence of the retrieved passages that best answers the question.

Every sentence of the top passages is scored against the question (embedding cosine,
plus the passage's retrieval score and the share of question terms it contains). The
answer is the best sentence, cited by its exact character span in the source document.
Below ``min_score`` the answer is an honest "not found" with no citation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from qa.embed import Embedder
from qa.sentences import split_sentences
from qa.types import Answer, Citation, Passage

NOT_FOUND = "I could not find an answer to that in the indexed documents."

# Weights of the sentence score parts; the cosine dominates, the rest break ties in favour of
# sentences from well-ranked passages that use the question's own words.
W_SENTENCE, W_PASSAGE, W_LEXICAL = _weights = (0.6, 0.25, 0.15)

_TERM = re.compile(r"\w+", re.UNICODE)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_STOP = frozenset(
    "a an and are as at be by did do does for from had has have he her his how i in is it its of on or she"
    " that the their them they this to was were what when where which who whom whose why will with you".split()
)


def terms(text: str) -> set[str]:
    return {t for t in _TERM.findall(text.lower()) if t not in _STOP}


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int  # offsets into passage.text
    end: int

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]


def candidates(passages: list[Passage]) -> list[Candidate]:
    """Sentences of the passages, each once even where chunks overlap, headings left out."""
    seen: set[tuple[str, int, int]] = set()
    out = []
    for p in passages:
        for s, e in split_sentences(p.text):
            key = (p.doc_id, p.start + s, p.start + e)
            if key in seen or _HEADING.match(p.text[s:e]):
                continue
            seen.add(key)
            out.append(Candidate(p, s, e))
    return out


def _idf(q_terms: set[str], cand_terms: list[set[str]]) -> dict[str, float]:
    """Inverse document frequency of the question's terms over the candidate sentences."""
    n = len(cand_terms)
    return {t: math.log(1 + n / (1 + sum(t in ct for ct in cand_terms))) for t in q_terms}


class ExtractiveAnswerer:
    def __init__(
        self, embedder: Embedder, min_score: float = 0.35, weights: tuple[float, float, float] = _weights
    ) -> None:
        self.embedder = embedder
        self.min_score = min_score
        self.weights = weights

    def answer(
        self,
        question: str,
        passages: list[Passage],
        query_vector: np.ndarray | None = None,
        passage_vectors: dict[int, np.ndarray] | None = None,
    ) -> Answer:
        """Best sentence of ``passages``. ``passage_vectors`` (stored chunk vectors) let a passage
        count by its cosine with the question; without them its retrieval score is used."""
        cands = candidates(passages)
        if not cands:
            return Answer(answer=NOT_FOUND, found=False, citations=(), passages=tuple(passages))
        q = query_vector if query_vector is not None else self.embedder.embed([question])[0]
        cos = self.embedder.embed([c.text for c in cands]) @ q
        q_terms = terms(question)
        prior = {p.chunk_id: p.score for p in passages}
        if passage_vectors:
            prior = {cid: float(v @ q) for cid, v in passage_vectors.items()}
        cand_terms = [terms(c.text) for c in cands]
        idf = _idf(q_terms, cand_terms)
        total = sum(idf.values())
        w_sentence, w_passage, w_lexical = self.weights
        scores = []
        for c, s, ct in zip(cands, cos, cand_terms, strict=True):
            # Share of the question's terms the sentence contains, each weighted by how rare it is
            # among the candidate sentences: "AFC" tells more than "Super Bowl" when every
            # sentence is about the Super Bowl.
            lexical = sum(idf[t] for t in q_terms & ct) / total if total else 0.0
            passage = prior.get(c.passage.chunk_id, 0.0)
            scores.append(w_sentence * float(s) + w_passage * passage + w_lexical * lexical)
        best = int(np.argmax(scores))
        score = scores[best]
        if score < self.min_score:
            return Answer(answer=NOT_FOUND, found=False, citations=(), passages=tuple(passages), score=score)
        c = cands[best]
        p = c.passage
        citation = Citation(
            n=1, doc_id=p.doc_id, title=p.title, start=p.start + c.start, end=p.start + c.end, quote=c.text
        )
        return Answer(answer=c.text, found=True, citations=(citation,), passages=tuple(passages), score=score)
