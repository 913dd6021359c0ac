"""The one text analyser: word terms, stop words, and the term statistics (idf, coverage, min-max)
that retrieval's second stage, answering, citation checking and follow-up resolution share.
Sentences (with exact offsets and their kind: prose, list item, heading, code...) are ``qa.sentences``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence, Set
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


# -- exact tokens: where case and punctuation carry the meaning ------------------------------
#
# ``terms`` lower-cases and keeps only word characters, so "-v" and "-V", "ls -l" and "ls -L",
# "%d" and "%D" are one term each. These are the tokens whose exact spelling matters, found
# with one regex, cased as written: the lexical index keeps them in a case-sensitive field, and
# when a question names one that another spelling could be taken for (``case_variants``), a
# passage or sentence that spells it only that other way does not hold its word (README, "Case").
#
#   options          -v -V -l --verbose --dry-run -Wall -O2 -1   (not "x-ray", "-5.2", "--")
#   conversions      %d %D %Y %-5s %.2f %lu                      (not "50%", "% of")
#   single letters   x X C V                                     (not "a", "A", "I", "J. Smith", "it's")
#   cased words      PATH HashMap getElementById mRNA IgG DNA     (a capital after the first letter)
# One pass, each branch starting on its own first character (the regex engine tries them all at
# every position: this order and the possessive runs made it 1.6x faster than one branch per kind).
_EXACT = re.compile(
    r"\b[A-Za-z](?:"
    r"[a-z0-9_]*+[A-Z][A-Za-z0-9_]*+"  # a word with a capital after its first letter: PATH, HashMap
    r"|(?<![\w\-.'’][A-Za-z])(?![\w\-'’.])"  # or a single letter standing alone, not an initial: x, C
    r")"
    r"|(?<![\w\-])-(?:-?[A-Za-z][\w\-]*|\d(?![\w.,]))"  # an option: -v, --verbose, -1 (not -5.2)
    r"|(?<![\w%])%[-+#0]?\d*(?:\.\d+)?[A-Za-z]{1,3}(?![A-Za-z])"  # a printf/strftime conversion
)
# Single letters that are words, not names: the article (also opening a sentence), and the pronoun
# of every "How do I".
_NOT_EXACT = frozenset({"a", "A", "I"})
# Bumped whenever what ``exact_tokens`` finds changes: lexical indexes built with another version
# are rebuilt when opened (their spec records it).
EXACT_TOKENS_VERSION = 1


def exact_tokens(text: str) -> list[str]:
    """The tokens of ``text`` whose case or leading punctuation carries meaning (options like
    "-V" and "--verbose", conversions like "%D", single letters, words with a capital after their
    first letter like "PATH" or "HashMap"), exactly as written, in order, repeats kept.

    A helper for the answerer: a sentence that holds the question's exact tokens (say "-V")
    answers it better than one holding only their lower-cased word ("-v"); compare
    ``set(exact_tokens(question))`` with ``set(exact_tokens(sentence))``."""
    return [t for t in _EXACT.findall(text) if t not in _NOT_EXACT]


def case_variants(token: str) -> list[str]:
    """The other spellings of an exact token that lower-casing makes the same word and that are
    exact tokens themselves: "-v" for "-V", "%d" for "%D", "x" for "X", "HASHMAP" for "HashMap";
    none for "NFL" or "PATH", whose lower-cased forms are plain words. Only a token with a variant
    can be confused by the lower-casing analyser, so only such a token is worth matching as written."""
    variants = dict.fromkeys(v for v in (token.swapcase(), token.lower(), token.upper()) if v != token)
    return [v for v in variants if exact_tokens(v) == [v]]


def confusable_tokens(question: str) -> list[str]:
    """The question's exact tokens that lower-casing could take for another spelling ("-V", "%D",
    "x"; not "NFL" or "DNA"): those with ``case_variants``, once each, in order."""
    return [e for e in dict.fromkeys(exact_tokens(question)) if case_variants(e)]


def question_evidence(
    question: str, asked: Sequence[str], terms_of: Callable[[str], set[str]] | None = None
) -> set[str]:
    """``terms(question)``, plus those of its ``asked`` (confusable) tokens whose word is no term of
    it (a stop word: "-i", "-a"), which then count only as written. ``terms_of``: another
    language's ``terms`` (``qa.language.Analyser.terms``; English's by default)."""
    terms_of = terms_of or terms
    words = terms_of(question)
    return words | {e for e in asked if not (terms_of(e) and terms_of(e) <= words)}


def case_checked(
    words: Set[str], exact: Set[str], asked: Sequence[str], terms_of: Callable[[str], set[str]] | None = None
) -> set[str]:
    """A sentence's ``terms`` and ``exact_tokens`` as a question that names the confusable tokens
    ``asked`` is matched against them: a sentence that spells an asked token only another way
    ("-v" and not "-V") does not hold its word ("v"). Every other sentence keeps all its terms.

    Second-stage rule (``qa.rerank``), and the one to use in answer features::

        asked = confusable_tokens(question)
        q_terms = question_evidence(question, asked) if asked else terms(question)
        s_terms = case_checked(terms(sentence), set(exact_tokens(sentence)), asked)
    """
    terms_of = terms_of or terms
    out = set(words) | set(exact)
    for e in asked:
        if e not in exact and any(v in exact for v in case_variants(e)):
            out -= terms_of(e)
    return out
