"""Ingestion: validate -> chunk -> embed (through the embedding cache) -> write.

``Ingestor`` indexes documents into one store; ``index_paths`` finds and parses files and feeds
them to it. Unchanged documents (same content hash and chunker signature) do no work; changed
ones replace their old chunks in one store write per group of documents.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.chunk import Chunker, tiktoken_counter
from qa.config import Settings
from qa.embed import PREFIX_TOKENS, Embedder, embedding_key, embedding_text, vector_backend
from qa.errors import InvalidInput, QAError, TooLarge
from qa.parse import iter_files, normalize_text
from qa.parse.files import read_file
from qa.parse.worker import ParseLimits, parse_limited
from qa.shard import Shard
from qa.store import Store, Write
from qa.types import Document, IngestResult

MAX_ID_CHARS = 512
# Documents per write transaction (and per embedding round) during bulk ingestion.
WRITE_GROUP_DOCS = 32


def chunker_signature(settings: Settings, model: str, backend: str) -> str:
    """Everything that shapes chunks and their vectors: a document indexed under another
    signature is re-chunked even if its content is unchanged. The backend shapes vectors too (int8
    ones differ a little, and so do two versions of an ONNX export); torch, the first, adds
    nothing, so indexes made before backends existed stay unchanged."""
    s = settings
    signature = f"v1:{s.encoding}:{s.chunk_tokens}:{s.chunk_overlap}:{model}:{PREFIX_TOKENS}"
    return signature if backend == "torch" else f"{signature}:{vector_backend(backend)}"


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    """The chunker of ``settings``, whose chunks also fit ``embedder``'s window."""
    window_limit = None
    if embedder.max_tokens is not None:
        # Room for the title/heading prefix and the newline after it.
        window_limit = embedder.max_tokens - PREFIX_TOKENS - 1
    return Chunker(
        max_tokens=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        count_tokens=tiktoken_counter(settings.encoding),
        window=embedder.count_tokens if window_limit else None,
        window_limit=window_limit,
    )


def validate(doc: Document, max_bytes: int) -> Document:
    """Check id, size and text; return the document with normalized text, title and id."""
    if not doc.id or not doc.id.strip() or len(doc.id) > MAX_ID_CHARS:
        raise InvalidInput(f"document id {doc.id[:80]!r} must be 1 to {MAX_ID_CHARS} characters, not blank")
    size = len(doc.text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise TooLarge(f"document {doc.id!r} is {size} bytes, over the limit of {max_bytes} (QA_MAX_DOCUMENT_BYTES)")
    text = normalize_text(doc.text)
    if not text.strip():
        raise InvalidInput(f"document {doc.id!r} has no text: nothing to index")
    return replace(doc, text=text, title=normalize_text(doc.title), id=normalize_text(doc.id))


class Ingestor:
    """Indexes documents into ``store``. The embedder and chunker are asked for only when a
    document changed, so re-indexing unchanged documents never loads the model."""

    def __init__(
        self,
        store: Store,
        embedder: Callable[[], Embedder],
        chunker: Callable[[], Chunker],
        signature: str,
        max_document_bytes: int,
    ) -> None:
        self.store = store
        self._embedder, self._chunker = embedder, chunker
        self.signature = signature
        self.max_document_bytes = max_document_bytes
        # Texts the model embedded (the rest came from the embedding cache).
        self.embedded_texts = 0
        # Wall time spent per stage (bench/run.py reports the split).
        self.seconds = {"validate": 0.0, "chunk": 0.0, "embed": 0.0, "index": 0.0}

    def add_documents(
        self, docs: Iterable[Document], progress: Callable[[int], None] | None = None
    ) -> list[IngestResult]:
        """Index documents: unchanged ones do no work, changed ones replace their old chunks."""
        results: list[IngestResult] = []
        for group in _groups(docs, WRITE_GROUP_DOCS):
            t = time.perf_counter()
            valid = [validate(d, self.max_document_bytes) for d in group]
            self.seconds["validate"] += time.perf_counter() - t
            results += self._add_group(valid)
            if progress:
                progress(len(group))
        t = time.perf_counter()
        self.store.save()
        self.seconds["index"] += time.perf_counter() - t
        return results

    def _add_group(self, docs: list[Document]) -> list[IngestResult]:
        results: dict[str, IngestResult] = {}
        todo = []
        started = time.perf_counter()
        # The same id twice in one write would race with itself: the last version wins.
        for doc in {d.id: d for d in docs}.values():
            info = self.store.get(doc.id)
            if info and info.content_hash == doc.content_hash and info.chunker == self.signature:
                results[doc.id] = IngestResult(doc.id, "unchanged", info.n_chunks)
                continue
            chunks = self._chunker().chunk(doc)
            todo.append((doc, chunks, info is not None))
        chunked = time.perf_counter()
        self.seconds["chunk"] += chunked - started
        if not todo:
            return [results[d.id] for d in docs]
        embedder = self._embedder()
        texts = [embedding_text(d.title, c.heading, c.text, embedder) for d, cs, _ in todo for c in cs]
        hashes = [embedding_key(embedder, t) for t in texts]
        vectors = self._embed_cached(embedder, texts, hashes)
        embedded = time.perf_counter()
        self.seconds["embed"] += embedded - chunked
        writes, offset = [], 0
        for doc, chunks, existed in todo:
            span = slice(offset, offset + len(chunks))
            writes.append(Write(doc, chunks, vectors[span], self.signature, hashes[span]))
            offset += len(chunks)
            results[doc.id] = IngestResult(doc.id, "updated" if existed else "added", len(chunks))
        self.store.write(writes)
        self.seconds["index"] += time.perf_counter() - embedded
        return [results[d.id] for d in docs]

    def _embed_cached(self, embedder: Embedder, texts: list[str], hashes: list[str]) -> np.ndarray:
        """Vectors of ``texts``: the embedding cache (vectors already stored under the same
        hash of embedder and text) first, the model only for texts not seen before, once each."""
        known = self.store.vectors_by_hash(hashes)
        todo = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
        if todo:
            fresh = embedder.embed(list(todo.values()))
            known.update(zip(todo, fresh, strict=True))
        self.embedded_texts += len(todo)
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([known[h] for h in hashes]).astype(np.float32, copy=False)


def _groups(items: Iterable[Document], n: int) -> Iterator[list[Document]]:
    group: list[Document] = []
    for item in items:
        group.append(item)
        if len(group) == n:
            yield group
            group = []
    if group:
        yield group


@dataclass
class IndexSummary:
    """What indexing a set of files did."""

    files: int
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks_written: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    shard: Shard | None = None
    other_shards: int = 0  # documents left to other shards

    def record(self, result: IngestResult) -> None:
        """Count one document's result."""
        if result.status == "added":
            self.added += 1
        elif result.status == "updated":
            self.updated += 1
        else:
            self.unchanged += 1
        if result.status != "unchanged":
            self.chunks_written += result.chunks

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "chunks_written": self.chunks_written,
            "failed": self.failed,
        }
        if self.shard is not None:
            data |= {"shard": str(self.shard), "other_shards": self.other_shards}
        return data


