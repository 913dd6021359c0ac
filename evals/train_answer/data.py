"""Training groups for the answer model: every train or validation question through qa's own
retrieval and candidate sentences, labelled by the gold answer.

A group is one question's candidate sentences (those ``ExtractiveAnswerer.score`` would weigh),
each with the text pair the model reads, the current feature row, and a label:
1 = in a gold paragraph and holds a gold answer; 0 = holds no gold answer; -1 = holds a gold answer
outside the gold paragraph (ambiguous: left out of the loss). Each question also gives a
*gold-removed* group: the same question with its gold paragraph taken out of the passages, so the
model learns what "no sentence here answers" looks like (every label 0 or -1).

The index holds only train and validation paragraphs (never an eval article's or an XQuAD
paragraph), so no eval text is seen even as a negative. Train questions read only train passages.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evals import configs as configs_mod
from evals.data import Dataset, load
from evals.harness import build_index, open_service
from evals.metrics import contains_answer
from evals.train_answer.split import Split
from qa.answer_model import context_before, pair
from qa.config import Settings

REMOVED_EXTRA = 3  # passages retrieved beyond answer_passages, so that the gold ones can be dropped


def subset(full: Dataset, split: Split, sides: set[str]) -> Dataset:
    """The questions and paragraphs of ``full`` on the given sides of the split."""
    corpus = [d for d in full.corpus if split.side(d.id) in sides]
    queries = [q for q in full.queries if q.gold and split.side(next(iter(q.gold))) in sides]
    return Dataset(
        name=f"{full.name}-answer-{'-'.join(sorted(sides))}",
        path=full.path,
        corpus=corpus,
        queries=queries,
        total_docs=full.total_docs,
        total_queries=full.total_queries,
        missing_gold=0,
    )


def groups(squad: Path, split: Split, cache_dir: Path, side: str) -> Iterator[dict[str, Any]]:
    """The groups of every question on ``side`` (``train`` or ``validation``)."""
    full = load(squad)
    ds = subset(full, split, {"train", "validation"})
    svc, _ = open_service(ds, configs_mod.get("default"), Settings(), cache_dir, None)
    build_index(svc, ds, cache_dir / f"{svc.settings.index_name}.build.json", None)
    n = svc.settings.answer_passages
    for q in ds.queries:
        if split.side(next(iter(q.gold))) != side:
            continue
        vector = svc.retriever.embed_query(q.question)
        question = pair(q.question, "", "", "")[0]
        ranked = svc.retriever.retrieve(q.question, n + REMOVED_EXTRA, vector=vector)
        if side == "train":  # a train question never reads a validation paragraph
            ranked = [p for p in ranked if split.side(p.doc_id) == "train"]
        for removed in (False, True):
            passages = [p for p in ranked if not (removed and p.doc_id in q.gold)][:n]
            cands, rows = svc.answerer.score(q.question, passages, vector, svc.passage_vectors(passages))
            items = []
            for c, row in zip(cands, rows, strict=True):
                holds = contains_answer(c.text, q.answers)
                gold = c.passage.doc_id in q.gold
                question, b = pair(q.question, c.text, c.passage.title, context_before(c.passage.text, c.start))
                label = (1 if gold else -1) if holds else 0
                items.append(
                    {
                        "b": b,
                        "y": label,
                        "gold_doc": gold,
                        "f": [round(float(v), 5) for v in row],
                        "doc": c.passage.doc_id,
                    }
                )
            yield {"qid": q.qid, "question": q.question, "a": question, "removed": removed, "items": items}


def prepare(squad: Path, split: Split, cache_dir: Path, out: Path) -> dict[str, Any]:
    """Write ``out/{train,validation}.jsonl.gz``; return counts and time."""
    out.mkdir(parents=True, exist_ok=True)
    stats: dict[str, Any] = {}
    for side in ("train", "validation"):
        t0 = time.perf_counter()
        n = items = pos = 0
        tmp = out / f"{side}.jsonl.gz.tmp"
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            for g in groups(squad, split, cache_dir, side):
                fh.write(json.dumps(g) + "\n")
                n += 1
                items += len(g["items"])
                pos += sum(it["y"] == 1 for it in g["items"])
        tmp.rename(out / f"{side}.jsonl.gz")
        stats[side] = {"groups": n, "sentences": items, "positives": pos, "seconds": round(time.perf_counter() - t0)}
    return stats


def read_groups(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]
