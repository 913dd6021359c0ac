"""Check the ``[n]`` markers of a generated answer against the passages it was given.

Issue 5, point 4 (generated answers): a language model's answer cites passages as ``[n]``. No
marker may reach the user unchecked:

- a marker whose number is not one of the passages (``[7]`` of five) points nowhere: removed;
- a marker whose passage does not support its sentence is dropped, and the sentence is flagged
  ``supported=False``;
- every kept marker becomes a citation of the exact characters that support the sentence: the
  passage sentence that best matches it, so ``quote == document.text[start:end]`` as everywhere.

Support is judged like extractive answering: embedding cosine between the generated sentence and
each sentence of the cited passage, plus the share of the generated sentence's content words the
passage sentence contains. That catches a citation of the wrong passage or of nothing relevant; it
cannot catch a sentence that uses a passage's own words to say the opposite (that needs an
entailment model, which no package here ships).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.answer import Candidate, candidates
from qa.embed import Embedder
from qa.terms import split_sentences, terms
from qa.types import CheckedSentence, Citation, Passage

MARKER = re.compile(r"\s*\[(\d{1,4})\]")
# Weights of the support score: meaning first, shared words as a check on it.
W_COSINE, W_LEXICAL = 0.7, 0.3
DEFAULT_MIN_SUPPORT = 0.45


@dataclass(frozen=True)
class CheckedAnswer:
    text: str  # sentences with their kept markers, renumbered 1..n in order of first use
    sentences: tuple[CheckedSentence, ...]
    citations: tuple[Citation, ...]
    removed: tuple[int, ...]  # markers that pointed at no passage
    dropped: tuple[int, ...]  # markers whose passage did not support the sentence

    @property
    def unsupported(self) -> int:
        return sum(1 for s in self.sentences if s.supported is False)


def check(
    text: str, passages: list[Passage], embedder: Embedder, min_support: float = DEFAULT_MIN_SUPPORT
) -> CheckedAnswer:
    """Check every marker of ``text`` against ``passages`` (marker ``[n]`` is ``passages[n-1]``)."""
    spans = [(s, e) for s, e in split_sentences(text) if text[s:e].strip()] or [(0, len(text))]
    raw = []
    for s, e in spans:
        sentence = text[s:e]
        numbers = [int(m.group(1)) for m in MARKER.finditer(sentence)]
        raw.append((MARKER.sub("", sentence).strip(), list(dict.fromkeys(numbers))))
    cands = {n: candidates([passages[n - 1]]) for n in range(1, len(passages) + 1)}
    cited = sorted({n for _, ns in raw for n in ns if n in cands and cands[n]})
    vectors = _sentence_vectors(embedder, [c for n in cited for c in cands[n]])
    sentence_vectors = embedder.embed([s for s, _ in raw]) if cited else None

    removed: list[int] = []
    dropped: list[int] = []
    citations: list[Citation] = []
    number_of: dict[tuple[str, int, int], int] = {}
    checked: list[CheckedSentence] = []
    parts: list[str] = []
    for i, (sentence, numbers) in enumerate(raw):
        kept: list[int] = []
        best_support = 0.0
        for n in numbers:
            if n not in cands:
                removed.append(n)
                continue
            if not cands[n] or sentence_vectors is None:
                dropped.append(n)
                continue
            best, score = _best(sentence, sentence_vectors[i], cands[n], vectors)
            best_support = max(best_support, score)
            if score < min_support:
                dropped.append(n)
                continue
            p = best.passage
            key = (p.doc_id, p.start + best.start, p.start + best.end)
            if key not in number_of:
                number_of[key] = len(citations) + 1
                citations.append(Citation(number_of[key], p.doc_id, p.title, key[1], key[2], best.text))
            if number_of[key] not in kept:
                kept.append(number_of[key])
        supported = None if not numbers else bool(kept)
        checked.append(CheckedSentence(sentence, tuple(kept), supported, best_support))
        parts.append(_with_markers(sentence, kept))
    return CheckedAnswer(
        " ".join(p for p in parts if p), tuple(checked), tuple(citations), tuple(removed), tuple(dropped)
    )


def _with_markers(sentence: str, numbers: list[int]) -> str:
    """``sentence`` with ``[n]`` markers before its closing punctuation: "met in Paris [1]."."""
    if not numbers:
        return sentence
    body = sentence.rstrip(".!?…")
    return f"{body} {''.join(f'[{n}]' for n in numbers)}{sentence[len(body) :]}"


def _sentence_vectors(embedder: Embedder, cands: list[Candidate]) -> dict[tuple[int, int, int], np.ndarray]:
    if not cands:
        return {}
    vectors = embedder.embed([c.text for c in cands])
    return {(c.passage.chunk_id, c.start, c.end): v for c, v in zip(cands, vectors, strict=True)}


def _best(
    sentence: str, vector: np.ndarray, cands: list[Candidate], vectors: dict[tuple[int, int, int], np.ndarray]
) -> tuple[Candidate, float]:
    """The passage sentence that best supports ``sentence``, and its support score."""
    words = terms(sentence)
    scored = []
    for c in cands:
        cosine = float(vectors[(c.passage.chunk_id, c.start, c.end)] @ vector)
        lexical = len(words & terms(c.text)) / len(words) if words else 0.0
        scored.append((W_COSINE * cosine + W_LEXICAL * lexical, c))
    score, best = max(scored, key=lambda x: x[0])
    return best, score
