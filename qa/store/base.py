"""The store protocol and the records it passes: ``Store``, ``Manifest``, ``DocumentInfo``, ``Write``
(and ``atomic_write``, which both backends' files use). Backends import this, never the package."""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.errors import IndexMismatch
from qa.sources import UPLOAD_SOURCE, document_id
from qa.store.filters import FilterSpec
from qa.types import Chunk, Document, Hit, Metadata, Passage

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
    # Where each page starts in the text (see ``Document.page_starts``); empty without pages.
    page_starts: tuple[int, ...] = ()
    # Its path inside ``source`` (``qa.sources``); None for documents sent without one.
    path: str | None = None


# The documents columns a DocumentInfo is read from, in both stores, in this order.
INFO_COLUMNS = (
    "id, title, metadata, source, content_hash, chunker, n_chunks, length(text), created_at, updated_at,"
    " page_starts, path"
)


def document_info(row: Sequence[Any], metadata: Metadata, page_starts: Sequence[int] | None) -> DocumentInfo:
    """A ``DocumentInfo`` from a row of ``INFO_COLUMNS``, with its metadata and page offsets
    already decoded."""
    info = replace(DocumentInfo(row[0], row[1], metadata, *row[3:10]), path=row[11])
    return replace(info, page_starts=tuple(page_starts)) if page_starts else info


@dataclass(frozen=True)
class FileRecord:
    """What a sync knows of one file of a source (the ``files`` table): its size, times and
    content hash when it was last indexed, and the documents it gave. A file whose size and times
    are the recorded ones (and ``fingerprint``, the settings and metadata it was indexed with) is
    skipped without being read; one whose bytes hash to ``sha256`` is not parsed again."""

    source: str
    path: str
    size: int
    mtime_ns: int  # -1: not to be trusted (the file changed too recently when it was recorded)
    ctime_ns: int
    sha256: str
    fingerprint: str
    doc_ids: tuple[str, ...]

    @classmethod
    def of_row(cls, row: Sequence[Any], doc_ids: Sequence[str]) -> FileRecord:
        """From a row of ``FILE_COLUMNS`` (both stores), with its ``doc_ids`` decoded."""
        return cls(row[0], row[1], int(row[2]), int(row[3]), int(row[4]), row[5], row[6], tuple(doc_ids))


# The files columns a FileRecord is read from, in both stores, in this order.
FILE_COLUMNS = "source, path, size, mtime_ns, ctime_ns, sha256, fingerprint, doc_ids"


def readdress(doc_id: str, source: str | None) -> tuple[str, str | None, str | None]:
    """The (id, source, path) a document written before sources existed (format 1, schema 1)
    gets in the migration to them, from its old id and ``source`` column.

    - `qa index` wrote id = the path relative to the folder given, source = the file's absolute
      path: the new id is that absolute path (``qa.sources.document_id`` of the folder and the
      relative path); a .jsonl line without an id (``rel#n``) becomes ``/abs/rel#n``.
    - An upload wrote source = the file name (id = the file name, or one given): source
      ``upload``, path the file name; the id becomes ``upload/name`` unless it was given.
    - Anything else (JSON documents, .jsonl lines with their own ids) keeps its id.
    """
    if not source:
        return doc_id, None, None
    if source.startswith("/"):
        if source.endswith("/" + doc_id):
            root = source[: -len(doc_id) - 1] or "/"
            return source, root, doc_id
        base, sep, line = doc_id.rpartition("#")
        if sep and line.isdigit() and source.endswith("/" + base):
            root = source[: -len(base) - 1] or "/"
            return f"{source}#{line}", root, base
        # A .jsonl line with its own id: its file is known, not the folder it was indexed from.
        head, _, name = source.rpartition("/")
        return doc_id, head or "/", name
    path = source.replace("\\", "/").lstrip("/") or source
    if doc_id == source:
        return document_id(UPLOAD_SOURCE, path), UPLOAD_SOURCE, path
    return doc_id, UPLOAD_SOURCE, path


# The chunk and document columns a Passage is read from, in both stores, in this order.
PASSAGE_FIELDS = ("chunk_id", "doc_id", "title", "text", "start", "end", "ordinal", "heading")


def passage_from_row(row: Sequence[Any], score: float, metadata: Metadata) -> Passage:
    """A ``Passage`` from a row whose first columns are ``PASSAGE_FIELDS``, with its metadata
    already decoded."""
    return Passage(**dict(zip(PASSAGE_FIELDS, row[:8], strict=True)), score=score, metadata=metadata)


