"""QA_LANGUAGE through the service: German, Chinese, Hindi and Thai documents found by their words
(BM25 alone), with the bundled model, answered without English's short-answer rules, and with
short answers of their own for numbers and dates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService
from qa.types import Document

from ..live_server import LOCAL

# Written for this test. The questions share no surface word with their document that English's
# analysis would match: German needs its stemmer (Werkzeugen -> werkzeug), Chinese its bigrams
# (English's analysis makes each clause one term).
GERMAN = [
    Document(
        "werkstatt",
        "Seit dem Umbau verleiht die Stadtbibliothek auch Werkzeugen und Lastenräder an ihre Mitglieder. "
        "Die Ausleihe ist kostenlos und dauert höchstens zwei Wochen.",
        title="Bibliothek",
    ),
    Document(
        "hafen",
        "Im alten Hafen legen heute vor allem Segelboote an; die Fähre zur Insel fährt stündlich.",
        title="Hafen",
    ),
]
GERMAN_Q = "Welches Werkzeug verleiht die Bibliothek?"
CHINESE = [
    Document(
        "tushuguan",
        "这座城市的图书馆从去年开始向会员免费出借自行车和工具。借用期限最长为两周。",
        title="图书馆",
    ),
    Document("gangkou", "老港口现在主要停靠帆船，去岛上的渡轮每小时一班。", title="港口"),
]
CHINESE_Q = "图书馆出借什么工具？"
# Hindi: the question's "किताब" (book) is in the document only as "किताबें" (books): Snowball's Hindi
# stemmer, run in Python, makes them one term.
HINDI = [
    Document(
        "pustakalay",
        "शहर के पुस्तकालय में इस साल बच्चों के लिए नई किताबें आईं। सदस्य उन्हें दो हफ़्ते तक घर ले जा सकते हैं।",
        title="पुस्तकालय",
    ),
    Document("bandargah", "पुराने बंदरगाह पर अब ज़्यादातर पाल वाली नावें रुकती हैं।", title="बंदरगाह"),
]
HINDI_Q = "पुस्तकालय में कौन सी किताब आई?"
# Thai: no spaces between words (a space ends a sentence); the question's words are parts of the
# text's runs ("เก็บเกี่ยว" harvest, "ข้าวหอมมะลิ" jasmine rice), found by their cluster bigrams.
THAI = [
    Document(
        "khao-hom-mali",
        "ข้าวหอมมะลิปลูกมากในภาคตะวันออกเฉียงเหนือ โดยเฉพาะทุ่งกุลาร้องไห้ซึ่งครอบคลุมห้าจังหวัด "
        "ดินที่นี่มีความเค็มเล็กน้อยและฝนตกน้อย ทำให้เมล็ดข้าวมีกลิ่นหอมเป็นพิเศษ "
        "ชาวนาหว่านข้าวในฤดูฝนและเก็บเกี่ยวในเดือนพฤศจิกายน",
        title="ข้าวหอมมะลิ",
    ),
    Document(
        "tsunami",
        "คลื่นยักษ์สึนามิพัดถล่มชายฝั่งทะเลอันดามันเมื่อวันที่ 26 ธันวาคม พ.ศ. 2547 "
        "หลังเกิดแผ่นดินไหวใกล้เกาะสุมาตรา ต่อมามีการติดตั้งหอเตือนภัยตามชายหาดเพื่อแจ้งเตือนประชาชนให้อพยพ",
        title="สึนามิ",
    ),
]
THAI_Q = "ชาวนาเกี่ยวข้าวหอมมะลิเดือนไหน"
THAI_ANSWER = "ชาวนาหว่านข้าวในฤดูฝนและเก็บเกี่ยวในเดือนพฤศจิกายน"


@pytest.mark.parametrize(
    ("language", "docs", "question", "gold"),
    [
        ("de", GERMAN, GERMAN_Q, "werkstatt"),
        ("zh", CHINESE, CHINESE_Q, "tushuguan"),
        ("hi", HINDI, HINDI_Q, "pustakalay"),
        ("th", THAI, THAI_Q, "khao-hom-mali"),
    ],
)
def test_found_by_its_words_in_its_language(
    make_service: Callable[..., QAService], language: str, docs: list[Document], question: str, gold: str
) -> None:
    svc = make_service(f"lang-{language}", language=language)
    svc.add_documents(docs)
    hits = svc.search(question, k=2, mode="lexical")
    assert [p.doc_id for p in hits][:1] == [gold]
    # Hybrid, with the answer: a sentence of the document, and no English short answer.
    answer = svc.ask(question, k=2)
    assert answer.found
    assert answer.citations[0].doc_id == gold
    assert answer.short is None


def test_english_analysis_misses_what_the_language_finds(make_service: Callable[..., QAService]) -> None:
    # "Werkzeug" is in no German document as such, only "Werkzeugen": English's stemmer keeps it whole.
    english = make_service("de-as-en")
    english.add_documents(GERMAN)
    assert "werkstatt" not in [p.doc_id for p in english.search("Werkzeug", k=2, mode="lexical")]
    german = make_service("de-as-de", language="de")
    german.add_documents(GERMAN)
    assert [p.doc_id for p in german.search("Werkzeug", k=2, mode="lexical")] == ["werkstatt"]
    # Chinese: English's analysis makes "图书馆出借什么工具" one term, in no document.
    english_zh = make_service("zh-as-en")
    english_zh.add_documents(CHINESE)
    assert english_zh.search(CHINESE_Q, k=2, mode="lexical") == []
    # Thai: every other analysis keeps a Thai run whole, one "word" in no document.
    multilingual_th = make_service("th-as-multilingual", language="multilingual")
    multilingual_th.add_documents(THAI)
    assert multilingual_th.search(THAI_Q, k=2, mode="lexical") == []


def test_hindi_stemming_finds_the_plural(make_service: Callable[..., QAService]) -> None:
    # "किताब" alone: unstemmed (as before the stemmer), only "किताबें" is in the document.
    unstemmed = make_service("hi-unstemmed", language="hi", lexical_stemmer="none")
    unstemmed.add_documents(HINDI)
    assert unstemmed.search("किताब", k=2, mode="lexical") == []
    stemmed = make_service("hi-stemmed", language="hi")
    stemmed.add_documents(HINDI)
    assert [p.doc_id for p in stemmed.search("किताब", k=2, mode="lexical")] == ["pustakalay"]


def test_a_thai_collection_answers_with_an_exact_citation(tmp_path: Path, embedder: Embedder) -> None:
    """A Thai collection beside the English default (`{"language": "th"}`): `/v1/ask` answers a Thai
    question with the sentence that holds the answer (Thai sentences end at a space), cited exactly."""
    settings = Settings(index_dir=tmp_path)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as client:
        r = client.post("/v1/collections", json={"name": "thai", "settings": {"language": "th"}})
        assert r.status_code == 201 and r.json()["settings"]["language"] == "th"
        docs = [{"id": d.id, "title": d.title, "text": d.text} for d in THAI]
        assert client.post("/v1/documents?collection=thai", json={"documents": docs}).status_code == 201
        r = client.post("/v1/ask?collection=thai", json={"question": THAI_Q, "k": 2})
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["found"] and answer["citations"]
        first = answer["citations"][0]
        assert first["doc_id"] == "khao-hom-mali" and first["quote"] == THAI_ANSWER
        for c in answer["citations"]:
            text = client.get(
                f"/v1/documents/{c['doc_id']}", params={"include_text": True, "collection": "thai"}
            ).json()["text"]
            assert text[c["start"] : c["end"]] == c["quote"]
    svc.close()


def test_a_collection_has_its_own_language(tmp_path: Path, embedder: Embedder) -> None:
    """One server, an English default collection and a Chinese one: each analyses its own
    documents and questions (`POST /v1/collections` with `{"language": "zh"}`)."""
    settings = Settings(index_dir=tmp_path)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as client:
        r = client.post("/v1/collections", json={"name": "zh", "settings": {"language": "zh"}})
        assert r.status_code == 201 and r.json()["settings"]["language"] == "zh"
        docs = [{"id": d.id, "title": d.title, "text": d.text} for d in CHINESE]
        for collection in ("zh", "default"):
            assert client.post(f"/v1/documents?collection={collection}", json={"documents": docs}).status_code == 201
        body = {"question": CHINESE_Q, "k": 2, "mode": "lexical"}
        found = client.post("/v1/search?collection=zh", json=body).json()["passages"]
        assert [p["doc_id"] for p in found][:1] == ["tushuguan"]
        assert client.post("/v1/search", json=body).json()["passages"] == []  # English's analysis
        r = client.post("/v1/collections", json={"name": "xx", "settings": {"language": "klingon"}})
        assert r.status_code == 422 and "language" in r.json()["message"]
    svc.close()


# An option list as a formatted manual page has it, written for this test in German and Chinese:
# "-c" and "-C" differ only in case, and the entry of the option asked about answers.
OPTIONS = {
    "de": (
        "Optionen von zaehl\n\n"
        "       -c, --count\n"
        "              Statt der passenden Zeilen wird nur ihre Anzahl pro Eingabedatei ausgegeben.\n\n"
        "       -C ZAHL, --context=ZAHL\n"
        "              Zeigt ZAHL Zeilen Kontext vor und nach jeder passenden Zeile der Eingabedatei.\n\n"
        "       -u, --update\n"
        "              Nur kopieren, wenn die Quelldatei neuer ist als die Zieldatei.\n",
        ["Was gibt zaehl -c aus?", "Was gibt zaehl -C aus?", "Was macht zaehl -u mit der Zieldatei?"],
    ),
    "zh": (
        "zaehl 的选项\n\n"
        "       -c, --count\n"
        "              不输出匹配的行，只为每个输入文件打印匹配的行的总数。\n\n"
        "       -C 数目, --context=数目\n"
        "              打印出匹配的行的上下文前后各若干行。\n\n"
        "       -u, --update\n"
        "              仅在源文件比目标文件新的情况下复制。\n",
        ["zaehl -c 打印什么？", "zaehl -C 打印什么？", "zaehl -u 什么时候复制到目标文件？"],
    ),
}


@pytest.mark.parametrize("language", ["de", "zh"])
def test_an_option_question_is_answered_from_that_options_entry_in_any_language(
    make_service: Callable[..., QAService], language: str
) -> None:
    """The English answerer's option rules, in other languages: a question naming "-c" is answered
    from -c's own entry, not -C's (case kept), and one naming "-u" from -u's."""
    text, questions = OPTIONS[language]
    # Which entry is cited, not whether the English embedder is sure enough of German or Chinese
    # to answer at all (its calibrated "not found" decides that): every answer is kept.
    svc = make_service(f"options-{language}", language=language, min_answer_score=0.0)
    svc.add_documents([Document("zaehl", text, title="zaehl")])
    for question, option in zip(questions, ["-c", "-C", "-u"], strict=True):
        ans = svc.ask(question)
        assert ans.found and ans.citations, question
        c = ans.citations[0]
        assert text[c.start : c.end] == c.quote
        # The cited entry is the option's own: its line starts with the option as written.
        assert c.quote.lstrip().startswith(option + (" " if option == "-C" else ",")), (question, c.quote)


