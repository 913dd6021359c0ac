"""The embedded store's lexical side: BM25 over chunk text with its title/heading, in a tantivy index.

tantivy (Rust, memory-mapped segments) ranks the top k of an any-term query with block-max WAND,
so a query costs what its best matches cost, not what every matching chunk costs: 0.1 ms per
SciFact claim where SQLite FTS5's ``bm25()``, which scores every chunk holding a query term, took
4.9 ms (half of a default search's CPU), and far less at 1M chunks.

SQLite stays the source of truth. The index lives in ``lexical/`` beside the database and is
written inside the store's SQLite write transaction, committed just before it, so a process that
sees a generation in SQLite finds at least that generation here. ``lexical.json`` records the
generation being written *before* tantivy commits: if the process dies between the two commits,
the next writer or opener (holding SQLite's write lock, so no write is in flight) finds that
generation ahead of SQLite's and rebuilds the index from SQLite.

Readers never reload on their own (the reader's reload policy is manual): the store reloads under
its write lock when SQLite's generation moves, so a search sees one committed state.

Beside the lower-cased, stemmed ``text`` field, an ``exact`` field holds the chunk's exact tokens
(``qa.terms.exact_tokens``: options like "-V", conversions like "%D", single letters, words with a
capital inside), case kept. When a question names such a token, a chunk that spells it only
another way ("-v") does not get the word ("v") for it, so "what does -V do" ranks the "-V"
passage above the "-v" one that ``text`` cannot tell apart, and every other chunk scores as
before (``search``). Indexes of schema version 1 (no ``exact`` field) are rebuilt from SQLite when
opened, as any change of ``spec`` is.

An ``access`` field holds the entries of the chunk's document access list (``doc_access``: '*'
for a public document, else 'group:hr', 'user:alice'...), so a search for a caller ANDs a
constant-score term query on its identities and '*': tantivy filters natively, a handful of
posting lists, where passing the visible chunk ids as a term set cost 95 ms p50 at 1M chunks
with 1% visible (bench/results/scale-access-1m.md). Changing a document's access list rewrites
its lexical rows (no re-embedding), as one store write with its own generation.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import struct
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from qa.errors import IndexCorrupt
from qa.language import MAX_TOKEN_CHARS, STEMMER_CHOICES, Analyser
from qa.store.base import atomic_write
from qa.store.embedded.schema import chunk_count, generation, lexical_rows
from qa.terms import EXACT_TOKENS_VERSION, case_variants, exact_tokens
from qa.types import Hit

log = logging.getLogger(__name__)

LEXICAL_DIR = "lexical"
LEXICAL_META = "lexical.json"
# English words are maximal runs of Unicode letters and digits, lower-cased, diacritics folded to
# ASCII, then (by default) Snowball English stemming; other languages: ``qa.language``. Words longer
# than MAX_TOKEN_CHARS are dropped (hashes, base64).
STEMMERS = STEMMER_CHOICES
# Writer memory: tantivy flushes a segment when it fills. Small for a write, larger for a rebuild.
WRITE_HEAP = 32_000_000
BUILD_HEAP = 256_000_000
# Reloads that race another process's merge are retried this many times.
RELOAD_ATTEMPTS = 5
# tantivy's file footer: ``<JSON {"version": ..., "crc": CRC32 of the bytes before it}><u32 length><u32 1337>``.
FOOTER_MAGIC = 1337
SEGMENT_FILES = (".fast", ".fieldnorm", ".idx", ".pos", ".store", ".term")
_CRC_BLOCK = 1 << 20
# Schema version: a change here (fields, options) rebuilds existing lexical indexes. 2: the
# case-sensitive ``exact`` field. 3: the ``access`` field.
SCHEMA_VERSION = 3
# Weight of an option or conversion the question names ("-V", "--verbose", "%D"), found as
# written, on top of its word: its BM25 in the ``exact`` field times this. Only those: spelt
# exactly, they say what the question is about. A boost of single letters and cased words too
# ("Local H", "NFL") cost HotpotQA all-gold R@10 0.002 (README, "Case").
EXACT_BOOST = 1.0


def spec(stemmer: str, language: str = "en") -> str:
    """What the index is built with; a different spec means a rebuild. The language is part of it
    (``qa.language.Analyser.spec``): English's reads as before languages existed."""
    return f"tantivy v{SCHEMA_VERSION} {Analyser.of(language, stemmer).spec}; exact v{EXACT_TOKENS_VERSION}"


