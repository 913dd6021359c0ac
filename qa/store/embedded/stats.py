"""What an embedded index holds, for ``qa stats`` and ``/stats``: counts, sizes and the state of
its FAISS index. Each function reads in the caller's read transaction (``db``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from qa.store.base import Manifest
from qa.store.embedded.faiss_index import kind_of
from qa.store.embedded.lexical import LexicalIndex
from qa.store.embedded.vectors import VectorIndex


def counts(db: sqlite3.Connection, model: str) -> dict[str, Any]:
    docs = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    return {"documents": docs, "chunks": chunks, "model": model}


class CharCount:
    """Characters of all documents: reads every text (2.7 s at 1M chunks), so once per generation."""

    def __init__(self) -> None:
        self._cache: tuple[int, int] | None = None

    def __call__(self, db: sqlite3.Connection, generation: int) -> int:
        cached = self._cache
        if cached is not None and cached[0] == generation:
            return cached[1]
        chars = int(db.execute("SELECT COALESCE(SUM(length(text)), 0) FROM documents").fetchone()[0])
        self._cache = (generation, chars)
        return chars


def stats(
    path: Path,
    db: sqlite3.Connection,
    manifest: Manifest,
    mirror: VectorIndex,
    lexical: LexicalIndex,
    chars: CharCount,
) -> dict[str, Any]:
    found = counts(db, manifest.model)
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file()) + lexical.bytes_on_disk()
    return {
        "store": "embedded",
        "path": str(path),
        "documents": found["documents"],
        "chars": chars(db, mirror.generation),
        "chunks": found["chunks"],
        "vectors": mirror.live_vectors,
        "vector_index": kind_of(mirror.index),
        "tombstones": len(mirror.tombstones),
        "mmap": mirror.mapped,
        "model": manifest.model,
        "dim": manifest.dim,
        "format_version": manifest.format_version,
        "generation": mirror.generation,
        "bytes_on_disk": size,
    }