# A count question in German and in Chinese, written for this test: the cited sentence holds two
# numbers, and the one the question's words are nearest answers it ("3.400" and "400名" do not).
COUNTS = {
    "de": (
        "Die Stadtbibliothek wurde im Jahr 1911 gegründet. Heute besitzt sie rund 120.000 Bücher und "
        "3.400 Zeitschriften. Montags ist sie geschlossen.",
        "Wie viele Bücher besitzt die Stadtbibliothek?",
        "120.000",
    ),
    "zh": (
        "该校建于1911年。这所大学现有学生3000人，教师400名。校园位于城市北部。",
        "这所大学现有多少学生？",
        "3000人",
    ),
}


@pytest.mark.parametrize("language", ["de", "zh"])
def test_a_count_question_gets_its_number_as_the_short_answer(
    make_service: Callable[..., QAService], language: str
) -> None:
    """Short answers in other languages (qa.span_languages): a count question's number, with exact
    offsets into the document, beside the cited sentence that holds it."""
    text, question, short = COUNTS[language]
    svc = make_service(f"counts-{language}", language=language)
    svc.add_documents([Document("zahlen", text, title="Zahlen")])
    ans = svc.ask(question)
    assert ans.found and ans.short is not None, ans
    assert ans.short.text == short
    assert ans.short.doc_id == "zahlen"
    assert (ans.short.start, ans.short.end) == (text.index(short), text.index(short) + len(short))
    assert text[ans.short.start : ans.short.end] == short
    c = ans.citations[0]
    assert c.start <= ans.short.start < ans.short.end <= c.end
