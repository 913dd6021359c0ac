"""Languages: how text in each is cut into lexical terms (``QA_LANGUAGE``).

English (``en``, the default) is ``qa.terms``'s analyser, unchanged: ``\\w+`` words, qa's own
English stop words, and tantivy's simple tokenizer, ASCII folding and Snowball English stemming on
the index. Every other language gets one pipeline, the same on the index, the query and the
answerer's term overlap, so what a question's word becomes is what the document's word became:

1. words: NFKC (full-width Latin and digits, Arabic presentation forms become the plain letters),
   lower-cased, then maximal runs of letters, digits *and combining marks* (``\\w`` has no marks, and
   cuts "हिन्दी" at its virama and vowel signs; so does tantivy's simple tokenizer), zero-width
   joiners kept inside and then dropped;
2. Chinese and Japanese (Han, Hiragana, Katakana), which have no spaces: each run becomes its
   overlapping character bigrams, as Lucene's CJKAnalyzer does ("北京大学" -> 北京 京大 大学; a
   single character stays a unigram). Chosen over a dictionary segmenter (jieba) on principle: no
   dictionary to go stale on names and domain terms, the same for Japanese, and no dependency;
   jieba was measured beside it (evals/reports/xquad-languages/);
3. stop words (dropped from queries and from the answerer's overlap, kept in the index, as for
   English): Snowball's lists as tantivy ships them, where it has one (da de es fi fr hu it nl no
   pt ru sv); none elsewhere;
4. tantivy filters: words over ``MAX_TOKEN_CHARS`` dropped, lower-cased, the language's Snowball
   stemmer (tantivy's, where it has one), then ASCII folding (after stemming: the stemmers are
   defined over their accented alphabets).

``multilingual`` is steps 1-2 alone: no stemming, no stop words, for a collection that mixes
languages. Thai (no spaces, and no bigram scheme as standard as CJK's) is not segmented: its runs
stay whole words.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import regex
import tantivy

from qa import terms as english

# Words longer than this are dropped (hashes, base64); the lexical index's limit too.
MAX_TOKEN_CHARS = 40

_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\u30fc"
# A CJK run, or a run of letters, digits and combining marks that holds no CJK character.
_WORD = regex.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[\p{{L}}\p{{M}}\p{{N}}\u200c\u200d])+")
_JOINERS = str.maketrans("", "", "\u200c\u200d")


@dataclass(frozen=True)
class Language:
    """One ``QA_LANGUAGE`` value: its Snowball stemmer and stop word list as tantivy names them."""

    code: str
    name: str
    stemmer: str | None = None
    stopwords: str | None = None


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "english", "english"),
        Language("ar", "Arabic", "arabic"),
        Language("da", "Danish", "danish", "danish"),
        Language("de", "German", "german", "german"),
        Language("el", "Greek", "greek"),
        Language("es", "Spanish", "spanish", "spanish"),
        Language("fi", "Finnish", "finnish", "finnish"),
        Language("fr", "French", "french", "french"),
        Language("hi", "Hindi"),
        Language("hu", "Hungarian", "hungarian", "hungarian"),
        Language("it", "Italian", "italian", "italian"),
        Language("ja", "Japanese"),
        Language("nl", "Dutch", "dutch", "dutch"),
        Language("no", "Norwegian", "norwegian", "norwegian"),
        Language("pt", "Portuguese", "portuguese", "portuguese"),
        Language("ro", "Romanian", "romanian"),
        Language("ru", "Russian", "russian", "russian"),
        Language("sv", "Swedish", "swedish", "swedish"),
        Language("ta", "Tamil", "tamil"),
        Language("tr", "Turkish", "turkish"),
        Language("zh", "Chinese"),
        Language("multilingual", "any (language-neutral)"),
    )
}
STEMMER_CHOICES = ("auto", "english", "none")


def language(code: str) -> Language:
    """The ``Language`` of a ``QA_LANGUAGE`` code; ``ValueError`` naming the choices otherwise."""
    try:
        return LANGUAGES[code]
    except KeyError:
        raise ValueError(f"language {code!r} is not one of {', '.join(LANGUAGES)}") from None


def bigrams(run: str) -> list[str]:
    """Overlapping character bigrams of a CJK run; a single character is its own term."""
    return [run] if len(run) < 2 else [run[i : i + 2] for i in range(len(run) - 1)]


def words(text: str, cjk: Callable[[str], list[str]] = bigrams) -> list[str]:
    """The language-neutral words of ``text`` (steps 1 and 2 of the module docstring), in order;
    ``cjk`` cuts each Chinese or Japanese run (another segmenter can be measured in its place)."""
    out: list[str] = []
    for m in _WORD.finditer(unicodedata.normalize("NFKC", text).lower()):
        w = m.group()
        if _is_cjk(w[0]):
            out.extend(cjk(w))
        elif w := w.translate(_JOINERS):
            out.append(w)
    return out


def _is_cjk(ch: str) -> bool:
    return _CJK_CHAR.match(ch) is not None


_CJK_CHAR = regex.compile(rf"[{_CJK}]")


class Analyser:
    """The lexical analysis of one language with one stemmer choice: the tantivy analyzer of the
    index, the query terms of BM25 and the terms the answerer and second stage compare.

    ``Analyser.of("en")`` is exactly ``qa.terms``'s English analysis, as before languages existed."""

    def __init__(self, code: str = "en", stemmer: str = "auto", split: Callable[[str], list[str]] = words) -> None:
        """``split`` cuts text into words (``words``; another segmenter can be measured against it:
        evals/cjk_segmentation.py)."""
        if stemmer not in STEMMER_CHOICES:
            raise ValueError(f"lexical stemmer {stemmer!r} is not one of {', '.join(STEMMER_CHOICES)}")
        self.language = language(code)
        self.english = code == "en"
        self.words = split
        self.stemmer = self.language.stemmer if stemmer == "auto" else None if stemmer == "none" else "english"
        self._stop = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
            .filter(tantivy.Filter.stopword(self.language.stopwords))
            .build()
            if self.language.stopwords and not self.english
            else None
        )
        self.analyzer = self._analyzer()
        # Cached per analyser: the same chunks come back as candidates for many questions.
        self.sentence_terms = lru_cache(maxsize=8192)(self._sentence_terms)

    @staticmethod
    @lru_cache(maxsize=64)
    def of(code: str = "en", stemmer: str = "auto") -> Analyser:
        """The (shared) analyser of ``code`` with ``stemmer``."""
        return Analyser(code, stemmer)

    @property
    def spec(self) -> str:
        """The analysis the lexical index is built with, for its recorded spec: English's is the
        spec indexes had before languages existed (so they are not rebuilt), any other names it."""
        if self.english:
            return f"simple remove_long {MAX_TOKEN_CHARS} lowercase ascii_fold stem {self.stemmer or 'none'}"
        stop = self.language.stopwords or "none"
        return (
            f"language {self.language.code} words v1 cjk bigrams stopwords {stop} remove_long {MAX_TOKEN_CHARS} "
            f"lowercase stem {self.stemmer or 'none'} ascii_fold"
        )

    def _analyzer(self) -> tantivy.TextAnalyzer:
        if self.english:
            builder = (
                tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
                .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
                .filter(tantivy.Filter.lowercase())
                .filter(tantivy.Filter.ascii_fold())
            )
            if self.stemmer:
                builder = builder.filter(tantivy.Filter.stemmer(self.stemmer))
            return builder.build()
        # The text is ``words`` joined by spaces (``index_text``): split there.
        builder = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
            .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
            .filter(tantivy.Filter.lowercase())
        )
        if self.stemmer:
            builder = builder.filter(tantivy.Filter.stemmer(self.stemmer))
        return builder.filter(tantivy.Filter.ascii_fold()).build()

    def index_text(self, text: str) -> str:
        """What the lexical index's tokenizer is given for ``text``."""
        return text if self.english else " ".join(self.words(text))

    def index_tokens(self, text: str) -> list[str]:
        """The lexical index's tokens of ``text``, in order, repeats kept: what the embedded store's
        tantivy index holds for it (and the Postgres store's ``tsvector``, for a language other
        than English, whose Postgres index is Postgres's own ``english`` configuration)."""
        return list(self.analyzer.analyze(self.index_text(text)))

    def is_stopword(self, word: str) -> bool:
        """Whether ``word`` (one of ``words``) is a stop word of the language."""
        if self.english:
            return word in english.STOPWORDS
        return self._stop is not None and not self._stop.analyze(word)

    def query_terms(self, question: str, stopwords: bool = True) -> list[str]:
        """A question's words for BM25, in order, once each, stop words left out unless not
        ``stopwords`` (the index's analyzer then stems them, as it stemmed the documents)."""
        if self.english:
            return english.query_terms(question, stopwords)
        return list(dict.fromkeys(w for w in self.words(question) if not (stopwords and self.is_stopword(w))))

    def terms(self, text: str) -> set[str]:
        """The terms of ``text`` the answerer and the second stage compare: English's ``qa.terms.terms``;
        otherwise the words without stop words, stemmed as the index stems them."""
        if self.english:
            return english.terms(text)
        kept = [w for w in self.words(text) if not self.is_stopword(w)]
        return set(self.analyzer.analyze(" ".join(kept))) if kept else set()

    def _sentence_terms(self, text: str) -> tuple[frozenset[str], ...]:
        if self.english:
            return english.sentence_terms(text)
        return tuple(frozenset(self.terms(text[s:e])) for s, e in english.split_sentences(text))

    def tokens(self, query_terms: Sequence[str]) -> list[str]:
        """The index's tokens for ``query_terms``, without duplicates."""
        out: dict[str, None] = {}
        for term in query_terms:
            for token in self.analyzer.analyze(term):
                out[token] = None
        return list(out)


ENGLISH = Analyser.of("en")
