"""The data split of the answer model: which SQuAD v1.1 dev articles train it, which validate it,
and which it never sees.

SQuAD v1.1 dev is the only shared set with answer spans that no reported eval needs in full:
- the evals report its first 2,000 questions, so the articles those come from are **eval** articles;
- XQuAD's 240 paragraphs are SQuAD dev paragraphs from all 48 articles (see its SOURCE.md), so no
  article-level split can keep XQuAD out entirely. Its paragraphs are **excluded** (never trained on,
  never used as negatives), and an XQuAD answer score of this model is clean only on the eval articles;
- HotpotQA-500 and SciFact (test claims) are reported evals: not used at all.

The remaining articles are split by a hash of their title into **train** and **validation** (early
stopping, the combination with the retrieval features, and the "not found" threshold). A question
belongs to its gold paragraph's article, so no article is on two sides.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPLIT_FILE = Path(__file__).resolve().parent.parent / "answer_split.json"
EVAL_QUESTIONS = 2000  # the evals' `--limit 2000` on squad_v1.1_dev
VALIDATION_ARTICLES = 6


def article(doc_id: str) -> str:
    """``Super_Bowl_50#3`` -> ``Super_Bowl_50``."""
    return doc_id.rsplit("#", 1)[0]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _key(text: str) -> str:
    return " ".join(text.split())


def make_split(squad: Path, xquad_en: Path) -> dict[str, Any]:
    """The split, from the shared dataset files (deterministic: no seed needed)."""
    queries = _jsonl(squad / "queries.jsonl")
    corpus = _jsonl(squad / "corpus.jsonl")
    order: list[str] = []
    for q in queries:
        a = article(q["gold_doc_ids"][0])
        if a not in order:
            order.append(a)
    eval_articles = sorted({article(q["gold_doc_ids"][0]) for q in queries[:EVAL_QUESTIONS]})
    by_text = {_key(d["text"]): d["doc_id"] for d in corpus}
    xquad = _jsonl(xquad_en / "corpus.jsonl")
    excluded = sorted(by_text[_key(d["text"])] for d in xquad if _key(d["text"]) in by_text)
    unmatched = [d["doc_id"] for d in xquad if _key(d["text"]) not in by_text]
    rest = sorted((a for a in order if a not in eval_articles), key=lambda a: hashlib.sha1(a.encode()).hexdigest())
    validation = sorted(rest[:VALIDATION_ARTICLES])
    train = sorted(rest[VALIDATION_ARTICLES:])
    return {
        "about": "Data split of qa's answer model (evals/train_answer/split.py); regenerate with "
        "`python -m evals.train_answer split`.",
        "dataset": "squad_v1.1_dev",
        "licence": "CC BY-SA 4.0 (SQuAD v1.1, Rajpurkar et al. 2016)",
        "sha256": {
            "squad_v1.1_dev/queries.jsonl": _sha256(squad / "queries.jsonl"),
            "squad_v1.1_dev/corpus.jsonl": _sha256(squad / "corpus.jsonl"),
            "xquad/en/corpus.jsonl": _sha256(xquad_en / "corpus.jsonl"),
        },
        "eval_articles": eval_articles,
        "validation_articles": validation,
        "train_articles": train,
        "excluded_paragraphs": excluded,
        "excluded_reason": "XQuAD's English paragraphs (all 48 articles); never trained on or used as negatives",
        "xquad_unmatched": unmatched,
        "not_used": ["hotpotqa_500", "scifact", "xquad"],
    }


@dataclass(frozen=True)
class Split:
    eval_articles: frozenset[str]
    validation_articles: frozenset[str]
    train_articles: frozenset[str]
    excluded_paragraphs: frozenset[str]

    def side(self, doc_id: str) -> str:
        """``train``, ``validation``, ``eval`` or ``excluded`` for a SQuAD dev paragraph id."""
        if doc_id in self.excluded_paragraphs:
            return "excluded"
        a = article(doc_id)
        if a in self.train_articles:
            return "train"
        if a in self.validation_articles:
            return "validation"
        return "eval"  # the eval articles, and anything unknown: never trained on


def xquad_sides(xquad: Path, split: Split) -> dict[str, str]:
    """The side of every XQuAD paragraph id (the same ids in every language): its article's, read
    from the English corpus's titles (an XQuAD title is its SQuAD article's name). A paragraph of a
    train article may train the multilingual model in the languages it answers (``prepare
    --xquad-langs``); then only the XQuAD questions of the validation and eval articles measure it
    (``held_out_qids``)."""
    out = {}
    for d in _jsonl(xquad / "en" / "corpus.jsonl"):
        title = str(d["title"])
        side = (
            "train" if title in split.train_articles else "validation" if title in split.validation_articles else "eval"
        )
        out[str(d["doc_id"])] = side
    return out


def held_out_qids(xquad: Path, split: Split) -> list[str]:
    """XQuAD's question ids (the same in every language) whose gold paragraphs are all outside the
    train articles: what a model trained with ``--xquad-langs`` has never read, in any language."""
    sides = xquad_sides(xquad, split)
    return [
        str(q["qid"])
        for q in _jsonl(xquad / "en" / "queries.jsonl")
        if all(sides[str(g)] != "train" for g in q["gold_doc_ids"])
    ]


def load_split(path: Path = SPLIT_FILE) -> Split:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Split(
        frozenset(raw["eval_articles"]),
        frozenset(raw["validation_articles"]),
        frozenset(raw["train_articles"]),
        frozenset(raw["excluded_paragraphs"]),
    )


def write_split(squad: Path, xquad_en: Path, path: Path = SPLIT_FILE) -> dict[str, Any]:
    split = make_split(squad, xquad_en)
    path.write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
    return split
