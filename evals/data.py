"""Datasets in the normalized format of ``../shared/datasets/*``, and bounded subsets of them.

``corpus.jsonl``: one document a line (``doc_id``, ``title``, ``text``).
``queries.jsonl``: one query a line (``qid``, ``question``, ``answers``, ``gold_doc_ids``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qa.parse import normalize_text
from qa.types import Document


@dataclass(frozen=True)
class Query:
    qid: str
    question: str
    answers: tuple[str, ...]
    gold: frozenset[str]


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    corpus: list[Document]
    queries: list[Query]
    total_docs: int
    total_queries: int
    missing_gold: int  # gold ids of the chosen queries that are not in the chosen corpus


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a dataset directory holds corpus.jsonl and queries.jsonl")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load(path: Path, limit: int | None = None, corpus_limit: int | None = None) -> Dataset:
    """Read a dataset: the first ``limit`` queries and a corpus that holds all their gold documents.

    Args:
        limit: queries to keep, in file order (None = all).
        corpus_limit: documents to keep (None = the whole corpus). The gold documents of the kept
            queries always stay; the rest of the budget is filled with other documents in corpus
            order, which act as distractors. Never fewer documents than there are gold ones.
    """
    rows = _read_jsonl(path / "queries.jsonl")
    docs = _read_jsonl(path / "corpus.jsonl")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if corpus_limit is not None and corpus_limit < 1:
        raise ValueError(f"corpus limit must be at least 1, got {corpus_limit}")
    # The service stores ids through normalize_text; gold ids must compare equal to stored ones.
    queries = [
        Query(
            qid=str(r["qid"]),
            question=r["question"],
            answers=tuple(r.get("answers") or ()),
            gold=frozenset(normalize_text(str(g)) for g in r.get("gold_doc_ids") or ()),
        )
        for r in rows[:limit]
    ]
    gold = set().union(*(q.gold for q in queries)) if queries else set()
    n_gold = sum(normalize_text(str(d["doc_id"])) in gold for d in docs)
    budget = None if corpus_limit is None else corpus_limit - n_gold
    corpus = []
    for d in docs:
        doc_id = normalize_text(str(d["doc_id"]))
        if doc_id not in gold:
            if budget is not None and budget <= 0:
                continue
            if budget is not None:
                budget -= 1
        corpus.append(Document(id=doc_id, title=d.get("title") or "", text=d["text"]))
    ids = {d.id for d in corpus}
    return Dataset(
        name=path.resolve().name,
        path=path,
        corpus=corpus,
        queries=queries,
        total_docs=len(docs),
        total_queries=len(rows),
        missing_gold=len(gold - ids),
    )
