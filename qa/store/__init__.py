"""Index stores: one protocol, one file per backend.

A store keeps documents, their chunks (as offsets into the document text) and one vector
per chunk, and answers nearest-neighbour queries. Writes are all-or-nothing per call.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.errors import IndexMismatch
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


def check_manifest(rows: dict[str, str], where: str, model: str, dim: int) -> Manifest:
    """The manifest stored in ``rows``, if this qa can open it with ``model`` and ``dim``.

    Raises:
        IndexMismatch: another format version, model or dimension.
    """
    version = int(rows.get("format_version", "0"))
    if version != FORMAT_VERSION:
        raise IndexMismatch(
            f"{where} has format version {version}, this qa reads version {FORMAT_VERSION}; "
            "rebuild it into a new QA_INDEX_NAME"
        )
    if rows["model"] != model or int(rows["dim"]) != dim:
        raise IndexMismatch(
            f"{where} was built with model {rows['model']!r} (dim {rows['dim']}), "
            f"not {model!r} (dim {dim}); set QA_MODEL={rows['model']} or use another QA_INDEX_NAME"
        )
    return Manifest(model=model, dim=dim, extra=json.loads(rows.get("extra", "{}")))


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


# The documents columns a DocumentInfo is read from, in both stores, in this order.
INFO_COLUMNS = "id, title, metadata, source, content_hash, chunker, n_chunks, length(text), created_at, updated_at"


def document_info(row: Sequence[Any], metadata: Metadata) -> DocumentInfo:
    """A ``DocumentInfo`` from a row of ``INFO_COLUMNS``, with its metadata already decoded."""
    return DocumentInfo(row[0], row[1], metadata, *row[3:10])


@dataclass(frozen=True)
class Write:
    """One document with its chunks and their vectors, written together or not at all."""

    doc: Document
    chunks: list[Chunk]
    vectors: np.ndarray
    chunker: str
    # Per chunk: hash of (embedder, exact text embedded), the key of the embedding cache; None
    # when unknown (then no later write can reuse these vectors).
    text_hashes: list[str] | None = None


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

    def counts(self) -> dict[str, Any]:
        """Documents, chunks and model: what a health check reports, cheap at any size."""
        ...

    def save(self) -> None:
        """Persist derived structures (e.g. the FAISS file); data is durable at ``write``."""
        ...

    def close(self) -> None: ...


def atomic_write(path: Path, write: Any) -> None:
    """Write via a temp file + fsync + rename, so readers see the old or the new file."""
    # A temp name per process and thread: two writers of one index must not rename each other's file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    write(str(tmp))
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
