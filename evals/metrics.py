"""Evaluation metrics: pure functions over ranked document ids, gold ids and answer strings.

Retrieval is scored at document level: a retrieved chunk counts for its document, and a
document retrieved twice counts once, at its best rank (``collapse``). Relevance is binary.
nDCG divides by the ideal DCG of *all* gold documents (capped at k), not of the gold documents
that happened to be retrieved; getting that wrong inflates every score (LlamaIndex #17070).

Answer normalization is the official SQuAD v1.1 one (``evaluate-v1.1.py``) for English: lower case,
drop ASCII punctuation and the articles a/an/the, collapse whitespace. Other languages (``lang``)
get MLQA's (``mlqa_evaluation_v1.py``, Lewis et al. 2020, the script XQuAD and MLQA results are
reported with): all Unicode punctuation dropped, that language's articles (German's, Spanish's,
Arabic's "ال"), and Chinese cut into single characters, so that a gold answer counts as contained in
a sentence with no spaces around it (SQuAD's normalization finds a Chinese gold answer in its own
gold paragraph for only 67% of XQuAD-zh's questions, an Arabic one for 82%).
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
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


_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    # MLQA's own rule, as written: every "ال" goes, the definite article prefixed to a word.
    "ar": re.compile(r"\sال^|ال"),
}
_ASCII_PUNCT = frozenset(string.punctuation)


def _is_punct(ch: str) -> bool:
    """MLQA's punctuation: every Unicode P* character, and ASCII's (which holds symbols such as $ + <)."""
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


_HAN = re.compile(r"[\u4e00-\u9fa5]")
# Languages cut into single characters (MLQA's "mixed segmentation": each Han character a token).
CHARACTER_LANGS = frozenset({"zh"})


def _mixed_segmentation(text: str) -> list[str]:
    out: list[str] = []
    run = ""
    for ch in text:
        if _HAN.match(ch) or _is_punct(ch):
            out.extend(run.split())
            run = ""
            out.append(ch)
        else:
            run += ch
    out.extend(run.split())
    return out


def normalize_answer(s: str, lang: str = "en") -> str:
    """SQuAD v1.1 normalization for English: lower, no punctuation, no articles, single spaces.
    Any other ``lang``: MLQA's (the module docstring), tokens joined by single spaces."""
    if lang == "en":
        s = s.lower()
        exclude = set(string.punctuation)
        s = "".join(ch for ch in s if ch not in exclude)
        s = re.sub(r"\b(a|an|the)\b", " ", s)
        return " ".join(s.split())
    s = "".join(ch for ch in s.lower() if not _is_punct(ch))
    if lang in _ARTICLES:
        s = _ARTICLES[lang].sub(" ", s)
    tokens = _mixed_segmentation(s) if lang in CHARACTER_LANGS else s.split()
    return " ".join(t for t in tokens if t.strip())


def exact_match(prediction: str, gold_answers: Sequence[str], lang: str = "en") -> float:
    """1.0 if the normalized prediction equals any normalized gold answer."""
    return max(
        (1.0 if normalize_answer(prediction, lang) == normalize_answer(g, lang) else 0.0 for g in gold_answers),
        default=0.0,
    )


def _f1(prediction: str, gold: str, lang: str) -> float:
    pred_tokens = normalize_answer(prediction, lang).split()
    gold_tokens = normalize_answer(gold, lang).split()
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, gold_answers: Sequence[str], lang: str = "en") -> float:
    """Token F1 against the best-matching gold answer (SQuAD's max over ground truths)."""
    return max((_f1(prediction, g, lang) for g in gold_answers), default=0.0)


def contains_answer(text: str, gold_answers: Sequence[str], lang: str = "en") -> bool:
    """Whether a normalized gold answer occurs in the normalized text on token boundaries (for
    Chinese every character is a token: ``normalize_answer``)."""
    haystack = f" {normalize_answer(text, lang)} "
    return any(n and f" {n} " in haystack for n in (normalize_answer(g, lang) for g in gold_answers))


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


# -- abstention ("not found") ---------------------------------------------------------------
#
# An answer is "found" when its score reaches the answerer's threshold (QA_MIN_ANSWER_SCORE),
# so every threshold's outcome can be read off the recorded scores without asking again.
# Positives are the answerable questions, asked against the whole corpus; negatives the same
# questions asked with their gold documents removed, where the right answer is "not found".


def answered_share(scores: Sequence[float], threshold: float) -> float:
    """Share of answers whose score reaches ``threshold`` (answered, not "not found")."""
    return mean([1.0 if s >= threshold else 0.0 for s in scores])


