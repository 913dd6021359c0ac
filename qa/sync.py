"""Sync: a folder mirrored into its source (`qa index DIR`).

Each directory given is a source (``qa.sources``: its absolute path, or the name given with
``--source``); a file given alone belongs to its folder's source. A sync of a directory adds its
new files, re-indexes its changed ones and deletes the documents of files that are gone (unless
``delete`` is off), so that afterwards the source holds what a fresh build of the folder would.

What makes a re-sync cheap is the ``files`` record of each source (``qa.store.FileRecord``),
written in the transaction of the file's documents:

- a file whose size, mtime_ns and ctime_ns are the recorded ones, indexed with the same
  settings and metadata (``fingerprint``), is skipped without being opened;
- one whose times changed but whose bytes hash (SHA-256) to the recorded hash is not parsed: its
  record is updated (in one transaction for all such files);
- anything else is read, parsed and indexed (``Ingestor.add_documents``), its record with it.

A file that changed within ``RACY_NS`` of being looked at is recorded with ``mtime_ns`` -1, so
the next sync reads it again rather than trust a timestamp the file may share with a later
write (git's "racily clean" entries). ctime is recorded too: tools that restore an mtime (``cp
-p``, ``rsync -t``, ``tar``) cannot restore it.

Metadata: ``metadata`` (``qa index --meta key=value``) applies to every file; a ``.qa-meta.json``
file (a JSON object) in a folder applies to the files below it, a nearer one overriding a
farther one key by key, and both overriding ``metadata``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from qa.errors import InvalidInput, NoText, QAError
from qa.ingest import FileProgress, FileStart, IndexSummary, index_files, skipped_entries
from qa.parse import iter_files
from qa.parse.content import load_json
from qa.parse.files import Skipped, read_file
from qa.parse.worker import ParseLimits, parse_limited
from qa.shard import Shard
from qa.sources import check_source, document_id
from qa.store import FileRecord, Store
from qa.types import Document, IngestResult, Metadata

# The per-folder metadata file (hidden, so the walk never indexes it).
SIDECAR = ".qa-meta.json"
# A file changed less than this before it was looked at is not trusted by its timestamps.
RACY_NS = 2_000_000_000
# Bump when a parser's output for the same bytes changes, so a sync parses unchanged files again.
PARSE_VERSION = 1
# Touched (not changed) files' records are written in batches of this many.
TOUCHED_BATCH = 500

Add = Callable[[list[Document], Sequence[FileRecord]], list[IngestResult]]


@dataclass
class SyncOptions:
    """How a sync runs: ``source`` names the one directory's source (default: its absolute path);
    ``delete`` off keeps the documents of files that are gone; ``metadata`` applies to every file."""

    source: str | None = None
    delete: bool = True
    metadata: Metadata = field(default_factory=dict)
    follow_symlinks: bool = False
    shard: Shard | None = None


def parse_meta(pairs: Sequence[str]) -> Metadata:
    """``key=value`` pairs (``--meta``) as metadata, values as strings.

    Raises:
        InvalidInput: a pair without ``=`` or with an empty key.
    """
    meta: Metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--meta {pair!r} must look like key=value (e.g. --meta team=docs)")
        meta[key.strip()] = value
    return meta


class Sidecars:
    """The ``.qa-meta.json`` metadata of each folder, read once per sync."""

    def __init__(self) -> None:
        self.cache: dict[Path, Metadata] = {}

    def of(self, directory: Path) -> Metadata:
        if directory not in self.cache:
            sidecar = directory / SIDECAR
            meta: Any = {}
            if sidecar.is_file():
                try:
                    meta = load_json(sidecar.read_bytes())
                except (ValueError, RecursionError, OSError) as exc:
                    raise InvalidInput(f"'{sidecar}' is not valid JSON ({exc}); write one JSON object") from None
                if not isinstance(meta, dict):
                    raise InvalidInput(f'\'{sidecar}\' must hold a JSON object of metadata, like {{"team": "docs"}}')
            self.cache[directory] = meta
        return self.cache[directory]

    def below(self, root: Path, directory: Path, base: Metadata) -> Metadata:
        """``base`` overridden by the sidecars from ``root`` down to ``directory``."""
        meta = dict(base)
        rel = directory.relative_to(root).parts if directory != root else ()
        folder = root
        meta.update(self.of(folder))
        for part in rel:
            folder = folder / part
            meta.update(self.of(folder))
        return meta


def fingerprint(signature: str, metadata: Metadata) -> str:
    """What else than its bytes decides a file's documents: chunking settings, metadata, parsers."""
    payload = json.dumps([signature, metadata, PARSE_VERSION], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Target:
    """One directory (``mirror``: its gone files' documents are deleted) or one file to index."""

    root: Path
    source: str
    files: list[Path]
    mirror: bool


def targets(
    paths: Sequence[str | Path],
    source: str | None,
    follow_symlinks: bool,
    skipped: list[Skipped] | None = None,
    exclude: Sequence[Path] = (),
) -> list[Target]:
    """The sources of ``paths``: each directory its own (``source``, or its absolute path), each
    file its folder's. Files of a directory that will not be read are added to ``skipped``; the
    directories of ``exclude`` (the index itself, when it lives in the folder synced) are not
    part of it (``qa.parse.iter_files``).

    Raises:
        InvalidInput: a path that does not exist, or ``source`` given with two directories.
    """
    if source is not None:
        check_source(source)
        if len(paths) > 1 and any(Path(p).is_dir() for p in paths):
            raise InvalidInput(
                f"--source {source!r} names the source of one directory; index each directory on its own"
            )
    found: list[Target] = []
    for raw in paths:
        pairs = iter_files([raw], follow_symlinks=follow_symlinks, skipped=skipped, exclude=exclude)
        path = Path(raw)
        if path.is_dir():
            found.append(Target(path, source or os.path.abspath(path), [f for f, _ in pairs], True))
        else:
            for f, root in pairs:
                found.append(Target(root, source or os.path.abspath(root), [f], False))
    return found


def relative(path: Path, root: Path) -> str:
    return PurePosixPath(*path.relative_to(root).parts).as_posix()


class Syncer:
    """Syncs targets into ``store`` through ``add`` (``Ingestor.add_documents`` with file records)."""

    def __init__(
        self,
        store: Store,
        add: Add,
        signature: str,
        max_bytes: int,
        options: SyncOptions,
        limits: ParseLimits | None = None,
        on_file: FileProgress | None = None,
        on_begin: FileStart | None = None,
    ) -> None:
        self.store, self.add, self.signature = store, add, signature
        self.max_bytes, self.options = max_bytes, options
        self.limits = limits or ParseLimits(timeout=0)
        self.on_file, self.on_begin = on_file, on_begin
        self.sidecars = Sidecars()

    def run(self, found: list[Target], skipped: Sequence[Skipped] = ()) -> IndexSummary:
        """Sync ``found``; ``skipped``: what listing them passed over, for the summary."""
        summary = IndexSummary(files=sum(len(t.files) for t in found), shard=self.options.shard)
        summary.skipped = skipped_entries(skipped)
        for target in found:
            if self.options.shard is not None:
                # Shards split a folder by document id: no one worker knows a whole file's
                # documents, so none records files or deletes; each reads everything.
                self._sharded(target, summary)
            else:
                self._sync(target, summary)
        return summary

    def _sharded(self, target: Target, summary: IndexSummary) -> None:
        def add(docs: list[Document]) -> list[IngestResult]:
            return self.add(docs, ())

        part = index_files(
            add,
            [(f, target.root) for f in target.files],
            self.max_bytes,
            self.options.shard,
            self.on_file,
            self.options.follow_symlinks,
            self.limits,
            source=target.source,
            metadata_of=lambda f: self._metadata(target, f),
            on_begin=self.on_begin,
        )
        summary.merge(part)

    def _metadata(self, target: Target, path: Path) -> Metadata:
        return self.sidecars.below(target.root, path.parent, self.options.metadata)

    def _sync(self, target: Target, summary: IndexSummary) -> None:
        records = self.store.file_records(target.source)
        touched: list[FileRecord] = []
        for path in target.files:
            error: QAError | None = None
            reading = [True]  # until the file's bytes are in: an error before that is "unreadable"
            if self.on_begin:
                self.on_begin(path)
            try:
                touched += self._file(target, path, records.get(relative(path, target.root)), summary, reading)
            except QAError as exc:
                error = exc
                summary.failed.append(Skipped.of(path, exc, reading[0]).as_dict())
            if len(touched) >= TOUCHED_BATCH:
                self.store.write([], touched)
                touched = []
            if self.on_file:
                self.on_file(path, error, summary)
        self.store.write([], touched)
        if target.mirror and self.options.delete:
            here = {relative(f, target.root) for f in target.files}
            gone = (set(records) | self.store.source_paths(target.source)) - here
            if gone:
                summary.deleted += len(self.store.forget_files(target.source, sorted(gone)))

    def _file(
        self, target: Target, path: Path, record: FileRecord | None, summary: IndexSummary, reading: list[bool]
    ) -> list[FileRecord]:
        """Index one file unless it is unchanged; a record to write later for a touched file.
        ``reading[0]`` is set False once the file is read."""
        rel = relative(path, target.root)
        meta = self._metadata(target, path)
        print_ = fingerprint(self.signature, meta)
        try:
            # Before reading: a change after this is seen by the next sync (other times, or a hash).
            st = os.stat(path)
        except OSError as exc:
            raise InvalidInput(f"cannot read '{path}': {exc.strerror}; check that it exists and is readable") from None
        stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if (
            record is not None
            and record.fingerprint == print_
            and (record.size, record.mtime_ns, record.ctime_ns) == stamp
        ):
            summary.unchanged += len(record.doc_ids)
            summary.unread += 1
            return []
        _, data = read_file(path, target.root, self.max_bytes, self.options.follow_symlinks)
        reading[0] = False
        # A write after the stat above changes mtime to "now": the same as the one recorded only
        # if that one was "now" too (within a timestamp tick).
        racy = time.time_ns() - st.st_mtime_ns < RACY_NS
        now = FileRecord(
            source=target.source,
            path=rel,
            size=st.st_size,
            mtime_ns=-1 if racy else st.st_mtime_ns,
            ctime_ns=st.st_ctime_ns,
            sha256=hashlib.sha256(data).hexdigest(),
            fingerprint=print_,
            doc_ids=(),
        )
        if record is not None and record.sha256 == now.sha256 and record.fingerprint == print_:
            summary.unchanged += len(record.doc_ids)
            return [replace(now, doc_ids=record.doc_ids)]
        doc_id = document_id(target.source, rel)
        try:
            docs = parse_limited(data, rel, self.limits, doc_id=doc_id, metadata=meta, max_bytes=self.max_bytes)
        except NoText as exc:
            # Nothing to index (an empty file, an icon): passed over, not failed. Recorded with no
            # documents, so what it gave before is deleted with the record's write and an
            # unchanged one is not read (nor OCR'd) again.
            summary.skipped.append(Skipped.of(path, exc).as_dict())
            summary.deleted += len(record.doc_ids) if record is not None else 0
            return [now]
        docs = [replace(d, source=target.source, path=rel) for d in docs]
        for result in self.add(docs, [replace(now, doc_ids=tuple(d.id for d in docs))]):
            summary.record(result)
        return []
