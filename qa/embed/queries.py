"""Fast query embeddings: an LRU cache in front of the model, and micro-batching.

``QueryEmbedder`` wraps any embedder. A call with one text (a question) is answered from an LRU
cache of recent texts, or else joins a micro-batch: concurrent questions (API requests on
different threads) are embedded together in one model call, which on a CPU costs little more
than embedding one of them. Calls with many texts (ingestion, the answerer's sentences) go
straight to the model.

Embedders that run one text per model call (``batching_helps`` False: onnx-int8, whose dynamic
quantization would otherwise make a vector depend on its batch) skip micro-batching: their
questions run concurrently, each on one thread.

Micro-batching has no thread of its own. The first caller to find no batch running becomes the
leader: it takes the questions waiting (up to ``max_batch``), embeds them and hands each caller its
vector, while questions arriving in the meantime wait for the next batch, whose leader is one of
them. A leader waits up to ``max_wait`` for more questions only when the previous batch held more
than one (queries are arriving concurrently), so a lone question is never delayed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from qa.embed.base import Embedder


class LRUCache:
    """A thread-safe least-recently-used map of text to vector, at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            vec = self._data.get(key)
            if vec is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return vec.copy()  # callers may change their vector; the cached one stays intact

    def put(self, key: str, vec: np.ndarray) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = vec.copy()
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class _Pending:
    __slots__ = ("text", "vector", "error", "done")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class MicroBatcher:
    """Embeds single texts submitted from many threads in shared model calls.

    Bounded: one model call takes at most ``max_batch`` texts, and at most ``max_pending`` texts
    wait (a caller beyond that waits for room), so memory does not grow with the load.
    """

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray],
        max_batch: int = 32,
        max_wait: float = 0.002,
        max_pending: int | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._embed = embed
        self.max_batch = max_batch
        self.max_wait = max(0.0, max_wait)
        self.max_pending = max_pending or 8 * max_batch
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._busy = False
        self._last_batch = 0
        # Sizes of the model calls made, newest last (a few, for tests and stats).
        self.batches: list[int] = []

    def embed_one(self, text: str) -> np.ndarray:
        item = _Pending(text)
        with self._cond:
            while len(self._queue) >= self.max_pending:
                self._cond.wait()
            self._queue.append(item)
            self._cond.notify_all()
        while True:
            with self._cond:
                while not item.done and self._busy:
                    self._cond.wait()
                if item.done:
                    return self._result(item)
                # No batch is running: lead the next one (ours, or an earlier one if many wait).
                self._busy = True
                if self._last_batch > 1 and self.max_wait > 0:
                    deadline = time.monotonic() + self.max_wait
                    while len(self._queue) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                        self._cond.wait(left)
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                self._cond.notify_all()  # room in the queue
            self._run(batch)

    def _run(self, batch: list[_Pending]) -> None:
        try:
            vectors = self._embed([b.text for b in batch])
            for b, v in zip(batch, vectors, strict=True):
                b.vector = v
        except BaseException as exc:  # every caller of the batch gets the error
            for b in batch:
                b.error = exc
        finally:
            with self._cond:
                for b in batch:
                    b.done = True
                self._busy = False
                self._last_batch = len(batch)
                self.batches = [*self.batches[-63:], len(batch)]
                self._cond.notify_all()

    @staticmethod
    def _result(item: _Pending) -> np.ndarray:
        if item.error is not None:
            raise item.error
        assert item.vector is not None
        return item.vector


class QueryEmbedder:
    """An embedder whose single-text calls are cached (LRU) and micro-batched.

    Everything else (attributes such as ``tokenizer``, and calls with several texts) is the
    wrapped embedder's."""

    def __init__(self, base: Embedder, cache_size: int = 1024, max_batch: int = 32, max_wait: float = 0.002) -> None:
        self.base = base
        self.name = base.name
        self.dim = base.dim
        self.max_tokens = base.max_tokens
        self.cache = LRUCache(cache_size)
        # An asymmetric model (E5) embeds questions its own way; the cache and the batcher hold
        # question vectors, so its passages (``embed``) bypass them.
        self.asymmetric = hasattr(base, "embed_queries")
        self._embed_queries = getattr(base, "embed_queries", base.embed)
        self.batcher = MicroBatcher(self._embed_queries, max_batch=max_batch, max_wait=max_wait)
        self.batching = bool(getattr(base, "batching_helps", True))

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not found here: the wrapped embedder's (e.g. backend, tokenizer).
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.asymmetric:
            return self.base.embed(texts)
        return self.embed_queries(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self._embed_queries(texts)
        text = texts[0]
        vec = self.cache.get(text)
        if vec is None:
            # An embedder that runs one text per model call anyway (onnx-int8) embeds concurrent
            # questions on their own threads, in parallel; batching would only serialize them.
            vec = self.batcher.embed_one(text) if self.batching else self._embed_queries([text])[0]
            self.cache.put(text, vec)
        return vec.reshape(1, -1)

    def count_tokens(self, text: str) -> int:
        return self.base.count_tokens(text)

    def truncate(self, text: str, max_tokens: int) -> str:
        return self.base.truncate(text, max_tokens)
