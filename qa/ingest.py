"""Ingestion: validate -> chunk -> embed (through the embedding cache) -> write.

``Ingestor`` indexes documents into one store; ``index_files`` parses files and feeds them to it
(``qa.sync`` mirrors folders, skipping unchanged files unread). Unchanged documents (same content
hash, chunker signature, metadata, source and path) do no work; changed
ones replace their old chunks. One ``add_documents`` call (one API request, one file) is
all-or-nothing: every document is validated before anything is embedded, and everything the
call changes is written in one store transaction, after all of it is embedded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.access import with_checked_access
from qa.chunk import Chunker, tiktoken_counter
from qa.config import Settings
from qa.embed import PREFIX_TOKENS, Embedder, embedding_key, embedding_text, vector_backend
from qa.errors import InvalidInput, NoText, QAError, TooLarge
from qa.limits import DEFAULT_LIMITS, Limits, check_id, check_metadata, check_title
from qa.parse import iter_files, normalize_text
from qa.parse.content import normalize_value
from qa.parse.files import Skipped, read_file
from qa.parse.worker import ParseLimits, parse_limited
from qa.shard import Shard
from qa.sources import document_id
from qa.store import FileRecord, Store, Write
from qa.types import Document, IngestResult, Metadata

# Documents per chunking and embedding round (and progress step). The store write stays one
# transaction for the whole call: a round only bounds how much the model embeds at once.
EMBED_GROUP_DOCS = 32
# Texts per call to the model within a round, so progress moves within one long document (a
# 300-page PDF is one document of about 1,500 chunks: minutes of embedding). Each text's vector is
# the same whatever the slice (int8 runs one text at a time); a call costs little over its texts.
EMBED_SLICE = 64

# Chunks of one ``add_documents`` call, as (embedded, total) so far: ``total`` grows as each
# round's changed documents are chunked, ``embedded`` as their texts are embedded (or found in the
# embedding cache). Never called for a call whose documents are all unchanged.
ChunkProgress = Callable[[int, int], None]


def chunker_signature(settings: Settings, model: str, backend: str) -> str:
    """Everything that shapes chunks and their vectors: a document indexed under another
    signature is re-chunked even if its content is unchanged. The backend shapes vectors too (int8
    ones differ a little, and so do two versions of an ONNX export); torch, the first, adds
    nothing, so indexes made before backends existed stay unchanged."""
    s = settings
    counted = s.encoding if chunk_counter(s) == "tiktoken" else "model"
    signature = f"v1:{counted}:{s.chunk_tokens}:{s.chunk_overlap}:{model}:{PREFIX_TOKENS}"
    return signature if backend == "torch" else f"{signature}:{vector_backend(backend)}"


def chunk_counter(settings: Settings) -> str:
    """``QA_CHUNK_COUNTER`` resolved: ``tiktoken`` or ``model`` (``auto``: tiktoken for English only)."""
    if settings.chunk_counter != "auto":
        return settings.chunk_counter
    return "tiktoken" if settings.language == "en" else "model"


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    """The chunker of ``settings``, whose chunks also fit ``embedder``'s window."""
    window_limit = None
    if embedder.max_tokens is not None:
        # Room for the title/heading prefix and the newline after it.
        window_limit = embedder.max_tokens - PREFIX_TOKENS - 1
    return Chunker(
        max_tokens=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        count_tokens=(
            embedder.count_tokens if chunk_counter(settings) == "model" else tiktoken_counter(settings.encoding)
        ),
        window=embedder.count_tokens if window_limit else None,
        window_limit=window_limit,
        max_heading_chars=settings.max_heading_chars,
    )


