"""Second stage and diversity: sentence evidence, a cross-encoder behind the same protocol, stitching."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.chunk import Chunker
from qa.embed import resolve_model
from qa.rerank import CrossEncoderReranker, SentenceEvidenceReranker, diversify, stitch
from qa.service import QAService
from qa.types import Document, Passage

from .test_service import assert_citations_exact, index_paths


def passage(cid: int, text: str, score: float, doc: str = "d", start: int = 0) -> Passage:
    return Passage(cid, doc, doc, text, start, start + len(text), score)


def test_sentence_evidence_lifts_the_passage_whose_sentence_holds_the_rare_terms() -> None:
    ps = [
        passage(1, "Ministers met often. Paris was busy that year. Talks went on.", 1.0, "a"),
        passage(2, "The weather was mild. Dermer and al-Shaibani met in Paris to talk.", 0.8, "b"),
        passage(3, "Nothing related here at all.", 0.1, "c"),
    ]
    out = SentenceEvidenceReranker(weight=0.5).rerank("Who met in Paris, Dermer and al-Shaibani?", ps)
    assert [p.chunk_id for p in out] == [2, 1, 3]
    assert out[0].score > out[1].score > out[2].score
    # Weight 0 keeps the first-stage order.
    assert [p.chunk_id for p in SentenceEvidenceReranker(weight=0).rerank("Who met in Paris?", ps)] == [1, 2, 3]


def test_cross_encoder_path_uses_the_model_scores() -> None:
    # No cross-encoder ships with weights here; a CrossEncoder built on the bundled MiniLM (its head
    # untrained) still proves the path: any sentence-transformers CrossEncoder name or path loads and ranks.
    rr = CrossEncoderReranker(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    ps = [passage(i, t, 0.0) for i, t in enumerate(["cats purr", "ministers met in Paris", "bread recipe"])]
    out = rr.rerank("Who met in Paris?", ps)
    expected = rr.model.predict([("Who met in Paris?", p.text) for p in ps])
    assert [p.chunk_id for p in out] == sorted(range(3), key=lambda i: -float(expected[i]))
    assert [p.score for p in out] == sorted((float(s) for s in expected), reverse=True)


def test_diversify_stitches_overlaps_and_caps_each_document() -> None:
    text = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota. Kappa lambda mu."
    a = passage(1, text[0:36], 0.9, "d", 0)
    b = passage(2, text[18:54], 0.8, "d", 18)  # overlaps a
    c = passage(3, text[55:], 0.7, "d", 55)  # does not touch the stitched span
    others = [passage(10 + i, f"other {i}", 0.5 - i / 10, f"o{i}") for i in range(3)]
    out = diversify([a, b, c, *others], k=3, max_per_doc=1)
    assert [p.doc_id for p in out] == ["d", "o0", "o1"]
    assert out[0].start == 0 and out[0].end == 54 and out[0].text == text[0:54] and out[0].score == 0.9
    uncapped = diversify([a, b, c, *others], k=10, max_per_doc=0)
    assert [(p.doc_id, p.start, p.end) for p in uncapped][:2] == [("d", 0, 54), ("d", 55, len(text))]
    assert len(uncapped) == 5


@settings(max_examples=60, deadline=None)
@given(st.text(st.sampled_from("ab c.\n"), min_size=1, max_size=400), st.integers(8, 40), st.integers(0, 7))
def test_stitching_real_chunks_keeps_exact_offsets(text: str, budget: int, overlap: int) -> None:
    doc = Document(id="d", title="", text=text)
    chunks = Chunker(max_tokens=budget, overlap=min(overlap, budget // 2), count_tokens=len).chunk(doc)
    ps = [passage(i, c.text, 1.0, "d", c.start) for i, c in enumerate(chunks)]
    merged = ps[0] if ps else None
    for p in ps[1:]:
        if merged is not None and p.start <= merged.end:
            merged = stitch(merged, p)
            assert merged.text == text[merged.start : merged.end]


def test_rerank_and_diversity_through_the_service(make_service: Callable[..., QAService], seed_article: Path) -> None:
    svc = make_service(chunk_tokens=64, chunk_overlap=16)
    index_paths(svc, seed_article)
    on = svc.search("Who met in Paris?", k=5)
    off = svc.search("Who met in Paris?", k=5, rerank=False)
    assert on and off
    for ps in (on, off):
        assert [p.score for p in ps] == sorted((p.score for p in ps), reverse=True)
        text = svc.store.get_text(ps[0].doc_id) or ""
        for p in ps:
            assert text[p.start : p.end] == p.text  # stitched passages keep exact offsets
        spans = sorted((p.start, p.end) for p in ps)
        assert all(b[0] > a[1] for a, b in zip(spans, spans[1:], strict=False)), "overlapping passages left"
    assert "Paris" in on[0].text
    capped = make_service(name="capped", chunk_tokens=64, chunk_overlap=16, max_per_doc=2)
    index_paths(capped, seed_article)
    spans = [(p.start, p.end) for p in capped.search("Who met in Paris?", k=5)]
    assert len(spans) > 2  # one document: the cap gives way to k ...
    assert spans == [(p.start, p.end) for p in svc.search("Who met in Paris?", k=5, max_per_doc=0)]  # ... entirely
    assert len(capped.search("Who met in Paris?", k=5, max_per_doc=1)) == len(spans)


def test_ask_gives_the_names_as_a_short_answer(make_service: Callable[..., QAService], seed_article: Path) -> None:
    svc = make_service()
    index_paths(svc, seed_article)
    a = svc.ask("Who met in Paris?")
    assert a.found and a.short is not None
    assert "al-Shaibani" in a.short.text and "Dermer" in a.short.text and "Paris" not in a.short.text
    source = seed_article.read_text(encoding="utf-8")
    assert source[a.short.start : a.short.end] == a.short.text
    c = a.citations[0]
    assert c.start <= a.short.start and a.short.end <= c.end  # inside the cited sentence
    assert_citations_exact(svc, a.citations)
    # A question with no clear answer type still gets its sentence, and no guessed span.
    why = svc.ask("Why is Syria negotiating with Israel?")
    assert why.found and why.short is None and why.citations
