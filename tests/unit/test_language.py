"""qa.language: each language's terms, and the lexical index's spec naming the language."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from qa import terms as english
from qa.config import Settings
from qa.errors import Unavailable
from qa.language import LANGUAGES, Analyser, bigrams, words
from qa.store import open_store
from qa.store.embedded.lexical import LexicalIndex, spec


def test_every_language_is_a_setting() -> None:
    choices = typing.get_args(Settings.model_fields["language"].annotation)
    assert set(choices) == set(LANGUAGES)
    for code in LANGUAGES:
        Analyser.of(code)  # tantivy has the stemmer and stop word list each names


def test_devanagari_words_keep_their_vowel_signs_and_virama() -> None:
    # "हिन्दी" has a virama (U+094D) and vowel signs (Mn/Mc): \w and tantivy's simple tokenizer cut there.
    text = "हिन्दी की किताबें पढ़ीं"
    assert words(text) == ["हिन्दी", "की", "किताबें", "पढ़ीं"]
    for code in ("hi", "multilingual"):
        assert Analyser.of(code).query_terms(text) == ["हिन्दी", "की", "किताबें", "पढ़ीं"]
        assert Analyser.of(code).terms("किताबें") == {"किताबें"}
    # English's analysis, as before languages: single consonants.
    assert "ह" in english.query_terms(text)


def test_chinese_and_japanese_runs_become_bigrams() -> None:
    assert bigrams("北京大学") == ["北京", "京大", "大学"]
    assert bigrams("书") == ["书"]
    assert words("我在北京大学读书。") == ["我在", "在北", "北京", "京大", "大学", "学读", "读书"]
    # A Latin word or a number beside Han characters stays one word.
    assert words("iPhone手机2024年") == ["iphone", "手机", "2024", "年"]
    assert words("東京の大学") == ["東京", "京の", "の大", "大学"]
    zh = Analyser.of("zh")
    assert {"北京", "大学"} <= zh.terms("北京大学是一所大学")
    # Full-width Latin and digits are the plain ones (NFKC).
    assert words("ＡＢＣ１２３") == ["abc123"]


def test_german_is_stemmed_and_its_stop_words_dropped() -> None:
    de = Analyser.of("de")
    assert de.terms("Werkzeugen") == de.terms("Werkzeug") == {"werkzeug"}
    assert de.terms("Häuser") == de.terms("Haus")
    assert de.query_terms("Wer hat die Häuser gebaut?") == ["wer", "häuser", "gebaut"]  # "wer" is no stop word
    assert de.tokens(de.query_terms("Werkzeugen")) == ["werkzeug"]
    # No stemming in the language-neutral analysis; no stop words either.
    assert Analyser.of("multilingual").query_terms("Wer hat die Häuser") == ["wer", "hat", "die", "häuser"]
    assert Analyser.of("de", "none").terms("Werkzeugen") == {"werkzeugen"}


def test_arabic_and_russian_stems() -> None:
    ar = Analyser.of("ar")
    assert ar.terms("كِتَابٌ") == ar.terms("كتاب")  # the Snowball stemmer drops the vowel marks
    ru = Analyser.of("ru")
    assert ru.terms("школы") == ru.terms("школа")


def test_english_is_qa_terms_unchanged() -> None:
    en = Analyser.of("en")
    text = "The cats were running -V over 3 houses; what's HashMap's size?"
    assert en.terms(text) == english.terms(text)
    assert en.query_terms(text) == english.query_terms(text)
    assert en.query_terms(text, stopwords=False) == english.query_terms(text, stopwords=False)
    assert en.sentence_terms(text) == english.sentence_terms(text)


def test_the_lexical_spec_names_the_language() -> None:
    # English's analysis is named as before languages existed: only the schema version (3: the
    # access field) differs from what older indexes recorded, and rebuilds them once for that.
    assert spec("auto") == spec("english") == spec("auto", "en")
    assert spec("auto", "en") == "tantivy v3 simple remove_long 40 lowercase ascii_fold stem english; exact v1"
    specs = {spec("auto", code) for code in LANGUAGES}
    assert len(specs) == len(LANGUAGES)
    assert "language de" in spec("auto", "de") and "stem german" in spec("auto", "de")
    assert spec("none", "de") != spec("auto", "de")
    with pytest.raises(ValueError, match="klingon"):
        spec("auto", "klingon")


def test_a_lexical_index_of_another_language_is_not_in_step(tmp_path: Path) -> None:
    rows = [(1, "Titel", "Die Werkzeugen der Stadtbibliothek", ["*"]), (2, "标题", "图书馆出借自行车", ["*"])]
    de = LexicalIndex(tmp_path, "auto", "de")
    de.rebuild(1, rows)
    assert de.in_step(1, 2)
    assert [i for i, _ in de.search(de.analyser.query_terms("Werkzeug"), 5)] == [1]
    # Opened with another language, the same files are out of step: the store rebuilds them.
    zh = LexicalIndex(tmp_path, "auto", "zh")
    assert not zh.in_step(1, 2)
    zh.rebuild(1, rows)
    assert [i for i, _ in zh.search(zh.analyser.query_terms("图书馆出借什么？"), 5)] == [2]
    assert not LexicalIndex(tmp_path, "auto", "en").in_step(1, 2)


def test_postgres_opens_other_languages() -> None:
    # No longer refused: the store is opened (here it cannot be reached), with qa.language's analysis.
    settings = Settings(store="postgresql://nobody@localhost:1/none", language="de")
    with pytest.raises(Unavailable, match="cannot connect"):
        open_store(settings, "m", lambda: 384)
