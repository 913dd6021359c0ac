"""QA_LANGUAGE through the service: German and Chinese documents found by their words (BM25 alone),
with the bundled model, and answered without English's short-answer rules."""

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


@pytest.mark.parametrize(
    ("language", "docs", "question", "gold"),
    [
        ("de", GERMAN, GERMAN_Q, "werkstatt"),
        ("zh", CHINESE, CHINESE_Q, "tushuguan"),
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
