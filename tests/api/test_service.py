"""End to end through the service with the real model, FAISS and SQLite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qa.parse import iter_files, load_path
from qa.service import QAService
from qa.types import Document

from ..conftest import EXAMPLES


def index_paths(svc: QAService, *paths: Path) -> None:
    for path, root in iter_files(list(paths)):
        svc.add_documents(load_path(path, root))


def assert_citations_exact(svc: QAService, citations: object) -> None:
    for c in citations:  # type: ignore[attr-defined]
        text = svc.store.get_text(c.doc_id)
        assert text is not None and text[c.start : c.end] == c.quote


def test_paris_article_answers_who_met_with_exact_citation(
    make_service: Callable[..., QAService], seed_article: Path
) -> None:
    svc = make_service()
    index_paths(svc, seed_article)
    a = svc.ask("Who met in Paris?")
    assert a.found
    assert "al-Shaibani" in a.answer and "Dermer" in a.answer
    assert a.citations, "an answer must cite its source"
    source = seed_article.read_text(encoding="utf-8")
    c = a.citations[0]
    assert c.doc_id == "paris_article.txt"
    assert source[c.start : c.end] == c.quote
    assert "Paris" in c.quote
    assert len(a.answer) < len(a.passages[0].text) or a.answer == c.quote  # a sentence, not a passage dump


def test_bundled_samples_answer_the_canonical_question(make_service: Callable[..., QAService]) -> None:
    svc = make_service()
    index_paths(svc, EXAMPLES)
    a = svc.ask("Who met in Paris?")
    assert a.found and "al-Shaibani" in a.answer and "Dermer" in a.answer
    assert a.citations[0].doc_id == "paris-talks.md"
    assert_citations_exact(svc, a.citations)
    # The bundled HTML page never leaks its script or style into the index.
    text = svc.store.get_text("solar-system.html") or ""
    assert "console.log" not in text and "<" not in text


def test_unrelated_question_is_not_found_and_cites_nothing(make_service: Callable[..., QAService]) -> None:
    svc = make_service()
    index_paths(svc, EXAMPLES)
    a = svc.ask("What is the airspeed of an unladen swallow carrying a coconut?")
    assert not a.found and a.citations == ()
    assert "could not find" in a.answer


def test_unchanged_document_does_no_work_and_changed_one_replaces(
    make_service: Callable[..., QAService],
) -> None:
    svc = make_service()
    doc = Document(id="d", title="Notes", text="The kiln fires at 1200 degrees. Glaze melts into glass.")
    assert [r.status for r in svc.add_documents([doc])] == ["added"]
    generation = svc.store.stats()["generation"]
    assert [r.status for r in svc.add_documents([doc])] == ["unchanged"]
    assert svc.store.stats()["generation"] == generation  # no write happened at all
    changed = Document(id="d", title="Notes", text="Porcelain is fired at about 1300 degrees.")
    assert [r.status for r in svc.add_documents([changed])] == ["updated"]
    passages = svc.search("kiln temperature", k=10)
    assert [p.doc_id for p in passages] == ["d"]
    assert all("Glaze" not in p.text for p in passages)
    assert svc.store.stats()["chunks"] == 1


def test_delete_removes_document_from_results(make_service: Callable[..., QAService]) -> None:
    svc = make_service()
    svc.add_documents(
        [Document(id="x", text="Otters hold hands while they sleep."), Document(id="y", text="Cats nap.")]
    )
    assert "x" in {p.doc_id for p in svc.search("sleeping otters")}
    svc.delete("x")
    assert "x" not in {p.doc_id for p in svc.search("sleeping otters")}
    assert svc.store.stats()["documents"] == 1


def test_reopen_after_restart_gives_same_answer(make_service: Callable[..., QAService], seed_article: Path) -> None:
    svc = make_service("restart")
    index_paths(svc, seed_article)
    first = svc.ask("Who met in Paris?")
    svc.close()
    again = make_service("restart").ask("Who met in Paris?")
    assert again.answer == first.answer and again.citations == first.citations
    assert [p.chunk_id for p in again.passages] == [p.chunk_id for p in first.passages]


def test_every_chunk_fits_the_model_window(make_service: Callable[..., QAService]) -> None:
    """Title prefix + chunk text never exceed what all-MiniLM-L6-v2 reads (256 wordpieces)."""
    from qa.embed import embedding_text

    svc = make_service()
    sentence = "Phosphorylation of p38 MAPK (mitogen-activated protein kinase) at Thr180/Tyr182 increased 3.5-fold. "
    doc = Document(id="long", title="A very long scientific title " * 8, text=sentence * 120)
    chunks = svc.chunker.chunk(doc)
    assert len(chunks) > 5
    for c in chunks:
        # The model's own tokenizer; + 2 for the [CLS] and [SEP] it adds.
        n = svc.embedder.count_tokens(embedding_text(doc.title, c.heading, c.text, svc.embedder)) + 2
        assert n <= 256, (c.ordinal, n)
