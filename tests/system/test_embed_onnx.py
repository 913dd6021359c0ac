"""The ONNX backends: exported once from the bundled model, cached, and close to torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embed import Embedder, embedding_key
from qa.embed.onnx import FP32_FILE, INT8_FILE, OnnxEmbedder
from qa.service import QAService
from qa.types import Document

from ..conftest import ROOT, SHARED

pytestmark = pytest.mark.slow

SCIFACT = SHARED / "datasets" / "scifact" / "corpus.jsonl"


def passages(n: int = 12) -> list[str]:
    out = []
    with open(SCIFACT, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            out.append(f"{d['title']}\n{d['text']}")
            if len(out) == n:
                break
    # Short texts too: queries are short, and a batch mixes lengths (padding must not matter).
    return [*out, "Who met in Paris?", "vitamin D", "héllo wörld, ünïcode and 日本語"]


@pytest.fixture(scope="module")
def cache_dir(onnx_cache: Path) -> Path:
    return onnx_cache  # the session's export (the default backend already made it)


@pytest.fixture(scope="module")
def onnx_fp32(cache_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def onnx_int8(cache_dir: Path, onnx_fp32: OnnxEmbedder) -> OnnxEmbedder:
    return OnnxEmbedder(cache_dir=cache_dir, quantized=True)


def test_onnx_matches_torch(torch_embedder: Embedder, onnx_fp32: OnnxEmbedder) -> None:
    texts = passages()
    vecs = onnx_fp32.embed(texts)
    cos = np.sum(torch_embedder.embed(texts) * vecs, axis=1)
    assert cos.min() > 0.9999, cos
    # Batches sorted by length pad less; a text's vector is the same alone or in any batch.
    alone = np.vstack([onnx_fp32.embed([t]) for t in texts[-4:]])
    assert np.allclose(alone, vecs[-4:], atol=1e-5)
    assert onnx_fp32.dim == torch_embedder.dim and onnx_fp32.max_tokens == torch_embedder.max_tokens


def test_onnx_int8_stays_close_to_torch(torch_embedder: Embedder, onnx_int8: OnnxEmbedder) -> None:
    texts = passages()
    vecs = onnx_int8.embed(texts)
    cos = np.sum(torch_embedder.embed(texts) * vecs, axis=1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.98, cos
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # A text's vector does not depend on the other texts embedded with it.
    alone = np.vstack([onnx_int8.embed([t]) for t in texts[-4:]])
    assert np.allclose(alone, vecs[-4:], atol=1e-5)


def test_token_counts_and_cuts_match_the_torch_tokenizer(torch_embedder: Embedder, onnx_fp32: OnnxEmbedder) -> None:
    for text in passages(6):
        assert onnx_fp32.count_tokens(text) == torch_embedder.count_tokens(text)
        for n in (0, 1, 7, 300):
            assert onnx_fp32.truncate(text, n) == torch_embedder.truncate(text, n)


def test_second_load_reuses_the_cached_files_without_torch(cache_dir: Path, onnx_int8: OnnxEmbedder) -> None:
    files = onnx_int8.files
    before = {f: (files / f).stat().st_mtime_ns for f in (FP32_FILE, INT8_FILE)}
    # A fresh process: exporting would need torch, so torch not being imported proves the cache was used.
    code = (
        "import sys; from pathlib import Path; from qa.embed.onnx import OnnxEmbedder;"
        f"e = OnnxEmbedder(cache_dir=Path({str(cache_dir)!r}), quantized=True);"
        "v = e.embed(['Who met in Paris?']); print(v.shape, 'torch' in sys.modules)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(1,", "384)", "False"]
    assert before == {f: (files / f).stat().st_mtime_ns for f in (FP32_FILE, INT8_FILE)}


def test_service_on_onnx_int8_indexes_and_answers(tmp_path: Path, cache_dir: Path, seed_article: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", embed_backend="onnx-int8", onnx_cache_dir=str(cache_dir))
    svc = QAService(settings)
    try:
        svc.add_documents([Document(id="paris", text=seed_article.read_text(encoding="utf-8"))])
        assert svc.embedder.backend == "onnx-int8"  # type: ignore[attr-defined]
        answer = svc.ask("Who met in Paris?")
        assert answer.found and "Dermer" in answer.answer
        # Vectors from another backend are never reused as if they were this one's.
        assert embedding_key(svc.embedder, "x") != embedding_key(OnnxEmbedder(cache_dir=cache_dir), "x")
    finally:
        svc.close()


def test_int8_bulk_runs_in_parallel_with_the_same_vectors(cache_dir: Path) -> None:
    """Bulk int8 embedding runs one-thread sessions side by side (one per core); every text's
    vector is what one run gives it alone."""
    texts = passages()
    two = OnnxEmbedder(cache_dir=cache_dir, quantized=True, threads=2)
    one = OnnxEmbedder(cache_dir=cache_dir, quantized=True, threads=1)
    assert (two.parallel, one.parallel) == (2, 1)
    assert np.allclose(two.embed(texts), one.embed(texts), atol=1e-5)
    assert two._executor is not None  # the passages (over the small-input size) went through the pool


def test_export_traces_plain_attention(onnx_fp32: OnnxEmbedder) -> None:
    """The graph has no masking operators over the attention scores (what PyTorch's fused
    attention exports to, 13% of an int8 run), one softmax per layer."""
    import onnx

    graph = onnx.load(str(onnx_fp32.files / FP32_FILE), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("IsNaN") == 0
    assert ops.count("Softmax") == 6  # MiniLM-L6: six layers


def test_a_new_export_version_embeds_unchanged_documents_again(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vectors of an older ONNX graph are never kept beside the new graph's: the export version
    is part of the chunker signature and of the embedding cache key."""
    import qa.embed.base

    settings = Settings(index_dir=tmp_path / "index", embed_backend="onnx-int8", onnx_cache_dir=str(cache_dir))
    doc = Document(id="d", title="Vitamin D", text="Vitamin D is made in the skin. " * 5)
    svc = QAService(settings, embedder=OnnxEmbedder(cache_dir=cache_dir, quantized=True))
    try:
        svc.add_documents([doc])
        first = svc.embedded_texts
        key = embedding_key(svc.embedder, "x")
        svc.add_documents([doc])
        assert first > 0 and svc.embedded_texts == first  # unchanged: nothing embedded again
    finally:
        svc.close()
    monkeypatch.setattr(qa.embed.base, "ONNX_GRAPH_VERSION", qa.embed.base.ONNX_GRAPH_VERSION + 1)
    svc = QAService(settings, embedder=OnnxEmbedder(cache_dir=cache_dir, quantized=True))
    try:
        assert embedding_key(svc.embedder, "x") != key
        svc.add_documents([doc])
        assert svc.embedded_texts == first  # re-chunked and embedded again, not taken from the cache
    finally:
        svc.close()
