"""Evaluation metrics: pure functions over ranked document ids, gold ids and answer strings.

Retrieval is scored at document level: a retrieved chunk counts for its document, and a
document retrieved twice counts once, at its best rank (``collapse``). Relevance is binary.
nDCG divides by the ideal DCG of *all* gold documents (capped at k), not of the gold documents
that happened to be retrieved; getting that wrong inflates every score (LlamaIndex #17070).

Answer normalization is the official SQuAD v1.1 one (``evaluate-v1.1.py``): lower case, drop
punctuation and the articles a/an/the, collapse whitespace.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence


def collapse(doc_ids: Iterable[str]) -> list[str]:
    """Document ranking from a chunk ranking: first occurrence of each document, order kept."""
    seen: set[str] = set()
    out = []
    for d in doc_ids:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def recall_at(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """Share of the gold documents found in the top k."""
    if not gold:
        raise ValueError("recall needs at least one gold document")
    return len(gold.intersection(ranked[:k])) / len(gold)


def all_recall_at(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """1.0 when every gold document is in the top k (multi-hop sets need all of them), else 0.0."""
    if not gold:
        raise ValueError("all-gold recall needs at least one gold document")
    return 1.0 if gold.issubset(ranked[:k]) else 0.0


def mrr_at(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """Reciprocal rank of the first gold document in the top k, 0.0 if none."""
    for i, d in enumerate(ranked[:k]):
        if d in gold:
            return 1.0 / (i + 1)
    return 0.0


def dcg(gains: Iterable[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """Binary-relevance nDCG@k, normalized by the ideal ranking of all gold documents."""
    if not gold:
        raise ValueError("nDCG needs at least one gold document")
    gains = [1.0 if d in gold else 0.0 for d in ranked[:k]]
    ideal = dcg([1.0] * min(len(gold), k))
    return dcg(gains) / ideal


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 normalization: lower, no punctuation, no articles, single spaces."""
    s = s.lower()
    exclude = set(string.punctuation)
    s = "".join(ch for ch in s if ch not in exclude)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction: str, gold_answers: Sequence[str]) -> float:
    """1.0 if the normalized prediction equals any normalized gold answer."""
    return max((1.0 if normalize_answer(prediction) == normalize_answer(g) else 0.0 for g in gold_answers), default=0.0)


def _f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, gold_answers: Sequence[str]) -> float:
    """Token F1 against the best-matching gold answer (SQuAD's max over ground truths)."""
    return max((_f1(prediction, g) for g in gold_answers), default=0.0)


def contains_answer(text: str, gold_answers: Sequence[str]) -> bool:
    """Whether a normalized gold answer occurs in the normalized text on word boundaries."""
    haystack = f" {normalize_answer(text)} "
    return any(n and f" {n} " in haystack for n in (normalize_answer(g) for g in gold_answers))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
