"""Datasets in the normalized format of ``../shared/datasets/*``, and bounded subsets of them.

``corpus.jsonl``: one document a line (``doc_id``, ``title``, ``text``).
``queries.jsonl``: one query a line (``qid``, ``question``, ``answers``, ``gold_doc_ids``).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.parse import normalize_text
from qa.types import Document


@dataclass(frozen=True)
class Query:
    qid: str
    question: str
    answers: tuple[str, ...]
    gold: frozenset[str]
    language: str = "en"  # the question's and its answers' language (XQuAD's ``language``), for answer metrics


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    corpus: list[Document]
    queries: list[Query]
    total_docs: int
    total_queries: int
    missing_gold: int  # gold ids of the chosen queries that are not in the chosen corpus
    selected_queries: int = 0  # queries left by the qids/articles selection, before skip and limit


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a dataset directory holds corpus.jsonl and queries.jsonl")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def dataset_language(dataset: Path) -> str:
    """The language a dataset's questions (and, for XQuAD, its paragraphs) are written in: its first
    query's ``language`` (XQuAD's), English without one (SQuAD, HotpotQA, SciFact)."""
    with (dataset / "queries.jsonl").open(encoding="utf-8") as f:
        first = f.readline().strip()
    return str((json.loads(first) if first else {}).get("language") or "en")


def article(doc_id: str) -> str:
    """The article a paragraph id belongs to: ``Super_Bowl_50#3`` -> ``Super_Bowl_50`` (SQuAD's
    ids; an id without ``#`` is its own article)."""
    return doc_id.rsplit("#", 1)[0]


def read_list(spec: str) -> list[str]:
    """A list of names from ``FILE`` or ``FILE:KEY``: one name a line, a JSON array, or (with
    ``KEY``) the array at ``KEY`` of a JSON object (e.g. ``evals/answer_split.json:train_articles``).

    Raises:
        ValueError: the file is missing, or holds no list of strings there.
    """
    path_text, _, key = spec.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"{path} is not a file; give FILE (one name a line, or a JSON array) or FILE:KEY")
    text = path.read_text(encoding="utf-8")
    value: Any
    if key or text.lstrip().startswith(("[", "{")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc})") from None
        if key:
            if not isinstance(value, dict) or key not in value:
                known = ", ".join(value) if isinstance(value, dict) else "none: not a JSON object"
                raise ValueError(f"{path} has no key {key!r}; keys: {known}")
            value = value[key]
    else:
        value = [line.strip() for line in text.splitlines() if line.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{spec} is not a list of strings")
    return value


def load(
    path: Path,
    limit: int | None = None,
    corpus_limit: int | None = None,
    skip: int = 0,
    qids: Collection[str] | None = None,
    articles: Collection[str] | None = None,
    questions_from: Path | None = None,
) -> Dataset:
    """Read a dataset: the chosen queries and a corpus that holds all their gold documents.

    Queries are chosen in file order: those in ``qids`` (if given) whose gold documents all belong
    to ``articles`` (if given), then the first ``skip`` of them dropped, then the next ``limit`` kept.

    Args:
        limit: queries to keep (None = all).
        skip: queries to drop before ``limit`` counts (questions a reported eval does not use,
            e.g. to calibrate a threshold on).
        qids: keep only these query ids.
        articles: keep only queries whose gold documents all belong to these articles (``article``).
        questions_from: a dataset of the same questions in another language (XQuAD's): each query
            is asked in the words of its namesake (same qid) there, its answers and gold documents
            staying this dataset's, so a question in English is asked of German paragraphs
            (MLQA's cross-lingual setting). A qid missing there is an error.
        corpus_limit: documents to keep (None = the whole corpus). The gold documents of the kept
            queries always stay; the rest of the budget is filled with other documents in corpus
            order, which act as distractors. Never fewer documents than there are gold ones.
    """
    all_rows = rows = _read_jsonl(path / "queries.jsonl")
    docs = _read_jsonl(path / "corpus.jsonl")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if corpus_limit is not None and corpus_limit < 1:
        raise ValueError(f"corpus limit must be at least 1, got {corpus_limit}")
    if skip < 0:
        raise ValueError(f"skip must be at least 0, got {skip}")
    if qids is not None:
        wanted = set(qids)
        rows = [r for r in rows if str(r["qid"]) in wanted]
    if articles is not None:
        allowed = set(articles)
        rows = [r for r in rows if r.get("gold_doc_ids") and all(article(str(g)) in allowed for g in r["gold_doc_ids"])]
    chosen = rows[skip:][:limit]
    if questions_from is not None:
        asked = {str(r["qid"]): str(r["question"]) for r in _read_jsonl(questions_from / "queries.jsonl")}
        missing = [str(r["qid"]) for r in chosen if str(r["qid"]) not in asked]
        if missing:
            raise ValueError(
                f"{len(missing)} of the chosen questions are not in {questions_from / 'queries.jsonl'} "
                f"(the first: {missing[0]}): its questions must have the same ids"
            )
        chosen = [{**r, "question": asked[str(r["qid"])]} for r in chosen]
    # The service stores ids through normalize_text; gold ids must compare equal to stored ones.
    queries = [
        Query(
            qid=str(r["qid"]),
            question=r["question"],
            answers=tuple(r.get("answers") or ()),
            gold=frozenset(normalize_text(str(g)) for g in r.get("gold_doc_ids") or ()),
            language=str(r.get("language") or "en"),
        )
        for r in chosen
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
        total_queries=len(all_rows),
        selected_queries=len(rows),
        missing_gold=len(gold - ids),
    )
