"""Index stores: one protocol, one file per backend.

A store keeps documents, their chunks (as offsets into the document text) and one vector
per chunk, and answers nearest-neighbour queries. Writes are all-or-nothing per call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from qa.types import Chunk, Document, Metadata, Passage

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """What an index was built with. Opening it with another model is an error."""

    model: str
    dim: int
    format_version: int = FORMAT_VERSION
    normalized: bool = True
    metric: str = "inner_product"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    title: str
    metadata: Metadata
    source: str | None
    content_hash: str
    chunker: str
    n_chunks: int
    chars: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Write:
    """One document with its chunks and their vectors, written together or not at all."""

    doc: Document
    chunks: list[Chunk]
    vectors: np.ndarray
    chunker: str


class Store(Protocol):
    manifest: Manifest

    def get(self, doc_id: str) -> DocumentInfo | None: ...

    def get_text(self, doc_id: str) -> str | None: ...

    def write(self, writes: list[Write]) -> None:
        """Insert or replace documents with their chunks and vectors, atomically."""
        ...

    def delete(self, doc_id: str) -> bool:
        """Remove a document and all its chunks; False when it did not exist."""
        ...

    def list_documents(self, offset: int = 0, limit: int = 50) -> tuple[list[DocumentInfo], int]: ...

    def search(self, vector: np.ndarray, k: int, filters: Metadata | None = None) -> list[Passage]: ...

    def stats(self) -> dict[str, Any]: ...

    def save(self) -> None:
        """Persist derived structures (e.g. the FAISS file); data is durable at ``write``."""
        ...

    def close(self) -> None: ...
