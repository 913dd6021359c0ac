"""The postgres store's lexical analysis (qa/store/postgres/analysis.py), without a database: the
tsvector literal of qa.language's tokens, Postgres's limits, and what the manifest records."""

from __future__ import annotations

import pytest

from qa.errors import IndexMismatch
from qa.language import Analyser
from qa.store.postgres.analysis import MAX_POSITION, MAX_POSITIONS, Analysis, quote_lexeme, tsvector_literal


def test_english_records_what_it_always_did() -> None:
    english = Analysis("en")
    assert english.analyser is None and english.spec is None
    assert english.manifest_rows() == {"text_search_config": "english"}
    english.check({"text_search_config": "english"}, "here")  # an index made before languages


def test_a_chunk_is_its_text_then_its_title_with_their_weights() -> None:
    de = Analysis("de")
    literal = de.tsvector("Die Werkzeugen der Werkzeug", "Bibliothek Ausleihe")
    assert literal == "'die':1A 'werkzeug':2A,4A 'der':3A 'bibliothek':5B 'ausleih':6B"
    zh = Analysis("zh")
    assert zh.tsvector("图书馆", "图书") == "'图书':1A,3B '书馆':2A"
    # A question's lexemes are the tokens the embedded store's tantivy index is searched for.
    analyser = Analyser.of("zh")
    terms = analyser.query_terms("图书馆出借什么？")
    assert zh.query_lexemes(terms) == analyser.tokens(terms) == ["图书", "书馆", "馆出", "出借", "借什", "什么"]
    # An exact token's lexemes are what the index made of it ("-V" is the word "v").
    assert de.lexemes("-V") == ["v"]


def test_postgres_limits_are_applied_as_postgres_would() -> None:
    # At most 256 positions per lexeme (its term frequency stops there).
    assert tsvector_literal([(["a"] * 300, "A")]).count(",") == MAX_POSITIONS - 1
    # Positions past 16383 are 16383, once per lexeme.
    literal = tsvector_literal([(["x"] * (MAX_POSITION - 2) + ["b", "c", "b", "c"], "A"), (["b"], "B")])
    assert literal.endswith(f"'b':{MAX_POSITION - 1}A,{MAX_POSITION}A 'c':{MAX_POSITION}A")
    # Quotes and backslashes are doubled.
    assert quote_lexeme("l'eau") == "'l''eau'" and quote_lexeme("a\\b") == "'a\\\\b'"
    assert tsvector_literal([([], "A"), ([], "B")]) == ""


def test_another_language_or_analysis_is_refused() -> None:
    de = Analysis("de")
    rows = de.manifest_rows()
    assert rows["language"] == "de" and rows["text_search_config"] == "qa.language"
    assert Analyser.of("de").spec in rows["lexical_analysis"]
    de.check(rows, "index qa_x")
    with pytest.raises(IndexMismatch, match="built for QA_LANGUAGE=de.*not QA_LANGUAGE=fr"):
        Analysis("fr").check(rows, "index qa_x")
    with pytest.raises(IndexMismatch, match="built for QA_LANGUAGE=de.*not QA_LANGUAGE=en"):
        Analysis("en").check(rows, "index qa_x")
    with pytest.raises(IndexMismatch, match="built for QA_LANGUAGE=en"):
        de.check({"text_search_config": "english"}, "index qa_x")
    with pytest.raises(IndexMismatch, match="analysed as"):
        Analysis("de", "none").check(rows, "index qa_x")
