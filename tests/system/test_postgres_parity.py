"""Parity on a bounded eval subset: the harness scores the postgres store like the embedded one.

The same as `qa eval --dataset ../shared/datasets/scifact --limit 30 --corpus-limit 120 --config
default --config dense --no-answers`, once per store. Dense retrieval is the same computation on
both (HNSW at this size is exact in practice); the lexical sides are two BM25 implementations
(tantivy in the embedded store, a `tsvector` in Postgres; both Snowball English, tokenized apart),
so the hybrid default may move by a query. The full-set parity run is in the README's scaling section.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evals import harness
from qa.config import Settings
from qa.embed import Embedder

from ..conftest import SHARED
from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCIFACT = SHARED / "datasets" / "scifact"


def test_eval_scores_match_between_stores(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    if not (SCIFACT / "queries.jsonl").is_file():
        pytest.fail(f"{SCIFACT} is missing: the parity test reads ../shared/datasets beside the project")
    spec = harness.Spec(SCIFACT, limit=30, corpus_limit=120, configs=("default", "dense"), answers=False, threads=1)
    scores = {}
    for name, base in [("embedded", Settings()), ("postgres", Settings(store=pg_url))]:
        report = harness.evaluate(spec, base, tmp_path / name, cache_dir=tmp_path / f"cache-{name}", embedder=embedder)
        assert report["corpus_docs"] == 120 and report["missing_gold"] == 0
        scores[name] = {c: report["configs"][c]["metrics"] for c in spec.configs}
    emb, pg = scores["embedded"], scores["postgres"]
    for metric in ("ndcg@10", "recall@10"):
        assert pg["dense"][metric] == pytest.approx(emb["dense"][metric], abs=0.01), metric
        # One of 30 queries moving a rank is up to ~0.03; more means the stores disagree.
        assert pg["default"][metric] == pytest.approx(emb["default"][metric], abs=0.035), metric
    assert emb["default"]["ndcg@10"] > 0.5 and pg["default"]["ndcg@10"] > 0.5
