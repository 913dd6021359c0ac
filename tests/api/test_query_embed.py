"""Fast queries: the LRU query-embedding cache and micro-batching, with the real model."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.embed import Embedder
from qa.embed.queries import LRUCache, MicroBatcher, QueryEmbedder
from qa.service import QAService
from qa.types import Document

QUESTIONS = [
    "Who met in Paris?",
    "What is BM25?",
    "How hot does the kiln fire?",
    "Which vitamin deficiency causes scurvy?",
    "When did the talks take place?",
    "What does a FAISS index store?",
    "How many chunks does a document make?",
    "Where is the province of Sweida?",
    "What is reciprocal rank fusion?",
    "Is coffee bad for the heart?",
    "Why do citations need offsets?",
    "What is a sourdough starter?",
    "Which gene is linked to cystic fibrosis?",
    "How are embeddings normalized?",
    "Who is the Syrian foreign minister?",
    "What is the capital of France?",
]


class CountingEmbedder:
    """The real embedder, recording each model call's texts."""

    def __init__(self, inner: Embedder, fail_on: str | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self.calls: list[list[str]] = []
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError(f"cannot embed {self.fail_on!r}")
        return self.inner.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def truncate(self, text: str, max_tokens: int) -> str:
        return self.inner.truncate(text, max_tokens)


def run_concurrently(fn: Callable[[str], np.ndarray], texts: list[str]) -> dict[str, np.ndarray]:
    """Call ``fn`` on every text from its own thread, all released at once."""
    barrier = threading.Barrier(len(texts))
    out: dict[str, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(text: str) -> None:
        barrier.wait(timeout=30)
        try:
            out[text] = fn(text)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a caller never got its vector"
    if errors:
        raise errors[0]
    return out


def test_repeated_question_embeds_once_and_lru_evicts_oldest(embedder: Embedder) -> None:
    counting = CountingEmbedder(embedder)
    q = QueryEmbedder(counting, cache_size=2)
    first = q.embed(["Who met in Paris?"])
    first[0, 0] = 42.0  # a caller changing its copy must not change the cache
    again = q.embed(["Who met in Paris?"])
    assert len(counting.calls) == 1
    assert np.allclose(again, embedder.embed(["Who met in Paris?"]), atol=1e-6)
    q.embed(["What is BM25?"])
    q.embed(["How hot does the kiln fire?"])  # evicts "Who met in Paris?" (least recently used)
    q.embed(["What is BM25?"])
    assert len(counting.calls) == 3
    q.embed(["Who met in Paris?"])
    assert len(counting.calls) == 4
    assert q.cache.hits == 2 and len(q.cache) == 2
    # Many texts at once (ingestion, the answerer) go straight to the model.
    many = q.embed(QUESTIONS[:3])
    assert many.shape == (3, embedder.dim) and counting.calls[-1] == QUESTIONS[:3]


def test_cache_size_zero_turns_the_cache_off() -> None:
    cache = LRUCache(0)
    cache.put("a", np.ones(3, dtype=np.float32))
    assert cache.get("a") is None and len(cache) == 0


def test_concurrent_questions_share_model_calls_and_get_their_own_vectors(embedder: Embedder) -> None:
    counting = CountingEmbedder(embedder)
    batcher = MicroBatcher(counting.embed, max_batch=32, max_wait=0.005)
    got = run_concurrently(batcher.embed_one, QUESTIONS)
    want = embedder.embed(QUESTIONS)
    for i, text in enumerate(QUESTIONS):
        assert float(got[text] @ want[i]) > 0.9999, f"{text!r} got another question's vector"
    assert sum(len(c) for c in counting.calls) == len(QUESTIONS)
    assert len(counting.calls) < len(QUESTIONS), f"no batching: {batcher.batches}"
    assert max(batcher.batches) > 1


def test_batches_are_bounded(embedder: Embedder) -> None:
    counting = CountingEmbedder(embedder)
    batcher = MicroBatcher(counting.embed, max_batch=3, max_wait=0.005, max_pending=4)
    got = run_concurrently(batcher.embed_one, QUESTIONS)
    assert set(got) == set(QUESTIONS)
    assert max(len(c) for c in counting.calls) <= 3


def test_a_failing_batch_fails_its_callers_and_the_next_batch_works(embedder: Embedder) -> None:
    counting = CountingEmbedder(embedder, fail_on="boom")
    batcher = MicroBatcher(counting.embed, max_batch=32, max_wait=0.005)
    with pytest.raises(RuntimeError, match="boom"):
        batcher.embed_one("boom")
    got = run_concurrently(batcher.embed_one, QUESTIONS[:4])
    assert len(got) == 4


def test_service_queries_use_the_cache(tmp_path: Path, embedder: Embedder, seed_article: Path) -> None:
    from qa.config import Settings

    counting = CountingEmbedder(embedder)
    svc = QAService(Settings(index_dir=tmp_path / "index", query_cache_size=16), embedder=counting)
    try:
        svc.add_documents([Document(id="paris", text=seed_article.read_text(encoding="utf-8"))])
        n = len(counting.calls)
        a1 = svc.search("Who met in Paris?", k=3)
        a2 = svc.search("Who met in Paris?", k=3)
        assert [p.chunk_id for p in a1] == [p.chunk_id for p in a2]
        assert counting.calls[n:] == [["Who met in Paris?"]], "the second search reuses the question's vector"
        answer = svc.ask("Who met in Paris?")
        assert answer.found and "Dermer" in answer.answer
        assert ["Who met in Paris?"] not in counting.calls[n + 1 :]
        # Concurrent searches through the service are right and share model calls.
        results = run_concurrently(lambda q: np.asarray([p.chunk_id for p in svc.search(q, k=2)]), QUESTIONS)
        assert len(results) == len(QUESTIONS)
        assert isinstance(svc.embedder, QueryEmbedder)
    finally:
        svc.close()


def test_questions_embed_on_one_torch_thread_and_restore_the_count(torch_embedder: Embedder) -> None:
    import torch

    embedder = torch_embedder
    before = torch.get_num_threads()
    seen: list[int] = []
    # The model's forward runs inside encode: record the thread count it runs with.
    model = embedder.model  # type: ignore[attr-defined]
    hook = model[0].register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    try:
        embedder.embed(["Who met in Paris?"])
        embedder.embed(["a long passage " * 200])
    finally:
        hook.remove()
    assert seen == [1, before]
    assert torch.get_num_threads() == before


def test_embedders_that_run_one_text_per_call_skip_micro_batching(embedder: Embedder) -> None:
    """onnx-int8 embeds one text per model run anyway: concurrent questions then each run on their
    own thread (in parallel) rather than queueing for one batch."""
    counting = CountingEmbedder(embedder)
    counting.batching_helps = False  # type: ignore[attr-defined]
    q = QueryEmbedder(counting, cache_size=0)
    got = run_concurrently(lambda text: q.embed([text])[0], QUESTIONS)
    want = embedder.embed(QUESTIONS)
    for i, text in enumerate(QUESTIONS):
        assert float(got[text] @ want[i]) > 0.9999
    assert sorted(map(tuple, counting.calls)) == sorted((t,) for t in QUESTIONS)
    assert q.batcher.batches == []
