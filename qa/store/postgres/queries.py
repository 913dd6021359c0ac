"""The SQL of the postgres store's searches: filtered nearest neighbours (HNSW) and BM25 (full text).

Each function builds a query and its parameters; the store runs it on a pooled connection. Rows
start with the caller's ``columns`` (``PASSAGE_COLUMNS`` for passages, ``c.id`` for hits) and end
with the score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from psycopg.types.json import Jsonb

from qa.store.base import passage_from_row
from qa.store.filters import FilterSpec, parse_filters
from qa.store.postgres.analysis import TEXT_SEARCH_CONFIG, Analysis
from qa.terms import case_variants
from qa.types import Passage

# BM25 parameters of the lexical side (tantivy's and SQLite FTS5's defaults, so both stores rank alike).
BM25_K1 = 1.2
BM25_B = 0.75
# pgvector's HNSW returns at most ef_search rows per scan, and caps it at 1000.
MAX_EF_SEARCH = 1000
# An option or conversion the question names ("-V", "%D"), found as written in a chunk, multiplies
# its word's BM25 there by 1 + this (the embedded store adds the token's BM25 in its case-sensitive
# field times its EXACT_BOOST, also 1: close, not identical).
EXACT_BOOST = 1.0

# What a passage is read from, on ``chunks c JOIN documents d``: a chunk's text is its span of the document's.
PASSAGE_COLUMNS = (
    'c.id, c.doc_id, d.title, substr(d.text, c.start + 1, c."end" - c.start), c.start, c."end",'
    " c.ordinal, c.heading, d.metadata"
)


def conditions(filters: FilterSpec | None) -> tuple[list[str], list[Any]]:
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
    if parsed.access is not None:
        clause, more = access_condition(parsed.access)
        clauses.append(clause)
        params += more
    return clauses, params


def access_condition(identities: tuple[str, ...]) -> tuple[str, list[Any]]:
    """A condition on ``d`` (documents) that the document is visible to ``identities``
    (``qa.access``): it has no access list, or its list names one of them."""
    return (
        "(jsonb_typeof(d.metadata -> 'access') IS DISTINCT FROM 'array' OR d.metadata -> 'access' ?| %s::text[])",
        [list(identities)],
    )


def where(filters: FilterSpec | None) -> tuple[str, list[Any]]:
    """``conditions`` as a WHERE clause ("" with no filter) and its parameters."""
    clauses, params = conditions(filters)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def nearest(columns: str, query: np.ndarray, k: int, filters: FilterSpec | None) -> tuple[str, list[Any]]:
    """``columns`` and the score of the ``k`` chunks nearest to ``query``, best first.

    Run it after ``SET LOCAL hnsw.ef_search`` (at least ``k``) in the same transaction."""
    clause, params = where(filters)
    return (
        f"SELECT {columns}, -(c.embedding <#> %s) AS score"
        f" FROM chunks c JOIN documents d ON d.id = c.doc_id{clause}"
        " ORDER BY c.embedding <#> %s LIMIT %s",
        [query, *params, query, k],
    )


def exact_pattern(tokens: Sequence[str]) -> str:
    """A Postgres regular expression (ARE) that finds any of ``tokens`` as a whole token, case
    kept: not inside a longer word or option ("-V" not in "-Vx" nor "a-V")."""
    either = "|".join(re.escape(t) for t in tokens)
    return f"(^|[^[:alnum:]_-])({either})($|[^[:alnum:]_-])"


def bm25(
    columns: str,
    terms: list[str],
    k: int,
    filters: FilterSpec | None,
    exact: Sequence[str] = (),
    analysis: Analysis | None = None,
) -> tuple[str, list[Any]] | None:
    """``columns`` and the BM25 score of the top ``k`` chunks for ``terms`` (see
    ``PostgresStore.lexical_search``); None when there is no term to look for.

    ``exact`` are the question's exact tokens: one that case can confuse ("-V", not "NFL":
    ``qa.terms.case_variants``) takes its word (lexemes) from the chunks whose title, heading or
    text spell it only another way ("-v"), as in the embedded store; an option or conversion found
    as written weighs its word ``1 + EXACT_BOOST`` times there. Found by regular expressions
    over the chunks that match the words anyway, so there is no column to build or migrate. A
    token whose word is an English stop word ("-a", "-i") is not looked for: Postgres drops the
    word, and finding the token as written would take a scan (the embedded store finds it).

    ``analysis``: the index's lexical analysis (``analysis.py``). English's (the default) finds
    lexemes with ``to_tsvector`` here; any other language's are computed in Python, the question's
    (``Analysis.query_lexemes``) and each exact token's (``Analysis.lexemes``), and passed as arrays:
    the rest of the query is the same."""
    own = analysis if analysis is not None and analysis.analyser is not None else None
    lexemes: str | list[str]
    if own is not None:
        lexemes = own.query_lexemes(terms)
        terms_from = "unnest(%s::text[]) AS t(lexeme)"
    else:
        lexemes = " ".join(t for t in terms if t.strip())
        terms_from = f"unnest(to_tsvector('{TEXT_SEARCH_CONFIG}', %s))"
    if not lexemes:
        return None
    conds, params = conditions(filters)
    extra = "".join(f" AND {c}" for c in conds)
    tokens = [t for t in dict.fromkeys(exact) if t.strip() and case_variants(t)]
    exact_cte = exact_col = ""
    keep, boost = "TRUE", "1"
    exact_params: list[Any] = []
    if tokens:
        # Per token: its lexemes, a pattern for it as written and one for its other spellings.
        # A (chunk, lexeme) is dropped when the chunk spells some token of that lexeme only
        # another way: it holds one of their variants and none of the tokens.
        variants = [[v for v in case_variants(t) if v not in tokens] or [t] for t in tokens]
        asked, other = [exact_pattern([t]) for t in tokens], [exact_pattern(v) for v in variants]
        if own is not None:
            # One row per (lexeme, token): the lexemes the index made of each token.
            rows = [(lx, t, a, o) for t, a, o in zip(tokens, asked, other, strict=True) for lx in own.lexemes(t)]
            exact_cte = """exact AS (
            SELECT x.lexeme, x.asked, x.other, x.token ~ '^[-%%]' AS code
            FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS x(lexeme, token, asked, other)
        ), """
            exact_params = [[r[i] for r in rows] for i in range(4)]
        else:
            exact_cte = f"""exact AS (
            SELECT l.lexeme, x.asked, x.other, x.token ~ '^[-%%]' AS code
            FROM unnest(%s::text[], %s::text[], %s::text[]) AS x(token, asked, other)
            CROSS JOIN LATERAL unnest(to_tsvector('{TEXT_SEARCH_CONFIG}', x.token)) l
        ), """
            exact_params = [tokens, asked, other]
        chunk_text = (
            "(d.title || ' ' || COALESCE(c.heading, '') || ' ' || substr(d.text, c.start + 1, c.\"end\" - c.start))"
        )
        exact_col = f""", (
                EXISTS (SELECT 1 FROM exact e WHERE e.lexeme = u.lexeme AND {chunk_text} ~ e.other)
                AND NOT EXISTS (SELECT 1 FROM exact e WHERE e.lexeme = u.lexeme AND {chunk_text} ~ e.asked)
            ) AS spelt_otherwise,
            EXISTS (SELECT 1 FROM exact e WHERE e.lexeme = u.lexeme AND e.code AND {chunk_text} ~ e.asked) AS code"""
        keep = "NOT h.spelt_otherwise"
        boost = f"CASE WHEN h.code THEN {1 + EXACT_BOOST} ELSE 1 END"
    return (
        f"""
        WITH {exact_cte}terms AS (
            SELECT DISTINCT lexeme FROM {terms_from}
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
                (SELECT sum(CASE w WHEN 'A' THEN 1.0 ELSE 0.5 END) FROM unnest(u.weights) w) AS tf{exact_col}
            FROM query, chunks c JOIN documents d ON d.id = c.doc_id
            CROSS JOIN LATERAL unnest(c.tsv) u
            WHERE c.tsv @@ query.q AND u.lexeme IN (SELECT lexeme FROM terms){extra}
        ), scored AS (
            SELECT h.id, sum(i.idf * h.tf * ({BM25_K1} + 1) * {boost}
                / (h.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * h.lex_len / GREATEST(s.avgdl, 1e-9)))) AS score
            FROM hits h JOIN idf i USING (lexeme) CROSS JOIN stats s WHERE {keep} GROUP BY h.id
        )
        SELECT {columns}, sc.score
        FROM scored sc JOIN chunks c ON c.id = sc.id JOIN documents d ON d.id = c.doc_id
        ORDER BY sc.score DESC, c.id LIMIT %s
        """,
        [*exact_params, lexemes, *params, k],
    )


def passage(r: tuple[Any, ...], score: float) -> Passage:
    """A passage from a row of ``PASSAGE_COLUMNS``."""
    return passage_from_row(r, score, r[8])
