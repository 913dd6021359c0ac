"""Checking the [n] markers of a generated answer, with the real model, on passages of the real
Paris article (issue 5, point 4: a citation that points nowhere never reaches the user)."""

from __future__ import annotations

import pytest

from qa.citecheck import check
from qa.embed import Embedder
from qa.types import Passage

from ..conftest import EXAMPLES

PARIS = EXAMPLES / "paris-talks.md"


@pytest.fixture(scope="module")
def doc_text() -> str:
    return PARIS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def passages(doc_text: str) -> list[Passage]:
    """The article's three paragraphs that matter, as retrieval would hand them over: [1], [2], [3]."""
    out = []
    for i, first_words in enumerate(["Syrian Foreign Minister", "Sweida, a province", "According to the Syrian"]):
        start = doc_text.index(first_words)
        end = doc_text.index("\n\n", start)
        out.append(Passage(i, "paris-talks.md", "Paris talks", doc_text[start:end], start, end, 1.0 - i / 10))
    return out


def test_supported_sentences_keep_exact_citations(
    passages: list[Passage], embedder: Embedder, doc_text: str
) -> None:
    text = (
        "Assaad al-Shaibani and Ron Dermer met in Paris [1]. "
        "Sweida saw deadly fighting in July 2025 [2]. "
        "United States officials helped to arrange the contact [3]."
    )
    a = check(text, passages, embedder)
    assert a.removed == () and a.dropped == () and a.unsupported == 0
    assert [s.supported for s in a.sentences] == [True, True, True]
    assert a.text == text
    assert [c.n for c in a.citations] == [1, 2, 3]
    for c in a.citations:
        assert doc_text[c.start : c.end] == c.quote
    assert a.citations[0].quote.startswith("Syrian Foreign Minister Assaad al-Shaibani")
    assert a.citations[1].quote.startswith("Sweida, a province")
    assert a.citations[2].quote.startswith("United States officials")


def test_out_of_range_markers_are_removed(passages: list[Passage], embedder: Embedder) -> None:
    a = check("Al-Shaibani and Dermer met in Paris [1][7]. They talked [0].", passages, embedder)
    assert a.removed == (7, 0)
    assert a.text == "Al-Shaibani and Dermer met in Paris [1]. They talked."
    assert a.sentences[1].supported is False  # it cited only nowhere
    assert [c.n for c in a.citations] == [1]


def test_unsupported_citations_are_dropped_and_flagged(
    passages: list[Passage], embedder: Embedder
) -> None:
    text = "A sourdough starter needs flour and water [1]. Sweida saw fighting in July 2025 [1]."
    a = check(text, passages, embedder)
    assert a.dropped == (1, 1) and a.citations == ()
    assert [s.supported for s in a.sentences] == [False, False]
    assert a.text == "A sourdough starter needs flour and water. Sweida saw fighting in July 2025."


def test_markers_are_renumbered_in_order_of_use(passages: list[Passage], embedder: Embedder) -> None:
    a = check("Sweida saw deadly fighting in July 2025 [2]. They met in Paris in August 2025 [1].", passages, embedder)
    assert a.text == "Sweida saw deadly fighting in July 2025 [1]. They met in Paris in August 2025 [2]."
    assert a.citations[0].quote.startswith("Sweida") and a.citations[1].quote.startswith("Syrian Foreign")


def test_uncited_text_is_left_alone(passages: list[Passage], embedder: Embedder) -> None:
    a = check("I do not know.", passages, embedder)
    assert a.text == "I do not know." and a.citations == () and a.sentences[0].supported is None