def _exact_analyzer() -> tantivy.TextAnalyzer:
    # The field's text is ``exact_tokens`` joined by spaces: split there, case kept.
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
    return builder.filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS)).build()


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    # The chunk's SQLite row id (also its FAISS id): found by term for deletes, read as a fast field.
    sb.add_integer_field("id", stored=False, indexed=True, fast=True)
    # The document title, the chunk's heading and its text, in one field: BM25 normalizes by the
    # length of all three, as FTS5 did over the row. A separate title field (boost 0.25 to 1)
    # scored 0.02 nDCG@10 lower on SciFact, whose titles every chunk of a paper shares, and
    # higher on HotpotQA, whose titles are the entity asked about; one field matched or beat
    # FTS5 on all three sets (lexical-only, measured 2026-12-04). Term frequencies without
    # positions: BM25 needs no more, and the index stays small.
    sb.add_text_field("text", stored=False, tokenizer_name="qa", index_option="freq")
    # The exact tokens of the same text, case kept (see the module docstring).
    sb.add_text_field("exact", stored=False, tokenizer_name="qa_exact", index_option="freq")
    # The document's access entries, each one term ("raw"), for filtering only: no scores, no
    # frequencies. A field of its own, so the ``text`` field's BM25 statistics are unchanged.
    sb.add_text_field("access", stored=False, tokenizer_name="raw", index_option="basic")
    return sb.build()


# Chunk id, title + heading, chunk text, the document's access entries (``doc_access``).
Row = tuple[int, str, str, Sequence[str]]


class LexicalDamaged(IndexCorrupt):
    """The tantivy files failed a read (an error, or a panic in the Rust library)."""


def _is_panic(exc: BaseException) -> bool:
    # pyo3's PanicException derives from BaseException and cannot be imported by name.
    return type(exc).__name__ == "PanicException"


