"""The SQL of the postgres store's searches: filtered nearest neighbours (HNSW) and BM25 (full text).

Each function builds a query and its parameters; the store runs it on a pooled connection. Rows
start with the caller's ``columns`` (``PASSAGE_COLUMNS`` for passages, ``c.id`` for hits) and end
with the score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from psycopg.types.json import Jsonb

from qa.store.base import passage_from_row
from qa.store.filters import parse_filters
from qa.store.postgres.schema import TEXT_SEARCH_CONFIG
from qa.types import Metadata, Passage

# BM25 parameters of the lexical side (tantivy's and SQLite FTS5's defaults, so both stores rank alike).
BM25_K1 = 1.2
BM25_B = 0.75
# pgvector's HNSW returns at most ef_search rows per scan, and caps it at 1000.
MAX_EF_SEARCH = 1000

# What a passage is read from, on ``chunks c JOIN documents d``: a chunk's text is its span of the document's.
PASSAGE_COLUMNS = (
    'c.id, c.doc_id, d.title, substr(d.text, c.start + 1, c."end" - c.start), c.start, c."end",'
    " c.ordinal, c.heading, d.metadata"
)


def conditions(filters: Metadata | None) -> tuple[list[str], list[Any]]:
    """Exact-match metadata filters as SQL conditions on ``c`` (chunks) and ``d`` (documents);
    ``doc_id`` matches one id or any of a list."""
    parsed = parse_filters(filters)
    clauses: list[str] = []
    params: list[Any] = []
    if parsed.doc_ids is not None:
        clauses.append("c.doc_id = ANY(%s)")
        params.append(list(parsed.doc_ids))
    if parsed.match:
        # Containment of scalars is equality of each key's value (and uses the GIN index).
        clauses.append("d.metadata @> %s")
        params.append(Jsonb(dict(parsed.match)))
    return clauses, params


def where(filters: Metadata | None) -> tuple[str, list[Any]]:
    """``conditions`` as a WHERE clause ("" with no filter) and its parameters."""
    clauses, params = conditions(filters)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def nearest(columns: str, query: np.ndarray, k: int, filters: Metadata | None) -> tuple[str, list[Any]]:
    """``columns`` and the score of the ``k`` chunks nearest to ``query``, best first.

    Run it after ``SET LOCAL hnsw.ef_search`` (at least ``k``) in the same transaction."""
    clause, params = where(filters)
    return (
        f"SELECT {columns}, -(c.embedding <#> %s) AS score"
        f" FROM chunks c JOIN documents d ON d.id = c.doc_id{clause}"
        " ORDER BY c.embedding <#> %s LIMIT %s",
        [query, *params, query, k],
    )


def bm25(columns: str, terms: list[str], k: int, filters: Metadata | None) -> tuple[str, list[Any]] | None:
    """``columns`` and the BM25 score of the top ``k`` chunks for ``terms`` (see
    ``PostgresStore.lexical_search``); None when there is no term to look for."""
    text = " ".join(t for t in terms if t.strip())
    if not text:
        return None
    conds, params = conditions(filters)
    extra = "".join(f" AND {c}" for c in conds)
    return (
        f"""
        WITH terms AS (
            SELECT DISTINCT lexeme FROM unnest(to_tsvector('{TEXT_SEARCH_CONFIG}', %s))
        ), query AS (
            SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS q FROM terms
        ), stats AS (
            SELECT count(*)::float8 AS n, COALESCE(avg(lex_len), 0)::float8 AS avgdl FROM chunks
        ), idf AS (
            SELECT t.lexeme, GREATEST(ln((s.n - f.df + 0.5) / (f.df + 0.5)), 1e-6) AS idf
            FROM terms t CROSS JOIN stats s CROSS JOIN LATERAL (
                SELECT count(*)::float8 AS df FROM chunks c WHERE c.tsv @@ quote_literal(t.lexeme)::tsquery
            ) f
        ), hits AS (
            SELECT c.id, c.lex_len, u.lexeme,
                (SELECT sum(CASE w WHEN 'A' THEN 1.0 ELSE 0.5 END) FROM unnest(u.weights) w) AS tf
            FROM query, chunks c JOIN documents d ON d.id = c.doc_id
            CROSS JOIN LATERAL unnest(c.tsv) u
            WHERE c.tsv @@ query.q AND u.lexeme IN (SELECT lexeme FROM terms){extra}
        ), scored AS (
            SELECT h.id, sum(i.idf * h.tf * ({BM25_K1} + 1)
                / (h.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * h.lex_len / GREATEST(s.avgdl, 1e-9)))) AS score
            FROM hits h JOIN idf i USING (lexeme) CROSS JOIN stats s GROUP BY h.id
        )
        SELECT {columns}, sc.score
        FROM scored sc JOIN chunks c ON c.id = sc.id JOIN documents d ON d.id = c.doc_id
        ORDER BY sc.score DESC, c.id LIMIT %s
        """,
        [text, *params, k],
    )


def passage(r: tuple[Any, ...], score: float) -> Passage:
    """A passage from a row of ``PASSAGE_COLUMNS``."""
    return passage_from_row(r, score, r[8])