def found_classifier(answerable: Sequence[bool], removed: Sequence[bool]) -> dict[str, float | None]:
    """Precision, recall and F1 of "found" as a classifier: a found answer to an answerable
    question is a true positive, a found answer with the gold documents removed a false positive.

    Precision depends on the mix of the two sides; each question is asked on both, so it is 1:1.
    """
    tp, fp = sum(answerable), sum(removed)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / len(answerable) if answerable else None
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "abstention": 1 - fp / len(removed) if removed else None,
    }


def threshold_grid(scores: Sequence[float], extra: Iterable[float] = ()) -> list[float]:
    """Thresholds for a sweep table: 0.05 to 0.95 in steps of 0.05 when every score lies in 0..1,
    else the 5th to 95th percentiles of the scores; plus ``extra`` (e.g. the current threshold)."""
    if not scores:
        return sorted(set(extra))
    if 0.0 <= min(scores) and max(scores) <= 1.0:
        grid = [round(0.05 * i, 2) for i in range(1, 20)]
    else:
        grid = [round(percentile(scores, q), 4) for q in range(5, 100, 5)]
    return sorted(set(grid) | set(extra))


def sweep(
    answerable: Sequence[float],
    removed: Sequence[float],
    offtopic: Sequence[float],
    thresholds: Iterable[float],
) -> list[dict[str, float | None]]:
    """For each threshold: share answered of the answerable questions, share "not found" of the
    gold-removed and of the off-topic ones, and precision/F1 of "found" over the first two."""
    rows = []
    for t in thresholds:
        c = found_classifier([s >= t for s in answerable], [s >= t for s in removed])
        rows.append(
            {
                "threshold": t,
                "answered": answered_share(answerable, t) if answerable else None,
                "not_found": 1 - answered_share(removed, t) if removed else None,
                "offtopic_not_found": 1 - answered_share(offtopic, t) if offtopic else None,
                "precision": c["precision"],
                "f1": c["f1"],
            }
        )
    return rows


def calibrate(
    answerable: Sequence[float], removed: Sequence[float], min_answered: float = 0.95, decimals: int = 4
) -> dict[str, float] | None:
    """The threshold that says "not found" most often on ``removed`` while still answering at
    least ``min_answered`` of ``answerable``: the highest such threshold, rounded down to
    ``decimals`` (a threshold set to the printed value keeps the guarantee). None without scores.

    The share "not found" only grows with the threshold, so the highest threshold that keeps
    ``min_answered`` is the best one.
    """
    if not answerable or not removed:
        return None
    if not 0.0 < min_answered <= 1.0:
        raise ValueError(f"min_answered must be in (0, 1], got {min_answered}")
    ranked = sorted(answerable, reverse=True)
    need = math.ceil(min_answered * len(ranked) - 1e-9)
    scale = 10**decimals
    # One step above the need-th highest score answers too few; step down to the first that answers enough.
    units = math.floor(ranked[need - 1] * scale) + 1
    while answered_share(answerable, round(units / scale, decimals)) < min_answered:
        units -= 1
    t = round(units / scale, decimals)
    return {
        "threshold": t,
        "min_answered": min_answered,
        "answered": answered_share(answerable, t),
        "not_found": 1 - answered_share(removed, t),
    }


def threshold_for_abstention(
    answerable: Sequence[float], removed: Sequence[float], min_not_found: float = 0.8, decimals: int = 4
) -> dict[str, float] | None:
    """The lowest threshold (rounded up to ``decimals``) that says "not found" for at least
    ``min_not_found`` of ``removed``, and the share of ``answerable`` still answered there."""
    if not answerable or not removed:
        return None
    if not 0.0 < min_not_found <= 1.0:
        raise ValueError(f"min_not_found must be in (0, 1], got {min_not_found}")
    ranked = sorted(removed)
    need = math.ceil(min_not_found * len(ranked) - 1e-9)
    scale = 10**decimals
    # "Not found" is score < threshold: at or below the need-th lowest score too few are not
    # found; step up to the first threshold that says "not found" often enough.
    units = math.floor(ranked[need - 1] * scale) - 1
    while 1 - answered_share(removed, round(units / scale, decimals)) < min_not_found:
        units += 1
    t = round(units / scale, decimals)
    return {
        "threshold": t,
        "min_not_found": min_not_found,
        "answered": answered_share(answerable, t),
        "not_found": 1 - answered_share(removed, t),
    }