def validate(doc: Document, max_bytes: int, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Check id, size, text, title and metadata; return the document with normalized text, title,
    id and metadata. Values are normalized first and checked after, so an id that is only NUL
    characters or lone surrogates is refused as blank rather than stored as ``""``.

    Raises:
        InvalidInput: a blank or too long id, no text, metadata that is not plain JSON.
        TooLarge: text, title or metadata over its limit (the message names the setting).
    """
    doc_id = normalize_text(doc.id)
    check_id(doc_id, limits)
    size = len(doc.text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise TooLarge(f"document {doc_id!r} is {size} bytes, over the limit of {max_bytes} (QA_MAX_DOCUMENT_BYTES)")
    title = normalize_text(doc.title)
    check_title(title, doc_id, limits)
    # Checked before it is cleaned up: the check walks any depth, the clean-up recurses.
    check_metadata(doc.metadata, limits, f"document {doc_id[:80]!r}: ")
    # The access list (``qa.access``) is checked and normalized here, for every way in.
    metadata = with_checked_access(normalize_value(doc.metadata), f"document {doc_id[:80]!r}: ")
    text = normalize_text(doc.text)
    if not text.strip():
        raise NoText(f"document {doc_id!r} has no text: nothing to index")
    check_page_starts(doc.page_starts, len(text), doc_id)
    return replace(doc, text=text, title=title, id=doc_id, metadata=metadata)


def check_page_starts(starts: tuple[int, ...], length: int, doc_id: str) -> None:
    """Page offsets must start at 0, never decrease and stay within the text, or a citation's
    page would be wrong.

    Raises:
        InvalidInput: they do not.
    """
    if not starts:
        return
    ok = starts[0] == 0 and all(0 <= a <= b <= length for a, b in zip(starts, starts[1:], strict=False))
    if not ok or starts[-1] > length:
        raise InvalidInput(
            f"document {doc_id!r}: page offsets {list(starts[:5])}... must start at 0, never decrease "
            f"and stay within its {length} characters"
        )


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
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.store = store
        self._embedder, self._chunker = embedder, chunker
        self.signature = signature
        self.max_document_bytes = max_document_bytes
        self.limits = limits
        # Texts the model embedded (the rest came from the embedding cache).
        self.embedded_texts = 0
        # Wall time spent per stage (bench/run.py reports the split).
        self.seconds = {"validate": 0.0, "chunk": 0.0, "embed": 0.0, "index": 0.0}
        # Cores the model may use for it (embedders with ``embed_with``, onnx-int8); None: its own
        # default, every core. A server sets QA_INGEST_THREADS (``QAService.serving``).
        self.threads: int | None = None

    def add_documents(
        self,
        docs: Iterable[Document],
        progress: Callable[[int], None] | None = None,
        files: Sequence[FileRecord] = (),
        on_chunks: ChunkProgress | None = None,
    ) -> list[IngestResult]:
        """Index documents, all or nothing: unchanged ones do no work, changed ones replace their
        old chunks. Every document is validated first (the first invalid one raises and nothing is
        written); then the changed ones are chunked and embedded in rounds of ``EMBED_GROUP_DOCS``
        (``progress`` gets each round's size, ``on_chunks`` the chunks embedded of those chunked
        so far) and written in one store transaction, with the records of ``files`` they were read
        from (``qa.sync``).

        Memory grows with the call (its texts, and 4 bytes per dimension per new chunk): callers
        with a folder of files call once per file (``index_files``)."""
        t = time.perf_counter()
        valid = [validate(d, self.max_document_bytes, self.limits) for d in docs]
        self.seconds["validate"] += time.perf_counter() - t
        results: dict[str, IngestResult] = {}
        writes: list[Write] = []
        # Vectors embedded by this call, by text hash: not in the store until the write below.
        fresh: dict[str, np.ndarray] = {}
        # The same id twice in one call would race with itself: the last version wins.
        latest = list({d.id: d for d in valid}.values())
        chunks = _ChunkCount(on_chunks)
        for group in _groups(latest, EMBED_GROUP_DOCS):
            group_writes, group_results = self._prepare(group, fresh, chunks)
            writes += group_writes
            results.update(group_results)
            if progress:
                progress(len(group))
        t = time.perf_counter()
        self.store.write(writes, files)
        if writes:
            self.store.save()
        self.seconds["index"] += time.perf_counter() - t
        return [results[d.id] for d in valid]

    def _prepare(
        self, docs: list[Document], fresh: dict[str, np.ndarray], count: _ChunkCount
    ) -> tuple[list[Write], dict[str, IngestResult]]:
        """The writes of the changed ones among ``docs`` (distinct ids), chunked and embedded, and
        every document's result."""
        results: dict[str, IngestResult] = {}
        todo = []
        started = time.perf_counter()
        for doc in docs:
            info = self.store.get(doc.id)
            if (
                info
                and info.content_hash == doc.content_hash
                and info.chunker == self.signature
                # Not in the content hash (``VOLATILE_METADATA``), or not content: a change of
                # these rewrites the document, with its vectors from the embedding cache.
                and info.metadata == doc.metadata
                and (info.source, info.path) == (doc.source, doc.path)
            ):
                results[doc.id] = IngestResult(doc.id, "unchanged", info.n_chunks)
                continue
            chunks = self._chunker().chunk(doc)
            todo.append((doc, chunks, info is not None))
        chunked = time.perf_counter()
        self.seconds["chunk"] += chunked - started
        if not todo:
            return [], results
        embedder = self._embedder()
        texts = [embedding_text(d.title, c.heading, c.text, embedder) for d, cs, _ in todo for c in cs]
        hashes = [embedding_key(embedder, t) for t in texts]
        count.add(total=len(texts))
        vectors = self._embed_cached(embedder, texts, hashes, fresh, count)
        self.seconds["embed"] += time.perf_counter() - chunked
        writes, offset = [], 0
        for doc, chunks, existed in todo:
            span = slice(offset, offset + len(chunks))
            writes.append(Write(doc, chunks, vectors[span], self.signature, hashes[span]))
            offset += len(chunks)
            results[doc.id] = IngestResult(doc.id, "updated" if existed else "added", len(chunks))
        return writes, results

    def _embed_cached(
        self,
        embedder: Embedder,
        texts: list[str],
        hashes: list[str],
        fresh: dict[str, np.ndarray],
        count: _ChunkCount,
    ) -> np.ndarray:
        """Vectors of ``texts``: the embedding cache (vectors already stored under the same hash
        of embedder and text, or embedded earlier in this call: ``fresh``, which this extends)
        first, the model only for texts not seen before, once each, ``EMBED_SLICE`` at a time."""
        known = {h: fresh[h] for h in hashes if h in fresh}
        known.update(self.store.vectors_by_hash([h for h in hashes if h not in known]))
        todo = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
        count.add(embedded=len(texts) - sum(1 for h in hashes if h in todo))
        embed_with = getattr(embedder, "embed_with", None)
        keys = list(todo)
        for i in range(0, len(keys), EMBED_SLICE):
            part = keys[i : i + EMBED_SLICE]
            batch = [todo[h] for h in part]
            if self.threads is not None and embed_with is not None:
                new = embed_with(batch, self.threads)
            else:
                new = embedder.embed(batch)
            known.update(zip(part, new, strict=True))
            fresh.update(zip(part, new, strict=True))
            # A text repeated in this round (the same vector) counts each time it appears.
            done = set(part)
            count.add(embedded=sum(1 for h in hashes if h in done))
        self.embedded_texts += len(todo)
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([known[h] for h in hashes]).astype(np.float32, copy=False)


class _ChunkCount:
    """The chunks of one ``add_documents`` call, reported to its ``on_chunks`` as they move."""

    def __init__(self, report: ChunkProgress | None) -> None:
        self.report, self.embedded, self.total = report, 0, 0

    def add(self, embedded: int = 0, total: int = 0) -> None:
        self.embedded += embedded
        self.total += total
        if self.report is not None:
            self.report(self.embedded, self.total)


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
    deleted: int = 0  # documents of files that are gone (``qa.sync``)
    unread: int = 0  # files skipped without reading: size and times as recorded
    chunks_written: int = 0
    # Files that could not be indexed ({"path", "reason", "error"}; reasons in qa.parse.files.Skipped).
    failed: list[dict[str, str]] = field(default_factory=list)
    # Files of the given directories passed over (an unsupported type, a symlink leading out...).
    skipped: list[dict[str, str]] = field(default_factory=list)
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

    def merge(self, other: IndexSummary) -> None:
        """Add ``other``'s counts (its ``files`` are counted already)."""
        for name in ("added", "updated", "unchanged", "deleted", "unread", "chunks_written", "other_shards"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed += other.failed
        self.skipped += other.skipped

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "files_unread": self.unread,
            "chunks_written": self.chunks_written,
            "failed": self.failed,
            "skipped": self.skipped,
        }
        if self.shard is not None:
            data |= {"shard": str(self.shard), "other_shards": self.other_shards}
        return data


# Called after each file with the file, the error that skipped it (or None) and the summary so far.
FileProgress = Callable[[Path, QAError | None, IndexSummary], None]
# Called before each file is looked at (progress names the file being read).
FileStart = Callable[[Path], None]


def index_files(
    add: Callable[[list[Document]], list[IngestResult]],
    files: Sequence[tuple[Path, Path]],
    max_bytes: int,
    shard: Shard | None = None,
    on_file: FileProgress | None = None,
    follow_symlinks: bool = False,
    limits: ParseLimits | None = None,
    source: str | None = None,
    metadata_of: Callable[[Path], Metadata] | None = None,
    on_begin: FileStart | None = None,
) -> IndexSummary:
    """Parse each ``(path, root)`` of ``files`` and index its documents with ``add``, each in
    ``source`` (default: its root's absolute path) under the id ``source/path``
    (``qa.sources``), with ``metadata_of(path)``. A file that cannot be parsed or indexed is
    recorded in ``failed`` (one with no text in ``skipped``) and the rest go on. Without
    ``follow_symlinks`` a file whose real path (when opened) is outside its root is not read.
    With ``limits`` each file is parsed in a worker process within them (``qa.parse.worker``);
    without, in this thread. Nothing is recorded of the files and nothing deleted: ``qa.sync``
    does that."""
    limits = limits or ParseLimits(timeout=0)
    summary = IndexSummary(files=len(files), shard=shard)
    for path, root in files:
        error: QAError | None = None
        reading = True
        if on_begin:
            on_begin(path)
        try:
            rel, data = read_file(path, root, max_bytes, follow_symlinks)
            reading = False
            src = source or os.path.abspath(root)
            meta = metadata_of(path) if metadata_of else None
            docs = parse_limited(data, rel, limits, doc_id=document_id(src, rel), metadata=meta, max_bytes=max_bytes)
            docs = [replace(d, source=src, path=rel) for d in docs]
            if shard is not None:
                mine = [d for d in docs if shard.owns(d.id)]
                summary.other_shards += len(docs) - len(mine)
                docs = mine
            results = add(docs) if docs else []
        except NoText as exc:  # nothing to index (an empty file, an icon): passed over, not failed
            summary.skipped.append(Skipped.of(path, exc).as_dict())
        except QAError as exc:
            error = exc
            summary.failed.append(Skipped.of(path, exc, reading).as_dict())
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
    """Index files and directories (recursively; see ``qa.parse.iter_files`` for what is read)
    with ``add``, each file in its root's source, recording and deleting nothing (``qa.sync``
    does: ``QAService.index_paths``)."""
    skipped: list[Skipped] = []
    files = iter_files(paths, follow_symlinks=follow_symlinks, skipped=skipped)
    summary = index_files(add, files, max_bytes, shard, follow_symlinks=follow_symlinks)
    summary.skipped = skipped_entries(skipped) + summary.skipped  # then the files with no text
    return summary


def skipped_entries(skipped: Sequence[Skipped]) -> list[dict[str, str]]:
    """``IndexSummary.skipped`` of the files a directory walk passed over: by path, each once."""
    return [s.as_dict() for s in sorted({s.path: s for s in skipped}.values(), key=lambda s: s.path)]
