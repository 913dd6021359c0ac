"""Diversity of the final top k (``qa.rerank.diversify``): the per-document cap spreads a result
over documents while other documents can fill k, and never shrinks it below k when they cannot."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.rerank import MAX_STITCHED, diversify
from qa.types import Passage

TEXT = "".join(f"Sentence number {i:03d} of the one long document. " for i in range(200))


def span(cid: int, start: int, length: int, score: float, doc: str = "long") -> Passage:
    return Passage(cid, doc, doc, TEXT[start : start + length], start, start + length, score)


def apart(n: int, doc: str = "long", top: float = 1.0) -> list[Passage]:
    """``n`` passages of ``doc`` that neither overlap nor touch, best first."""
    return [span(i, i * 200, 100, top - i / 100, doc) for i in range(n)]


def test_the_cap_spreads_a_result_over_documents_while_others_can_fill_k() -> None:
    long_doc = apart(6)
    others = [span(100 + i, 0, 50, 0.5 - i / 100, f"o{i}") for i in range(8)]
    out = diversify(sorted(long_doc + others, key=lambda p: -p.score), k=5, max_per_doc=2)
    assert [p.doc_id for p in out] == ["long", "long", "o0", "o1", "o2"]


def test_one_document_left_gives_up_to_k_passages_best_first() -> None:
    out = diversify(apart(12), k=10, max_per_doc=3)
    assert [p.chunk_id for p in out] == list(range(10))
    assert [p.score for p in out] == sorted((p.score for p in out), reverse=True)
    assert len(diversify(apart(4), k=10, max_per_doc=3)) == 4  # all there is


def test_with_one_document_the_cap_changes_nothing() -> None:
    # Overlapping chunks, in a shuffled score order: stitched exactly as with no cap.
    ps = [span(i, (i * 37) % 400 * 20, 150, 1.0 - i / 50) for i in range(25)]
    for k in (1, 3, 5, 10, 30):
        assert diversify(ps, k, 3) == diversify(ps, k, 0)


def test_too_few_documents_fill_k_from_the_held_back_passages_in_score_order() -> None:
    # Two documents: the cap keeps 2 of each, the rest fill k by score, not by document.
    a = [span(i, i * 200, 100, 1.0 - i / 10, "a") for i in range(4)]  # 1.0 0.9 0.8 0.7
    b = [span(10 + i, i * 200, 100, 0.95 - i / 10, "b") for i in range(4)]  # .95 .85 .75 .65
    ranked = sorted(a + b, key=lambda p: -p.score)
    out = diversify(ranked, k=6, max_per_doc=2)
    assert [p.score for p in out] == [1.0, 0.95, 0.9, 0.85, 0.8, 0.75]
    # Which documents come first is what the cap alone gives.
    capped_only = diversify(ranked, k=4, max_per_doc=2)
    assert [p.doc_id for p in out][:4] == [p.doc_id for p in capped_only]


def test_held_back_passages_stitch_onto_their_neighbours() -> None:
    # 0 and 2 are taken (cap 2); 1 is held back, touches both: filling stitches all three into one.
    ps = [span(0, 0, 100, 0.9), span(2, 200, 100, 0.8), span(1, 100, 100, 0.7), span(3, 600, 100, 0.6)]
    out = diversify(ps, k=5, max_per_doc=2)
    assert [(p.start, p.end) for p in out] == [(0, 300), (600, 700)]
    assert out[0].text == TEXT[0:300] and out[0].score == 0.9


def test_a_passage_is_stitched_from_at_most_max_stitched_chunks() -> None:
    # Overlapping chunks as the chunker makes them: without a bound they chain into one passage.
    chain = [span(i, i * 80, 100, 1.0 - i / 100) for i in range(8)]
    out = diversify(chain, k=10, max_per_doc=0)
    assert MAX_STITCHED == 3
    # 0-2 stitched; what 3 holds beyond that full passage starts the next one, which 4 and 5
    # extend; 6's rest starts a third, which 7 extends: all the text, in passages of 3 chunks.
    assert [(p.start, p.end) for p in out] == [(0, 260), (260, 500), (500, 660)]
    assert all(p.text == TEXT[p.start : p.end] for p in out)


def test_no_cap_and_a_full_result_are_unchanged() -> None:
    ps = apart(6)
    assert diversify(ps, k=4, max_per_doc=0) == ps[:4]
    assert diversify(ps, k=4, max_per_doc=1) == ps[:4]  # one document: the cap cannot hold


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 40), st.integers(1, 12)), min_size=0, max_size=30),
    st.integers(1, 12),
    st.integers(0, 4),
)
def test_results_are_exact_disjoint_ordered_and_as_full_as_the_candidates_allow(
    raw: list[tuple[str, int, int]], k: int, cap: int
) -> None:
    ps = [
        Passage(i, d, d, TEXT[s * 10 : (s + n) * 10], s * 10, (s + n) * 10, 1.0 - i / 100)
        for i, (d, s, n) in enumerate(raw)
    ]
    out = diversify(ps, k, cap)
    assert len(out) <= k
    assert [p.score for p in out] == sorted((p.score for p in out), reverse=True)
    for p in out:
        assert p.text == TEXT[p.start : p.end]
    for i, p in enumerate(out):  # no two passages of one document overlap (they touch only where
        for q in out[i + 1 :]:  # one of them is MAX_STITCHED chunks long)
            assert p.doc_id != q.doc_id or p.end <= q.start or q.end <= p.start
    # The cap never makes a result shorter than the candidates can fill.
    assert len(out) == len(diversify(ps, k, 0))
    if cap:
        # Filling past the cap keeps the documents the cap alone gives, in the same order.
        capped_only = []
        for p in ps:
            under = [q for q in capped_only if q.doc_id == p.doc_id]
            if not any(p.start <= q.end and q.start <= p.end for q in under) and len(under) < cap:
                capped_only.append(p)
        first_docs = list(dict.fromkeys(p.doc_id for p in out))
        wanted = list(dict.fromkeys(p.doc_id for p in capped_only))
        assert first_docs[: len(wanted)] == wanted[: len(first_docs)]
