"""The one text analyser: word terms, stop words, and the term statistics (idf, coverage, min-max)
that retrieval's second stage, answering, citation checking and follow-up resolution share.
Sentences (with exact offsets and their kind: prose, list item, heading, code...) are ``qa.sentences``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence, Set
from functools import lru_cache

from qa.sentences import HEADING_LINE, PARAGRAPH_BREAK, split_sentences, strip_span

# Sentence splitting lives in qa.sentences; its names stay importable from here, where the analyser's
# users have always found them.
__all__ = [
    "EVIDENCE_STOPWORDS",
    "EVIDENCE_WORDS",
    "HEADING_LINE",
    "PARAGRAPH_BREAK",
    "STOPWORDS",
    "coverage",
    "idf",
    "minmax",
    "query_terms",
    "sentence_terms",
    "split_sentences",
    "strip_span",
    "terms",
]


# -- terms ----------------------------------------------------------------------------------

_TERM = re.compile(r"\w+", re.UNICODE)

# English stop words: dropped from BM25 queries (documents keep them: BM25's idf discounts them
# there, but an OR query over "the" would match every chunk).
STOPWORDS = frozenset(
    "a about an and are as at be been but by can could did do does for from had has have he her him his how i"
    " if in into is it its me my no not of on or our she so such than that the their them then there these"
    " they this those to was we were what when where which while who whom whose why will with would you your".split()
)
# Words of STOPWORDS that still count as evidence when a sentence is compared with a question
# ("not", "than", "there" ...): the answer scorer's weights (evals/tune_answer.py) and the second
# stage were fitted with them counted, so they stay counted there.
EVIDENCE_WORDS = frozenset(
    "about been but can could him if into me my no not our so such than then there these those we while"
    " would your".split()
)
EVIDENCE_STOPWORDS = STOPWORDS - EVIDENCE_WORDS


def terms(text: str) -> set[str]:
    """Lower-cased word terms of ``text`` that carry evidence (``EVIDENCE_STOPWORDS`` left out)."""
    return {t for t in _TERM.findall(text.lower()) if t not in EVIDENCE_STOPWORDS}


def query_terms(question: str, stopwords: bool = True) -> list[str]:
    """Lower-cased word terms of a question for BM25, in order, once each, without ``STOPWORDS``."""
    seen: dict[str, None] = {}
    for t in _TERM.findall(question.lower()):
        if not (stopwords and t in STOPWORDS):
            seen.setdefault(t, None)
    return list(seen)


@lru_cache(maxsize=8192)
def sentence_terms(text: str) -> tuple[frozenset[str], ...]:
    """The terms of each sentence of a passage. Cached by text: the same chunks come back as
    candidates for many questions, and splitting them is most of the second stage's cost."""
    return tuple(frozenset(terms(text[s:e])) for s, e in split_sentences(text))


def idf(q_terms: Set[str], sentences: Sequence[Set[str]]) -> dict[str, float]:
    """Inverse document frequency of the question's terms over a set of sentences."""
    n = len(sentences)
    return {t: math.log(1 + n / (1 + sum(t in st for st in sentences))) for t in q_terms}


def coverage(q_terms: Set[str], weights: dict[str, float], sentence: Set[str]) -> float:
    """IDF-weighted share of the question's terms that a sentence contains, 0..1."""
    total = sum(weights.values())
    return sum(weights[t] for t in q_terms & sentence) / total if total else 0.0


def minmax(values: Sequence[float]) -> list[float]:
    """``values`` scaled to 0..1 (all 1.0 when they are equal)."""
    lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
    return [(v - lo) / (hi - lo) if hi > lo else 1.0 for v in values]
