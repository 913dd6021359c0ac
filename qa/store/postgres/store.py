"""``PostgresStore``: one index in one Postgres schema (``schema.py``), shared by many processes.

Every read sees every committed write, so a document ingested through one API replica is
searchable through another as soon as the ingest returns. A chunk's text is not stored: passages
read ``substr(documents.text, start + 1, end - start)``, and Postgres counts characters as Python
does, so a passage can never drift from its source. Each ``write`` and ``delete`` is one
transaction. The SQL of the searches is in ``queries.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from qa.access import ACCESS_FIELD
from qa.errors import InvalidInput, StorageFull
from qa.store.base import FILE_COLUMNS, INFO_COLUMNS, DocumentInfo, FileRecord, Write, document_info
from qa.store.filters import FilterSpec
from qa.store.postgres import queries, schema
from qa.store.postgres.analysis import TEXT_SEARCH_CONFIG, Analysis
from qa.store.postgres.queries import MAX_EF_SEARCH, PASSAGE_COLUMNS
from qa.store.postgres.schema import SCHEMA_VERSION, StoreUnavailable, redact, schema_name
from qa.types import Chunk, Hit, Passage, content_hash


class PostgresStore:
    """One index in one Postgres schema. Thread-safe: each call takes a pooled connection."""

    def __init__(
        self,
        url: str,
        model: str,
        dim: int,
        index_name: str = "default",
        extra: dict[str, Any] | None = None,
        ef_search: int = 100,
        pool_size: int = 8,
        new_only: bool = False,
        language: str = "en",
        lexical_stemmer: str = "auto",
        existing_only: bool = False,
    ) -> None:
        """``new_only``: the index must not exist yet (``Conflict`` if it does); ``existing_only``:
        it must exist (``IndexGone`` if it does not: no schema is made). ``language`` and
        ``lexical_stemmer`` (``QA_LANGUAGE``, ``QA_LEXICAL_STEMMER``): the lexical analysis of the
        index (``analysis.py``), recorded in a new one's manifest; an existing index made with
        another is an ``IndexMismatch``."""
        self.url = url
        self.schema = schema_name(index_name)
        self.ef_search = ef_search
        self.analysis = Analysis(language, lexical_stemmer)
        with schema.connect(url) as conn:
            self.manifest = schema.bootstrap(
                conn,
                self.schema,
                url,
                model,
                dim,
                extra or {},
                new_only,
                analysis=self.analysis,
                existing_only=existing_only,
            )
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            configure=self._configure,
            open=True,
            name=f"qa-{self.schema}",
        )

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection, in a transaction committed on success; lost connections are 503s,
        a full disk a ``StorageFull``."""
        try:
            with self.pool.connection(timeout=30) as conn:
                yield conn
        except psycopg.errors.DiskFull as exc:  # SQLSTATE 53100; its transaction was rolled back
            raise StorageFull(
                f"the Postgres server at {redact(self.url)} is out of disk space: nothing of this write "
                f"was stored ({str(exc).strip()}); free space and send it again"
            ) from exc
        except PoolTimeout as exc:
            raise StoreUnavailable(f"no free connection to {redact(self.url)} in 30 s (QA_PG_POOL_SIZE)") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"lost the connection to {redact(self.url)}: {str(exc).strip()}") from exc

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        register_vector(conn)
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.schema)))
        conn.commit()

    @staticmethod
    def stored_dim(url: str, index_name: str = "default") -> int | None:
        """The vector dimension of an existing index, or None if there is none yet."""
        return schema.stored_dim(url, index_name)

    @staticmethod
    def stored_manifest(url: str, index_name: str = "default") -> dict[str, str] | None:
        """The manifest rows of an existing index, or None if there is none yet."""
        return schema.stored_manifest(url, index_name)

    @staticmethod
    def index_names(url: str) -> list[str]:
        """The indexes in the database (schemas ``qa_<name>`` with a manifest)."""
        return schema.index_names(url)

    @staticmethod
    def drop_index(url: str, index_name: str) -> bool:
        """Drop the index's schema and everything in it; False if there was none."""
        return schema.drop_index(url, index_name)

    # -- schema and manifest ------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def save(self) -> None:
        """Nothing to do: data is durable at commit and the HNSW index is maintained by Postgres."""

    # -- writes -------------------------------------------------------------------------------

    def write(self, writes: list[Write], files: Sequence[FileRecord] = ()) -> None:
        if not writes and not files:
            return
        for w in writes:
            if w.vectors.shape != (len(w.chunks), self.manifest.dim):
                raise InvalidInput(f"vectors shape {w.vectors.shape} does not match {len(w.chunks)} chunks")
        # The last version of an id wins, and rows are locked in id order so that two
        # concurrent batches over the same documents cannot deadlock.
        latest = {w.doc.id: w for w in writes}
        now = time.time()
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            for doc_id in sorted(latest):
                w = latest[doc_id]
                # Upsert first: it takes the document's row lock, so a concurrent writer of the
                # same id waits here and then replaces our chunks rather than adding to them.
                cur.execute(
                    "INSERT INTO documents(id, title, text, metadata, source, content_hash, chunker, n_chunks,"
                    " created_at, updated_at, page_starts, path)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, text = EXCLUDED.text,"
                    " metadata = EXCLUDED.metadata, source = EXCLUDED.source,"
                    " content_hash = EXCLUDED.content_hash, chunker = EXCLUDED.chunker,"
                    " n_chunks = EXCLUDED.n_chunks, updated_at = EXCLUDED.updated_at,"
                    " page_starts = EXCLUDED.page_starts, path = EXCLUDED.path",
                    (
                        w.doc.id,
                        w.doc.title,
                        w.doc.text,
                        Jsonb(w.doc.metadata),
                        w.doc.source,
                        w.doc.content_hash,
                        w.chunker,
                        len(w.chunks),
                        now,
                        now,
                        list(w.doc.page_starts) or None,
                        w.doc.path,
                    ),
                )
                cur.execute("DELETE FROM chunks WHERE doc_id = %s", (w.doc.id,))
                if not w.chunks:
                    continue
                vecs = np.ascontiguousarray(w.vectors, dtype=np.float32)
                # Full text: the chunk body weighted A, the title and heading weighted B.
                hashes: list[str | None] = list(w.text_hashes) if w.text_hashes else [None] * len(w.chunks)
                if self.analysis.analyser is None:
                    cur.executemany(
                        'INSERT INTO chunks(doc_id, ordinal, start, "end", heading, embedding, text_hash, tsv)'
                        f" VALUES (%s, %s, %s, %s, %s, %s, %s, setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', %s), 'A')"
                        f" || setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', %s), 'B'))",
                        [
                            (
                                *(w.doc.id, c.ordinal, c.start, c.end, c.heading, v, h),
                                *(c.text, f"{w.doc.title} {c.heading or ''}"),
                            )
                            for c, v, h in zip(w.chunks, vecs, hashes, strict=True)
                        ],
                    )
                else:
                    # Any other language: qa.language's tokens, in the same layout (``Analysis.tsvector``).
                    cur.executemany(
                        'INSERT INTO chunks(doc_id, ordinal, start, "end", heading, embedding, text_hash, tsv)'
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::tsvector)",
                        [
                            (
                                *(w.doc.id, c.ordinal, c.start, c.end, c.heading, v, h),
                                self.analysis.tsvector(c.text, f"{w.doc.title} {c.heading or ''}"),
                            )
                            for c, v, h in zip(w.chunks, vecs, hashes, strict=True)
                        ],
                    )
            self._record_files(cur, files)

    @staticmethod
    def _record_files(cur: psycopg.Cursor[Any], files: Sequence[FileRecord]) -> None:
        """Record ``files`` and remove the documents of their source and path that they no longer give."""
        for f in files:
            cur.execute(
                "DELETE FROM documents WHERE source = %s AND path = %s AND NOT (id = ANY(%s))",
                (f.source, f.path, list(f.doc_ids)),
            )
            # A record vouches for its documents: one whose documents are not all there (deleted
            # by another process since the sync read it) is not written, so the file is read again.
            cur.execute("SELECT count(*) FROM documents WHERE id = ANY(%s)", (list(f.doc_ids),))
            found = cur.fetchone()
            if found is None or found[0] != len(set(f.doc_ids)):
                continue
            cur.execute(
                f"INSERT INTO files({FILE_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source, path) DO UPDATE SET"
                " size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns, ctime_ns = EXCLUDED.ctime_ns,"
                " sha256 = EXCLUDED.sha256, fingerprint = EXCLUDED.fingerprint, doc_ids = EXCLUDED.doc_ids",
                (f.source, f.path, f.size, f.mtime_ns, f.ctime_ns, f.sha256, f.fingerprint, list(f.doc_ids)),
            )

    def delete(self, doc_id: str) -> bool:
        with self._conn() as conn:
            cur = conn.execute("DELETE FROM documents WHERE id = %s RETURNING source, path", (doc_id,))
            row = cur.fetchone()
            if row is not None:
                conn.execute("DELETE FROM files WHERE source = %s AND path = %s", row)
            return row is not None

    def forget_files(self, source: str, paths: Sequence[str]) -> list[str]:
        with self._conn() as conn, conn.transaction():
            rows = conn.execute(
                "DELETE FROM documents WHERE source = %s AND path = ANY(%s) RETURNING id", (source, list(paths))
            ).fetchall()
            conn.execute("DELETE FROM files WHERE source = %s AND path = ANY(%s)", (source, list(paths)))
        return [r[0] for r in rows]

    def file_records(self, source: str) -> dict[str, FileRecord]:
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {FILE_COLUMNS} FROM files WHERE source = %s", (source,)).fetchall()
        return {r[1]: FileRecord.of_row(r, r[7]) for r in rows}

    def source_paths(self, source: str) -> set[str]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT DISTINCT path FROM documents WHERE source = %s AND path IS NOT NULL", (source,)
            ).fetchall()
        return {r[0] for r in rows}

    # -- reads --------------------------------------------------------------------------------

    _INFO_COLS = INFO_COLUMNS

    @staticmethod
    def _info(row: tuple[Any, ...]) -> DocumentInfo:
        return document_info(row, row[2], row[10])  # jsonb and integer[] arrive decoded

    def get(self, doc_id: str) -> DocumentInfo | None:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {self._INFO_COLS} FROM documents WHERE id = %s", (doc_id,)).fetchone()
        return self._info(row) if row else None

    def get_text(self, doc_id: str) -> str | None:
        with self._conn() as conn:
            row = conn.execute("SELECT text FROM documents WHERE id = %s", (doc_id,)).fetchone()
        return row[0] if row else None

    def page_starts(self, chunk_ids: list[int]) -> dict[int, tuple[int, ...]]:
        """The page offsets of the documents of these chunks (those with pages), by chunk id."""
        if not chunk_ids:
            return {}
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT c.id, d.page_starts FROM chunks c JOIN documents d ON d.id = c.doc_id"
                " WHERE c.id = ANY(%s) AND d.page_starts IS NOT NULL",
                ([int(i) for i in chunk_ids],),
            ).fetchall()
        return {int(r[0]): tuple(r[1]) for r in rows}

    def list_documents(
        self, offset: int = 0, limit: int = 50, access: tuple[str, ...] | None = None
    ) -> tuple[list[DocumentInfo], int]:
        where, params = ("", []) if access is None else queries.access_condition(access)
        where = f" WHERE {where}" if where else ""
        with self._conn() as conn:
            total = conn.execute(f"SELECT count(*) FROM documents d{where}", params).fetchone()[0]  # type: ignore[index]
            rows = conn.execute(
                f"SELECT {self._INFO_COLS} FROM documents d{where} ORDER BY id LIMIT %s OFFSET %s",
                [*params, limit, offset],
            ).fetchall()
        return [self._info(r) for r in rows], total

    def set_access(self, doc_id: str, access: list[str] | None) -> bool:
        """Replace a document's access list (its metadata ``access``) and content hash; chunks untouched."""
        with self._conn() as conn, conn.transaction():
            row = conn.execute(
                "SELECT title, text, metadata, page_starts FROM documents WHERE id = %s FOR UPDATE", (doc_id,)
            ).fetchone()
            if row is None:
                return False
            metadata = dict(row[2])
            metadata.pop(ACCESS_FIELD, None)
            if access is not None:
                metadata[ACCESS_FIELD] = access
            digest = content_hash(row[0], row[1], metadata, row[3] or ())
            conn.execute(
                "UPDATE documents SET metadata = %s, content_hash = %s, updated_at = %s WHERE id = %s",
                (Jsonb(metadata), digest, time.time(), doc_id),
            )
        return True

    def _nearest(self, columns: str, vector: np.ndarray, k: int, filters: FilterSpec | None) -> list[tuple[Any, ...]]:
        """``columns`` and the score of the ``k`` chunks nearest to ``vector``, best first."""
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        if query.shape != (self.manifest.dim,):
            raise InvalidInput(f"query vector has shape {query.shape}, expected ({self.manifest.dim},)")
        statement, params = queries.nearest(columns, query, k, filters)
        ef = min(MAX_EF_SEARCH, max(self.ef_search, k))
        with self._conn() as conn, conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
            # With a filter, keep scanning the graph until k rows pass it (pgvector >= 0.8).
            conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            return conn.execute(statement, params).fetchall()

    def search(self, vector: np.ndarray, k: int, filters: FilterSpec | None = None) -> list[Passage]:
        # One query for hits and passages: a round trip less than passages(search_hits(...)).
        return [queries.passage(r, float(r[9])) for r in self._nearest(PASSAGE_COLUMNS, vector, k, filters)]

    def search_hits(self, vector: np.ndarray, k: int, filters: FilterSpec | None = None) -> list[Hit]:
        """``search``'s (chunk id, score) pairs, best first, without fetching the passages."""
        return [(int(r[0]), float(r[1])) for r in self._nearest("c.id", vector, k, filters)]

    def passages(self, hits: list[Hit]) -> list[Passage]:
        """The passages of (chunk id, score) pairs, in their order, each with its score. Chunk ids
        are never reused, so a hit whose chunk was deleted or replaced since is left out rather
        than shown with other text."""
        if not hits:
            return []
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {PASSAGE_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ANY(%s)",
                ([int(h[0]) for h in hits],),
            ).fetchall()
        by_id = {r[0]: r for r in rows}
        return [queries.passage(by_id[chunk_id], score) for chunk_id, score in hits if chunk_id in by_id]

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A no-op: each read is its own READ COMMITTED transaction and sees the latest commit.

        Not a REPEATABLE READ transaction, because that would pin a pooled connection (and add a
        round trip) for every search, while a hybrid search needs no more than this: chunk ids are
        never reused, so ``passages`` of hits taken before a concurrent write either finds the very
        chunks ranked or leaves out the ones that write removed; it never cites changed text."""
        yield

    def lexical_search(
        self, terms: list[str], k: int, filters: FilterSpec | None = None, exact: Sequence[str] = ()
    ) -> list[Passage]:
        """BM25 over chunk text and title/heading, any of ``terms``; higher scores are better.
        ``exact`` tokens found case kept weigh their word more (``queries.bm25``).

        SQLite FTS5's ``bm25()`` formula (k1 1.2, b 0.75, idf ``ln((N - df + 0.5) / (df + 0.5))``
        floored at 1e-6, body words weigh 1.0 and title/heading words 0.5), computed from the
        ``tsvector`` (stemmed English, or ``qa.language``'s analysis of ``QA_LANGUAGE``: the embedded
        store's very tokens); the embedded store's tantivy BM25 (one field, idf
        ``ln(1 + (N - df + 0.5) / (df + 0.5))``) ranks closely but not identically. The GIN index finds the
        matching chunks; scoring reads each match's lexemes, and N and the mean length are counted
        per query, so the cost grows with the number of matches and, mildly, with the corpus.
        """
        return [queries.passage(r, float(r[9])) for r in self._bm25(PASSAGE_COLUMNS, terms, k, filters, exact)]

    def lexical_hits(
        self, terms: list[str], k: int, filters: FilterSpec | None = None, exact: Sequence[str] = ()
    ) -> list[Hit]:
        """``lexical_search``'s (chunk id, score) pairs, best first, without fetching the passages."""
        return [(int(r[0]), float(r[1])) for r in self._bm25("c.id", terms, k, filters, exact)]

    def _bm25(
        self, columns: str, terms: list[str], k: int, filters: FilterSpec | None, exact: Sequence[str] = ()
    ) -> list[tuple[Any, ...]]:
        """``columns`` and the BM25 score of the top ``k`` chunks for ``terms`` (see ``lexical_search``)."""
        query = queries.bm25(columns, terms, k, filters, exact, self.analysis)
        if query is None:
            return []
        with self._conn() as conn:
            return conn.execute(*query).fetchall()

    def vectors(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        """Stored vectors of the given chunks."""
        if not chunk_ids:
            return {}
        with self._conn() as conn:
            rows = conn.execute("SELECT id, embedding FROM chunks WHERE id = ANY(%s)", (list(chunk_ids),)).fetchall()
        return {r[0]: np.asarray(r[1].to_numpy(), dtype=np.float32) for r in rows}

    def vectors_by_hash(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks whose embedding text has one of ``hashes`` (the embedding cache)."""
        if not hashes:
            return {}
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT DISTINCT ON (text_hash) text_hash, embedding FROM chunks WHERE text_hash = ANY(%s)",
                (list(dict.fromkeys(hashes)),),
            ).fetchall()
        return {r[0]: np.asarray(r[1].to_numpy(), dtype=np.float32) for r in rows}

    def document_chunks(self, doc_id: str) -> tuple[list[Chunk], np.ndarray]:
        """A document's chunks in order with their stored vectors (for `qa export`)."""
        with self._conn() as conn:
            rows = conn.execute(
                'SELECT c.ordinal, c.start, c."end", c.heading, c.embedding,'
                ' substr(d.text, c.start + 1, c."end" - c.start)'
                " FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.doc_id = %s ORDER BY c.ordinal",
                (doc_id,),
            ).fetchall()
        chunks = [Chunk(doc_id, r[0], r[1], r[2], r[5], r[3]) for r in rows]
        vecs = np.asarray([r[4].to_numpy() for r in rows], dtype=np.float32).reshape(len(rows), self.manifest.dim)
        return chunks, vecs

    def counts(self) -> dict[str, Any]:
        with self._conn() as conn:
            docs = conn.execute("SELECT count(*) FROM documents").fetchone()
            chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()
        assert docs and chunks
        return {"documents": docs[0], "chunks": chunks[0], "model": self.manifest.model}

    def stats(self) -> dict[str, Any]:
        with self._conn() as conn:
            docs = conn.execute("SELECT count(*), COALESCE(sum(length(text)), 0) FROM documents").fetchone()
            chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()
            size = conn.execute(
                "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                (self.schema,),
            ).fetchone()
            version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        assert docs and chunks and size and version
        return {
            "store": "postgres",
            "url": redact(self.url),
            "schema": self.schema,
            "documents": docs[0],
            "chars": int(docs[1]),
            "chunks": chunks[0],
            "vectors": chunks[0],
            "model": self.manifest.model,
            "dim": self.manifest.dim,
            "format_version": self.manifest.format_version,
            "schema_version": version[0],
            "ef_search": self.ef_search,
            "bytes_on_disk": int(size[0]),
        }

    def verify(self) -> list[str]:
        """Problems found in the index: documents whose chunk count is not the one written (each
        write is one transaction, so only a change made behind the store's back does that) and a
        schema version other than this qa's. Postgres checks its own files and indexes (amcheck)."""
        with self._conn() as conn:
            half = conn.execute(
                "SELECT d.id, d.n_chunks, count(c.id) FROM documents d LEFT JOIN chunks c ON c.doc_id = d.id"
                " GROUP BY d.id HAVING count(c.id) != d.n_chunks ORDER BY d.id LIMIT 5"
            ).fetchall()
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        problems = [f"document {i!r} has {n} of its {want} chunks; re-index it" for i, want, n in half]
        version = row[0] if row else None
        if version != SCHEMA_VERSION:
            problems.append(f"{self.schema} has schema version {version}, this qa expects {SCHEMA_VERSION}")
        return problems

    def repair(self) -> dict[str, Any]:
        """Nothing here is derived data qa could rebuild: Postgres maintains its own indexes.

        Raises:
            InvalidInput: always, saying which tools repair a Postgres store.
        """
        raise InvalidInput(
            "qa repair rebuilds the embedded store's derived files; a Postgres store (QA_STORE) is repaired "
            "with Postgres' own tools (REINDEX, VACUUM, restoring a backup)"
        )

    def problems(self) -> list[str]:
        """Nothing: Postgres reports its own damage (a query fails with its error)."""
        return []

    def close(self) -> None:
        self.pool.close()