def manifest_rows(manifest: Manifest, **more: str) -> dict[str, str]:
    """The manifest as stored key/value rows by both stores (``more``: a backend's own keys)."""
    return {
        "format_version": str(manifest.format_version),
        "model": manifest.model,
        "dim": str(manifest.dim),
        "normalized": "true" if manifest.normalized else "false",
        "metric": manifest.metric,
        **more,
        "created_at": str(time.time()),
        "extra": json.dumps(manifest.extra, sort_keys=True),
    }


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
    """What every store does. Reads are safe from many threads at once; ``filters`` are metadata
    filters (see ``filters.py``): an invalid one raises ``InvalidInput``."""

    manifest: Manifest

    def get(self, doc_id: str) -> DocumentInfo | None: ...

    def get_text(self, doc_id: str) -> str | None: ...

    def page_starts(self, chunk_ids: list[int]) -> dict[int, tuple[int, ...]]:
        """The page offsets of the documents of these chunks, by chunk id; chunks of documents
        without pages (and chunks no longer stored) are left out. Chunk ids are never reused, so
        these are the offsets of the very text the chunks were read from."""
        ...

    def write(self, writes: list[Write], files: Sequence[FileRecord] = ()) -> None:
        """Insert or replace documents with their chunks and vectors, and record ``files`` (the
        files they were read from), atomically. A file's documents that it no longer gives (same
        source and path, an id not in its ``doc_ids``) are removed in the same transaction."""
        ...

    def delete(self, doc_id: str) -> bool:
        """Remove a document and all its chunks (and the record of the file it came from, so a
        sync reads that file again); False when it did not exist."""
        ...

    def file_records(self, source: str) -> dict[str, FileRecord]:
        """The recorded files of ``source``, by path."""
        ...

    def source_paths(self, source: str) -> set[str]:
        """The paths of the documents of ``source``."""
        ...

    def forget_files(self, source: str, paths: Sequence[str]) -> list[str]:
        """Remove the documents of ``source`` at ``paths`` and those files' records, atomically;
        the ids of the documents removed."""
        ...

    def list_documents(
        self, offset: int = 0, limit: int = 50, access: tuple[str, ...] | None = None
    ) -> tuple[list[DocumentInfo], int]:
        """A page of documents in id order, and how many there are in all; with ``access`` (a
        caller's identities, ``qa.access``), of the documents visible to them only."""
        ...

    def set_access(self, doc_id: str, access: list[str] | None) -> bool:
        """Replace a document's access list (its metadata ``access``; None removes it) without
        touching its chunks or vectors; False when there is no such document."""
        ...

    def search(self, vector: np.ndarray, k: int, filters: FilterSpec | None = None) -> list[Passage]:
        """The ``k`` chunks nearest to ``vector`` (inner product), best first: ``passages(search_hits(...))``."""
        ...

    def search_hits(self, vector: np.ndarray, k: int, filters: FilterSpec | None = None) -> list[Hit]:
        """``search``'s (chunk id, score) pairs, best first, without fetching the passages."""
        ...

    def lexical_search(
        self, terms: list[str], k: int, filters: FilterSpec | None = None, exact: Sequence[str] = ()
    ) -> list[Passage]:
        """BM25 over chunk text and title/heading, any of ``terms`` (words, never query syntax);
        higher scores are better. ``exact`` are the question's ``qa.terms.exact_tokens`` ("-V",
        "%D", case kept): a chunk that spells one only another way ("-v") does not hold its word,
        and one that holds an option or conversion as written scores higher; with none, or none
        that case can confuse ("NFL"), the ranking is the words' alone."""
        ...

    def lexical_hits(
        self, terms: list[str], k: int, filters: FilterSpec | None = None, exact: Sequence[str] = ()
    ) -> list[Hit]:
        """``lexical_search``'s (chunk id, score) pairs, best first, without fetching the passages."""
        ...

    def passages(self, hits: list[Hit]) -> list[Passage]:
        """The passages of (chunk id, score) pairs, in their order, each with its score; a chunk
        that no longer exists is left out."""
        ...

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside, in this thread, see one state of the index (see each store for how)."""
        ...

    def vectors(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        """Stored vectors of the given chunks (those that exist)."""
        ...

    def vectors_by_hash(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks whose embedding text has one of ``hashes`` (the embedding cache)."""
        ...

    def document_chunks(self, doc_id: str) -> tuple[list[Chunk], np.ndarray]:
        """A document's chunks in order with their stored vectors (for `qa export`)."""
        ...

    def counts(self) -> dict[str, Any]:
        """Documents, chunks and model: what a health check reports, cheap at any size."""
        ...

    def problems(self) -> list[str]:
        """Damage known now that the store serves around (e.g. a damaged page of qa.sqlite found
        after open or by a read), for ``/healthz``; empty when nothing is known wrong. Cheap."""
        ...

    def stats(self) -> dict[str, Any]:
        """What the index holds and where (``store`` names the backend)."""
        ...

    def save(self) -> None:
        """Persist derived structures (e.g. the FAISS file); data is durable at ``write``."""
        ...

    def close(self) -> None: ...

    def verify(self) -> list[str]:
        """Problems found in the index; empty when it is sound."""
        ...

    def repair(self) -> dict[str, Any]:
        """Rebuild what can be rebuilt and report it: ``path``, ``found``, ``rebuilt``, ``remaining``
        (problems left), ``documents``, ``chunks``.

        Raises:
            InvalidInput: the store has nothing this can rebuild (Postgres).
        """
        ...


# Errors of a write the disk refused: full, over a quota, or over a file size limit (RLIMIT_FSIZE).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk refused a write (full, quota, file size limit)."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    # SQLite's SQLITE_FULL; tantivy and FAISS raise with the OS error's text only.
    text = str(exc).lower()
    return any(m in text for m in ("disk is full", "no space left", "file too large", "quota exceeded"))


def atomic_write(path: Path, write: Any) -> None:
    """Write via a temp file + fsync + rename, so readers see the old or the new file. A failed
    write (e.g. a full disk) removes its temp file; one left by a killed process is removed by
    ``remove_stale_temp_files`` when the index is next opened."""
    # A temp name per process and thread: two writers of one index must not rename each other's file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Remove ``atomic_write`` temp files in ``directory`` whose writing process is gone (killed
    mid-write); a live process's are left alone. Returns the files removed."""
    removed = []
    for tmp in directory.glob("*.*.*.tmp"):
        try:
            pid = int(tmp.name.split(".")[-3])
        except ValueError:
            continue
        if pid == os.getpid() or _alive(pid):
            continue  # being written now (by another thread, or another process on this index)
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
