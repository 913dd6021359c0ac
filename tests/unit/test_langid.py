"""``qa.langid``: a question's language, when it is surely not its collection's (py3langid's model)."""

from __future__ import annotations

import json

import pytest

from qa import langid
from qa.language import LANGUAGES

from ..conftest import SHARED


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Which file sets the mount options of hard disks?", "en"),
        ("Wo ist die Konfiguration verschlüsselter Dateisysteme abgelegt?", "de"),
        ("¿Dónde se guarda la configuración de los sistemas de archivos cifrados?", "es"),
        ("加密文件系统的配置在哪个文件中？", "zh"),
        ("أين يتم تخزين إعدادات أنظمة الملفات المشفرة؟", "ar"),
        ("Где хранится конфигурация зашифрованных файловых систем?", "ru"),
    ],
)
def test_a_question_is_named_by_its_language(question: str, language: str) -> None:
    code, probability = langid.identify(question)
    assert code == language and probability >= langid.MIN_PROBABILITY
    assert code in LANGUAGES
    assert langid.other_language(question, language) is None
    other = "de" if language != "de" else "en"
    assert langid.other_language(question, other) == language


def test_an_unsure_short_or_empty_question_counts_as_the_collections_language() -> None:
    # "Who met in Paris?" reads as Dutch to the model, but not surely: taken as the collection's.
    assert langid.identify("Who met in Paris?")[1] < langid.MIN_PROBABILITY
    assert langid.other_language("Who met in Paris?", "de") is None
    assert langid.other_language("   ", "de") is None
    # A multilingual collection has no language of its own for a question to differ from.
    assert (
        langid.other_language("Wo ist die Konfiguration verschlüsselter Dateisysteme abgelegt?", "multilingual") is None
    )


def test_only_qas_languages_are_named() -> None:
    """Restricted to qa's languages, Chinese is never Wu Chinese nor Hindi Nepali (the full model's
    mistakes on XQuAD): every question of XQuAD's seven languages is named in one of qa's."""
    xquad = SHARED / "datasets" / "xquad"
    wrong = 0
    for lang in ("en", "de", "zh", "hi"):
        rows = (xquad / lang / "queries.jsonl").read_text(encoding="utf-8").splitlines()[:200]
        codes = [langid.identify(json.loads(r)["question"])[0] for r in rows]
        assert set(codes) <= set(LANGUAGES)
        wrong += sum(c != lang for c in codes)
    assert wrong <= 2
