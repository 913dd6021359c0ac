"""The postgres store's lexical analysis: what each chunk's ``tsvector`` holds and a question's lexemes.

English (``QA_LANGUAGE=en``, the default) is Postgres's own ``english`` text search configuration
(``TEXT_SEARCH_CONFIG``), as it always was: ``to_tsvector`` in the SQL, the manifest's
``text_search_config`` row, nothing else recorded, so indexes made before languages open unchanged.

Any other language is ``qa.language``'s analysis (``Analyser``), computed in Python, so a chunk's
lexemes are exactly the tokens the embedded store's tantivy index holds for the same text, and a
question's lexemes are the tokens tantivy would search (``Analyser.tokens`` of its query terms).
A chunk's ``tsvector`` is written as a literal: its text's tokens at positions 1..n weighted A,
then its title and heading's at n+1.. weighted B, the layout ``setweight(to_tsvector(text), 'A')
|| setweight(to_tsvector(title heading), 'B')`` gives English, so the BM25 of ``queries.bm25``
(which counts a lexeme's positions per weight) reads both alike. The manifest records
``language`` and ``lexical_analysis`` (the analyser's spec with this layout's version); opening
the index with another language or analysis is an ``IndexMismatch`` (``check``): the rows were
analysed once, when written, and many processes may share the index, so it is not rebuilt under them.

Postgres's ``tsvector`` limits apply as they do to ``to_tsvector``: positions past 16383 are
16383 (so a lexeme counts at most once more from there on), a lexeme keeps at most 256
positions (its term frequency stops counting there; tantivy counts on), lexemes are under 2 KB
(tokens are at most ``MAX_TOKEN_CHARS`` characters: never reached) and a whole ``tsvector`` under
1 MB (Postgres refuses the write; a chunk is at most 8,192 model tokens, far below). A chunk's
length (``lex_len``) is its positions kept, as for English.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.errors import IndexMismatch
from qa.language import Analyser

# Postgres full-text configuration of the English lexical side (stemmed English, like BM25 setups).
TEXT_SEARCH_CONFIG = "english"
# ``text_search_config`` of an index of any other language: its lexemes come from qa.language.
QA_ANALYSIS = "qa.language"
# The layout of the tsvector literal (weights, positions); a change is another ``lexical_analysis``.
LAYOUT_VERSION = 1
# Postgres's tsvector limits (``MAXENTRYPOS`` - 1 and ``MAXNUMPOS``).
MAX_POSITION = 16383
MAX_POSITIONS = 256
# Weights of a chunk's text and of its title and heading (``queries.bm25``: A 1.0, others 0.5).
TEXT_WEIGHT = "A"
TITLE_WEIGHT = "B"


def quote_lexeme(lexeme: str) -> str:
    """``lexeme`` quoted for a tsvector literal: single quotes and backslashes doubled."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(parts: Sequence[tuple[Sequence[str], str]]) -> str:
    """The tsvector of token lists, each with its weight, one after the other (positions 1, 2...
    across them), within Postgres's limits (module docstring)."""
    positions: dict[str, list[str]] = {}
    clamped: set[str] = set()
    pos = 0
    for tokens, weight in parts:
        for token in tokens:
            pos += 1
            if not token:
                continue
            kept = positions.setdefault(token, [])
            if len(kept) >= MAX_POSITIONS:
                continue
            if pos >= MAX_POSITION:
                # Postgres makes every later position 16383 and keeps one per lexeme (the first
                # written here, the text's, has the higher weight, as Postgres would keep).
                if token in clamped:
                    continue
                clamped.add(token)
            kept.append(f"{min(pos, MAX_POSITION)}{weight}")
    return " ".join(f"{quote_lexeme(t)}:{','.join(p)}" for t, p in positions.items())


class Analysis:
    """The lexical analysis of one Postgres index: English's ``to_tsvector``, or ``Analyser``'s."""

    def __init__(self, language: str = "en", stemmer: str = "auto") -> None:
        """``stemmer`` is ``QA_LEXICAL_STEMMER``; English's Postgres configuration has its own
        (Snowball English) whatever it says, as before languages existed."""
        self.language = language
        self.analyser: Analyser | None = None if language == "en" else Analyser.of(language, stemmer)

    @property
    def spec(self) -> str | None:
        """What the manifest's ``lexical_analysis`` records: None for English (nothing recorded)."""
        if self.analyser is None:
            return None
        return f"tsvector v{LAYOUT_VERSION} text {TEXT_WEIGHT} title heading {TITLE_WEIGHT}; {self.analyser.spec}"

    def manifest_rows(self) -> dict[str, str]:
        """The manifest rows of a new index: English's as they always were."""
        if self.analyser is None:
            return {"text_search_config": TEXT_SEARCH_CONFIG}
        assert self.spec is not None
        return {"text_search_config": QA_ANALYSIS, "language": self.language, "lexical_analysis": self.spec}

    def check(self, rows: dict[str, str], where: str) -> None:
        """That the index whose manifest is ``rows`` was analysed as this analysis analyses.

        Raises:
            IndexMismatch: another language (an index without a ``language`` row is English), or
                the same language analysed otherwise (another ``QA_LEXICAL_STEMMER``, or a qa whose
                analysis of the language changed: the embedded store rebuilds its lexical index then).
        """
        stored = rows.get("language", "en")
        if stored != self.language:
            raise IndexMismatch(
                f"{where} was built for QA_LANGUAGE={stored}: its lexical side (BM25) holds that language's "
                f"terms, not QA_LANGUAGE={self.language}'s; set QA_LANGUAGE={stored}, or move it to "
                f"QA_LANGUAGE={self.language} with `qa export` and `qa import` into a new QA_INDEX_NAME"
            )
        if self.analyser is not None and rows.get("lexical_analysis") != self.spec:
            raise IndexMismatch(
                f"{where} was analysed as {rows.get('lexical_analysis')!r}, these settings analyse "
                f"{self.spec!r} (another QA_LEXICAL_STEMMER, or a version of qa that analyses the language "
                "otherwise); use the settings it was built with, or move it with `qa export` and `qa import` "
                "into a new QA_INDEX_NAME"
            )

    def tsvector(self, text: str, title: str) -> str:
        """The tsvector literal of a chunk: ``text`` (its text) weighted A, then ``title`` (its
        document's title and its heading) weighted B. Not for English (``to_tsvector`` in SQL)."""
        assert self.analyser is not None
        a = self.analyser
        return tsvector_literal([(a.index_tokens(text), TEXT_WEIGHT), (a.index_tokens(title), TITLE_WEIGHT)])

    def query_lexemes(self, terms: Sequence[str]) -> list[str]:
        """The lexemes of a question's ``terms`` (``Analyser.query_terms``), once each: the tokens
        the embedded store's tantivy index is searched for."""
        assert self.analyser is not None
        return [t for t in self.analyser.tokens(terms) if t]

    def lexemes(self, text: str) -> list[str]:
        """The lexemes a chunk holding ``text`` holds for it, once each (an exact token's word:
        "-V" is "v", as ``to_tsvector`` makes it for English)."""
        assert self.analyser is not None
        return [t for t in dict.fromkeys(self.analyser.index_tokens(text)) if t]