def file_problem(path: Path) -> str | None:
    """What is wrong with one tantivy file (missing, no footer, CRC mismatch), or None."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 8:
                return f"{path.name} is truncated ({size} bytes)"
            fh.seek(size - 8)
            length, magic = struct.unpack("<II", fh.read(8))
            if magic != FOOTER_MAGIC or length + 8 > size:
                return f"{path.name} has no tantivy footer (truncated or overwritten)"
            fh.seek(size - 8 - length)
            try:
                want = int(json.loads(fh.read(length))["crc"])
            except (ValueError, KeyError, TypeError):
                return f"{path.name} has an unreadable footer"
            fh.seek(0)
            crc, left = 0, size - 8 - length
            while left > 0:
                block = fh.read(min(_CRC_BLOCK, left))
                if not block:
                    return f"{path.name} is truncated"
                crc = zlib.crc32(block, crc)
                left -= len(block)
    except FileNotFoundError:
        return f"{path.name} is missing"
    return None if crc == want else f"{path.name} is corrupt (CRC32 mismatch)"


def damaged_files(directory: Path) -> list[str]:
    """Problems of the files the last commit of the tantivy index in ``directory`` refers to
    (every segment file's CRC32 footer is checked; about 1 GB/s). Empty when whole."""
    for attempt in range(RELOAD_ATTEMPTS):
        try:
            meta = json.loads((directory / "meta.json").read_text())
            segments = meta["segments"]
        except FileNotFoundError:
            return []  # no commit yet: an empty index
        except (ValueError, KeyError, TypeError, OSError) as exc:
            return [f"meta.json is unreadable ({exc})"]
        problems = []
        for seg in segments:
            stem = str(seg["segment_id"]).replace("-", "")
            names = [stem + ext for ext in SEGMENT_FILES]
            if seg.get("deletes"):
                names.append(f"{stem}.{seg['deletes']['opstamp']}.del")
            problems += [p for p in (file_problem(directory / n) for n in names) if p]
        if not any("missing" in p for p in problems) or attempt == RELOAD_ATTEMPTS - 1:
            return problems
        time.sleep(0.01 * (attempt + 1))  # another process's merge replaced them meanwhile: read again
    return problems


def _document(row: Row, analyser: Analyser) -> tantivy.Document:
    chunk_id, title, body, access = row
    text = f"{title}\n{body}"
    doc = tantivy.Document(id=int(chunk_id), text=analyser.index_text(text), exact=" ".join(exact_tokens(text)))
    for entry in access:
        doc.add_text("access", entry)
    return doc


class LexicalIndex:
    """A tantivy BM25 index of chunks, kept in step with the store's SQLite generations."""

    def __init__(self, store_path: Path, stemmer: str, language: str = "en", analyser: Analyser | None = None) -> None:
        self.store_path = Path(store_path)
        self.dir = Path(store_path) / LEXICAL_DIR
        self.meta_path = Path(store_path) / LEXICAL_META
        self.spec = spec(stemmer, language)
        # ``analyser``: another analysis of the language to measure (its spec is the language's).
        self.analyser = analyser or Analyser.of(language, stemmer)
        self.analyzer = self.analyser.analyzer
        self.exact_analyzer = _exact_analyzer()
        self.schema = _schema()
        # None while the files are unreadable (damaged, or another tantivy format): the store then
        # rebuilds them from SQLite under its write lock (``rebuild``), never here, where another
        # process may be writing them.
        self.index: tantivy.Index | None = None
        # What was wrong with the files when they were last found damaged (`qa repair` reports it);
        # ``damaged``: a read failed since the last (re)build: the store rebuilds before its next read.
        self.problem: str | None = None
        self.damaged = False
        problems = damaged_files(self.dir)
        if problems:
            self.problem = f"lexical index {self.dir} is damaged: {'; '.join(problems[:3])}"
            log.warning("%s; rebuilding it from SQLite", self.problem)
            return
        try:
            self.index = self._open()
        except (ValueError, OSError) as exc:
            self.problem = f"lexical index {self.dir} is unreadable ({exc})"
            log.warning("%s; rebuilding it from SQLite", self.problem)

    def _open(self) -> tantivy.Index:
        # Not ``parents``: the store's directory is made only with the index (a deleted one stays deleted).
        self.dir.mkdir(exist_ok=True)
        index = tantivy.Index(self.schema, path=str(self.dir), reuse=True)
        index.register_tokenizer("qa", self.analyzer)
        index.register_tokenizer("qa_exact", self.exact_analyzer)
        # Manual: the store reloads under its write lock, so a search sees one committed state.
        index.config_reader(reload_policy="Manual")
        return index

    def _live(self) -> tantivy.Index:
        if self.index is None:
            raise IndexCorrupt(f"lexical index {self.dir} is unreadable; `qa repair` rebuilds it")
        return self.index

    def _forget(self) -> None:
        """Remove the index files and their record (``_open`` makes the directory again)."""
        shutil.rmtree(self.dir, ignore_errors=True)
        self.meta_path.unlink(missing_ok=True)

    # -- state -----------------------------------------------------------------------------

    def recorded(self) -> dict[str, Any] | None:
        """The recorded generation and spec, or None if there is no readable record."""
        try:
            meta = json.loads(self.meta_path.read_text())
        except (FileNotFoundError, ValueError, OSError):
            return None
        if not isinstance(meta, dict) or not isinstance(meta.get("generation"), int):
            return None
        return meta

    def in_step(self, generation: int, n_chunks: int) -> bool:
        """Whether the index holds SQLite's state at ``generation`` (``n_chunks`` chunks). Only
        meaningful under SQLite's write lock: a writer in flight records its generation first."""
        meta = self.recorded()
        if self.index is None or meta is None or meta.get("spec") != self.spec or meta["generation"] != generation:
            return False
        try:
            self.reload()
            return self.index.searcher().num_docs == n_chunks
        except (ValueError, OSError) as exc:  # e.g. a segment file is missing
            log.warning("lexical index %s is unreadable (%s)", self.dir, exc)
            return False
        except BaseException as exc:
            if not _is_panic(exc):
                raise
            log.warning("lexical index %s is unreadable (tantivy panicked: %s)", self.dir, exc)
            return False

    def _record(self, generation: int) -> None:
        text = json.dumps({"generation": generation, "spec": self.spec})
        atomic_write(self.meta_path, lambda p: Path(p).write_text(text))

    def reload(self) -> None:
        """Pick up the last commit. Another process's commit may delete, while this reads its
        list of segments, files that list names (its merges replace them): then read it again."""
        for attempt in range(RELOAD_ATTEMPTS):
            try:
                self._live().reload()
                return
            except (ValueError, OSError):
                if attempt == RELOAD_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def bytes_on_disk(self) -> int:
        total = 0
        for f in self.dir.rglob("*"):
            try:
                total += f.stat().st_size if f.is_file() else 0
            except FileNotFoundError:  # removed by a merge meanwhile
                pass
        return total

    # -- writes ----------------------------------------------------------------------------

    @contextmanager
    def _writer(self, heap: int, threads: int) -> Iterator[tantivy.IndexWriter]:
        writer = self._live().writer(heap_size=heap, num_threads=threads)
        try:
            yield writer
        except BaseException:
            try:
                writer.rollback()
            finally:
                # Consumes the writer: tantivy's lock is released now, not when a traceback that
                # still refers to the object is collected.
                writer.wait_merging_threads()
            raise
        # Merges run on tantivy's threads after a commit; a writer dropped early abandons them.
        writer.wait_merging_threads()

    def commit(self, generation: int, removed: Iterable[int], added: Iterable[Row]) -> None:
        """Write one store write: drop ``removed`` chunk ids, add ``added`` rows, as ``generation``.
        Called inside SQLite's write transaction, just before it commits."""
        self._record(generation)  # first: a commit here without SQLite's is then detected
        with self._writer(WRITE_HEAP, 1) as writer:
            for chunk_id in removed:
                writer.delete_documents_by_term("id", int(chunk_id))
            for row in added:
                writer.add_document(_document(row, self.analyser))
            writer.commit()
        self.reload()

    def rebuild(self, generation: int, rows: Iterable[Row]) -> int:
        """Replace the whole index with ``rows`` (SQLite's chunks at ``generation``)."""
        # From empty files, not just an empty index: the old ones may be damaged or of another
        # analyzer or schema. Readers in other processes keep the files they have mapped.
        self._forget()
        self.index = self._open()
        self.damaged = False
        self._record(generation)
        n = 0
        with self._writer(BUILD_HEAP, max(1, min(2, os.cpu_count() or 1))) as writer:
            for row in rows:
                writer.add_document(_document(row, self.analyser))
                n += 1
            writer.commit()
        self.reload()
        return n

    # -- in step with SQLite ------------------------------------------------------------------

    def in_step_with(self, db: sqlite3.Connection) -> bool:
        """``in_step`` with SQLite's generation and chunk count, read from ``db``."""
        return self.in_step(generation(db), chunk_count(db))

    def rebuild_from(self, db: sqlite3.Connection, generation: int) -> None:
        """Inside a write transaction on ``db``: the index from SQLite's chunks, as ``generation``."""
        t0 = time.perf_counter()
        n = self.rebuild(generation, lexical_rows(db))
        log.info("built the lexical index of %s: %d chunks in %.1f s", self.store_path, n, time.perf_counter() - t0)

    def before_write(self, db: sqlite3.Connection) -> int:
        """Inside a write transaction on ``db``, before changing anything: the generation SQLite is
        at, with the index brought to it if a killed writer left it elsewhere."""
        gen = generation(db)
        if (self.recorded() or {}).get("generation") != gen:
            log.warning("lexical index of %s is not at generation %d; rebuilding it from SQLite", self.store_path, gen)
            self.rebuild_from(db, gen)
        return gen

    # -- reads -----------------------------------------------------------------------------

    def tokens(self, terms: list[str]) -> list[str]:
        """The index's tokens for query ``terms`` (analyzed like the text), without duplicates."""
        return self.analyser.tokens(terms)

    def search(
        self,
        terms: list[str],
        k: int,
        allowed: np.ndarray | None = None,
        exact: Sequence[str] = (),
        access: Sequence[str] | None = None,
    ) -> list[Hit]:
        """BM25 top ``k`` of chunks holding any of ``terms`` (among ``allowed`` ids, if given;
        among the chunks whose access entries include one of ``access``, if given).

        ``exact`` are the question's exact tokens: one that case can confuse ("-V", not "NFL":
        ``qa.terms.case_variants``) takes its word from the chunks that spell it only another way
        (a chunk holding "-v" and not "-V" does not hold the "v" of "what does -V do"); an option
        or conversion found as written scores ``EXACT_BOOST`` times its BM25 in ``exact`` on top;
        one whose word is not among ``terms`` (a stop word: "-a") is looked for as written."""
        if k <= 0:
            return []
        occur = tantivy.Occur
        words = self.tokens(terms)
        asked = [t for t in dict.fromkeys(t for e in exact for t in self.exact_analyzer.analyze(e)) if case_variants(t)]
        own = {e: set(self.tokens([e])) for e in asked}
        clauses = []
        for word in words:
            query = self._term("text", word)
            tokens = [e for e in asked if word in own[e]]
            others = [v for e in tokens for v in case_variants(e) if v not in tokens]
            if others:
                spelt_otherwise = tantivy.Query.boolean_query(
                    [(occur.Must, self._any("exact", others)), (occur.MustNot, self._any("exact", tokens))]
                )
                query = tantivy.Query.boolean_query([(occur.Must, query), (occur.MustNot, spelt_otherwise)])
            clauses.append((occur.Should, query))
        for e in asked:
            if not own[e] <= set(words):
                clauses.append((occur.Should, self._term("exact", e)))
            elif e[0] in "-%":  # an option or a conversion
                clauses.append((occur.Should, tantivy.Query.boost_query(self._term("exact", e), EXACT_BOOST)))
        if not clauses:
            return []
        query = tantivy.Query.boolean_query(clauses)
        # Filters score 0: a chunk's score is its BM25 alone, as without them.
        for among in (
            None if allowed is None else tantivy.Query.term_set_query(self.schema, "id", allowed.tolist()),
            None if access is None else tantivy.Query.term_set_query(self.schema, "access", list(access)),
        ):
            if among is not None:
                query = tantivy.Query.boolean_query(
                    [(occur.Must, query), (occur.Must, tantivy.Query.const_score_query(among, 0.0))]
                )
        with self._guarded():
            searcher = self._live().searcher()
            result = searcher.search(query, k, count=False)
            if not result.hits:
                return []
            ids = searcher.fast_field_values("id", [addr for _, addr in result.hits])
        return [(int(i or 0), float(s)) for (s, _), i in zip(result.hits, ids, strict=True)]

    def ids_with_access(self, entries: Sequence[str]) -> np.ndarray:
        """The ids of the chunks whose access entries include one of ``entries``, sorted: the
        visible chunks of a caller, from two posting lists (1.6 ms for 10,000 of 1M chunks, where
        SQLite's join of ``doc_access`` to ``chunks`` took 4 to 16 ms)."""
        query = tantivy.Query.term_set_query(self.schema, "access", list(entries))
        with self._guarded():
            searcher = self._live().searcher()
            n = int(searcher.num_docs)  # as many as there are: tantivy refuses a limit of 0
            hits = searcher.search(query, n, count=False).hits if n else []
            if not hits:
                return np.zeros(0, dtype=np.int64)
            ids = searcher.fast_field_values("id", [addr for _, addr in hits])
        return np.sort(np.asarray(ids, dtype=np.int64))

    def access_count(self, entry: str) -> int:
        """How many chunks hold access ``entry`` (for checks)."""
        with self._guarded():
            searcher = self._live().searcher()
            query = tantivy.Query.term_query(self.schema, "access", entry)
            return int(searcher.search(query, 1, count=True).count or 0)  # type: ignore[attr-defined]

    def _term(self, field: str, token: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, field, token, index_option="freq")

    def _any(self, field: str, tokens: list[str]) -> tantivy.Query:
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, self._term(field, t)) for t in tokens])

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """A read of the tantivy files: an error or a panic there (damaged files) is a
        ``LexicalDamaged``, and marks the index for a rebuild from SQLite."""
        try:
            yield
        except (ValueError, OSError) as exc:
            self._damaged(exc)
        except BaseException as exc:
            if not _is_panic(exc):
                raise
            self._damaged(exc)

    def _damaged(self, exc: BaseException) -> None:
        self.damaged = True
        self.problem = f"lexical index {self.dir} failed a read ({type(exc).__name__}: {exc})"
        log.error("%s; rebuilding it from SQLite", self.problem)
        raise LexicalDamaged(
            f"the lexical (BM25) index is damaged and is being rebuilt from SQLite; retry in a moment "
            f"(`qa repair` checks the whole index): {type(exc).__name__}: {str(exc)[:200]}"
        ) from None

    def ids(self) -> set[int]:
        """Every chunk id in the index (for checks; reads the whole id column)."""
        with self._guarded():
            searcher = self._live().searcher()
            n = int(searcher.num_docs)
            if n == 0:
                return set()
            hits = searcher.search(tantivy.Query.all_query(), n, count=False).hits
            return {int(i or 0) for i in searcher.fast_field_values("id", [addr for _, addr in hits])}