# Called after each file with the file, the error that skipped it (or None) and the summary so far.
FileProgress = Callable[[Path, QAError | None, IndexSummary], None]


def index_files(
    add: Callable[[list[Document]], list[IngestResult]],
    files: Sequence[tuple[Path, Path]],
    max_bytes: int,
    shard: Shard | None = None,
    on_file: FileProgress | None = None,
    follow_symlinks: bool = False,
    limits: ParseLimits | None = None,
) -> IndexSummary:
    """Parse each ``(path, root)`` of ``files`` and index its documents with ``add``. A file that
    cannot be parsed or indexed is recorded in ``failed`` and the rest go on. Without
    ``follow_symlinks`` a file whose real path (when opened) is outside its root is not read.
    With ``limits`` each file is parsed in a worker process within them (``qa.parse.worker``);
    without, in this thread."""
    limits = limits or ParseLimits(timeout=0)
    summary = IndexSummary(files=len(files), shard=shard)
    for path, root in files:
        error: QAError | None = None
        try:
            doc_id, data = read_file(path, root, max_bytes, follow_symlinks)
            source = os.path.abspath(path)
            docs = parse_limited(data, doc_id, limits, doc_id=doc_id, max_bytes=max_bytes, source=source)
            if shard is not None:
                mine = [d for d in docs if shard.owns(d.id)]
                summary.other_shards += len(docs) - len(mine)
                docs = mine
            results = add(docs) if docs else []
        except QAError as exc:
            error = exc
            summary.failed.append({"path": str(path), "error": str(exc)})
        else:
            for r in results:
                summary.record(r)
        if on_file:
            on_file(path, error, summary)
    return summary


def index_paths(
    add: Callable[[list[Document]], list[IngestResult]],
    paths: Sequence[str | Path],
    max_bytes: int,
    follow_symlinks: bool = False,
    shard: Shard | None = None,
) -> IndexSummary:
    """Index files and directories (recursively; see ``qa.parse.iter_files`` for what is read)."""
    files = iter_files(paths, follow_symlinks=follow_symlinks)
    return index_files(add, files, max_bytes, shard, follow_symlinks=follow_symlinks)
