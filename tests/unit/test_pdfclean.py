"""PDF text clean-up (qa.parse.pdfclean): each rule on small page lists, page offsets as a
property, and a real PDF made here (and one of Debian's when installed) through the parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.chunk import Chunker
from qa.parse import parse_bytes
from qa.parse.pdfclean import PagedText, clean_pages
from qa.types import Document, page_at

from ..pdfs import HEAD, manual_pdf, pdf_of_pages

# Lines of a justified paragraph: about the same length, so each one is "full".
PARA = [
    "The operator checks the shelves, the posts and the thermocouple before each",
    "firing, and writes the date of the check in the log book kept beside the door",
    "of the kiln room, so that the next operator can see when it was checked last.",
]


COLOURS = "red blue green amber black white grey pink brown olive".split()


def para(tag: str) -> list[str]:
    """``PARA`` with a word of its own, so that pages do not repeat each other's lines."""
    return [f"{PARA[0][:-5]} {tag}", *PARA[1:]]


def pages_of(p: PagedText) -> list[str]:
    """Each page's text, by the page offsets."""
    ends = [*p.starts[1:], len(p.text)]
    return [p.text[s:e] for s, e in zip(p.starts, ends, strict=True)]


def test_ligatures_become_letters() -> None:
    assert clean_pages(["We \ufb01nd the \ufb02ow of e\ufb00ort, o\ufb03ce and wa\ufb04e."]).text == (
        "We find the flow of effort, office and waffle."
    )


def test_glyphs_without_characters_are_dropped_or_bullets() -> None:
    page = ["Evaluation is exact\x13 in \uf8eb64-bit \ufffdintegers.", "\x88 All evaluations.", "\x88 Integer ones."]
    assert clean_pages(["\n".join(page)]).text.split("\n\n") == [
        "Evaluation is exact in 64-bit integers.",
        "• All evaluations.",
        "• Integer ones.",
    ]


def test_tex_accents_become_accented_letters() -> None:
    out = clean_pages(["Hans-Bernhard Br¨oker, P´eter Juh´asz, J´erˆome Lodewyck, Petr Mikul´ık, Fran¸cois."])
    assert out.text == "Hans-Bernhard Bröker, Péter Juhász, Jérôme Lodewyck, Petr Mikulík, Fran\u00e7ois."
    assert clean_pages(["A lone ¨ stays, and so does ´1."]).text == "A lone ¨ stays, and so does ´1."


def test_running_heads_and_page_numbers_are_dropped() -> None:
    pages = [[f"Kiln Manual 2.1 - chapter {n}", *para(COLOURS[n]), f"- {n} -"] for n in range(1, 6)]
    out = clean_pages(["\n".join(p) for p in pages])
    assert "Kiln Manual" not in out.text and "- 3 -" not in out.text
    assert out.text.count("The operator checks the shelves") == 5
    # A head without digits counts when it is on enough pages; a bare number is a page number.
    pages = [["LaTeX News", *para(COLOURS[n]), str(n)] for n in range(1, 6)]
    out = clean_pages(["\n".join(p) for p in pages])
    assert "LaTeX News" not in out.text and not any(ch.isdigit() for ch in out.text)


def test_a_head_with_the_page_number_goes_whatever_its_words() -> None:
    # A book's heads name the section (each on one or two pages) and carry the printed number,
    # here the page's index minus 4; a number at a line's start elsewhere is no page number.
    sections = ["INTRODUCTION", "OPTIONS", "DISPLAYS", "DELIMITERS", "FRACTIONS", "INDEX"]
    pages = [[f"{n - 4} {sections[n - 5]}" if n % 2 else f"{n}.1. {sections[n - 5]} {n - 4}", *para(COLOURS[n - 5])]
             for n in range(5, 11)]  # fmt: skip
    pages[2].insert(2, "12 operators check the kiln.")
    out = clean_pages(["\n".join(p) for p in pages]).text
    assert not any(s in out for s in sections) and "12 operators check the kiln." in out


def test_a_line_on_a_few_pages_only_is_kept() -> None:
    pages = [[*para(COLOURS[n]), "Example:"] if n in (2, 7) else para(COLOURS[n]) for n in range(10)]
    assert clean_pages(["\n".join(p) for p in pages]).text.count("Example:") == 2


def test_a_page_of_one_repeated_line_keeps_it() -> None:
    assert clean_pages(["a"] * 6).text.count("a") == 6


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        # A word hyphenated at the line end: one word again.
        (["The operator reads the temperature from the thermo-", "couple on the door."], "thermocouple on"),
        # A compound goes on: its hyphens are real.
        (["The kiln has a really very modern and state-of-the-", "art controller inside."], "state-of-the-art"),
        # A prefix that takes a hyphen keeps it.
        (["The kiln is one of the few appliances that are really well-", "known to operators."], "well-known"),
        # Not a word's halves: the hyphen stays, and no space comes in.
        (["The font is the one the package calls by its name CMEX10-", "Baseline, not another."], "CMEX10-Baseline"),
    ],
)
def test_line_end_hyphens(lines: list[str], joined: str) -> None:
    assert joined in clean_pages(["\n".join(lines)]).text


def test_the_document_decides_an_unknown_hyphen() -> None:
    # "co-operate" is how this document writes it elsewhere: the hyphen at the line end is real.
    text = "\n".join(["Operators co-operate. When the kiln is hot, the two operators must co-", "operate closely."])
    assert "must co-operate closely" in clean_pages([text]).text
    text = "\n".join(["Operators cooperate. When the kiln is hot, the two operators must co-", "operate closely."])
    assert "must cooperate closely" in clean_pages([text]).text


def test_soft_hyphens_and_pdfium_hyphen_marks() -> None:
    text = "\n".join(["The operator reads the temperature from the thermo\u00ad", "couple on the door."])
    assert "thermocouple on" in clean_pages([text]).text
    # PDFium joins the two lines itself and marks the hyphen with U+FFFE.
    out = clean_pages(["Plot styles dots, points, or isosur\ufffeface. The font CMEX10\ufffeBaseline is shipped."])
    assert out.text == "Plot styles dots, points, or isosurface. The font CMEX10-Baseline is shipped."


def test_table_of_contents_lines_are_dropped() -> None:
    toc = [
        "Contents",
        "1 Introduction 2",
        "1.1 Writing classes and packages . . . . . . . . . . . . . . 2",
        "1.2 Overview . . . . . . . . . . . . . . . . . . . . . . . . . 3",
        "2 Writing classes 4",
        "Appendix ........................ xii",
        "He paused... 3 times.",
    ]
    out = clean_pages(["\n".join(toc)]).text
    assert out.split("\n\n") == ["Contents", "He paused... 3 times."]


def test_contents_without_leaders_and_index_pages_are_dropped() -> None:
    toc = ["Contents", "I Gnuplot 21", "Copyright 21", "Introduction 21", "Seeking-assistance 22", "New features 23"]
    assert clean_pages(["\n".join(toc)] + ["Body."] * 30).text.startswith("Contents\n\nBody.")
    index = ["pm3d, 64, 141, 188", "png, 46, 275", "pngcairo, 276", "pointinterval, 77, 201", "points, 77, 79"]
    assert clean_pages(["\n".join(["Index", *index])] + ["Body."] * 300).text.startswith("Index\n\nBody.")
    # Numbers that go down, or that cannot be pages, are not a contents list.
    rows = ["Width 40", "Height 30", "Depth 20", "Weight 10", "Price 5"]
    assert all(r in clean_pages(["\n".join(rows)]).text for r in rows)
    years = ["Founded 1901", "Moved 1950", "Rebuilt 1977", "Enlarged 1990", "Closed 2001"]
    assert all(y in clean_pages(["\n".join(years)]).text for y in years)


def test_a_footnote_is_a_paragraph_and_its_marker_leaves_the_sentence() -> None:
    page = [
        *PARA[:2],
        "of the kiln room.∗ The next operator can see when it was checked last, and by",
        "whom it was checked, without asking anybody at all about it afterwards, too.",
        "∗The log book is kept for ten years.",
    ]
    out = clean_pages(["\n".join(page)]).text
    assert "kiln room. The next operator" in out
    assert out.endswith("\n\n∗The log book is kept for ten years.")


def test_lines_join_into_paragraphs_and_headings_stay_apart() -> None:
    page = [
        "1.2 Firing",
        *PARA,
        "It then closes the lid.",
        "Cooling the kiln",
        "The kiln cools for a whole day before the operator opens the lid again, and",
        "then the pieces come out one shelf at a time, the heaviest ones last of all.",
        "• Gloves on.",
        "• Lid open.",
    ]
    paragraphs = clean_pages(["\n".join(page)]).text.split("\n\n")
    assert paragraphs == [
        "1.2 Firing",
        " ".join([*PARA, "It then closes the lid."]),
        "Cooling the kiln",
        " ".join(page[6:8]),
        "• Gloves on.",
        "• Lid open.",
    ]


def test_a_description_lists_entries_stay_apart() -> None:
    # LaTeX's description list: each entry's term was bold, and its line ends the entry before.
    page = [
        "The kiln controller reads the following settings when it starts each firing:",
        "ramp ‘Heating rate’: How fast the temperature rises, in degrees for each hour.",
        "hold (default) Keep the peak temperature for the given number of minutes, and",
        "then let the kiln cool by itself without any more heating from the coil sets.",
        "vent Open the vent when the temperature falls below the given number, so the",
        "fumes leave the room before the operator opens the lid and takes the pieces.",
        "the operator may change any setting between firings, and logs every change.",
    ]
    paragraphs = clean_pages(["\n".join(page)]).text.split("\n\n")
    assert paragraphs == [
        page[0],
        page[1],
        " ".join(page[2:4]),
        # A line that starts with one of prose's own words goes on with the paragraph.
        " ".join(page[4:7]),
    ]


def test_a_sentence_goes_on_over_the_page_break() -> None:
    first = [*PARA, "After a firing the controller switches the elements off, and the vent stays"]
    second = ["open for one hour while the kiln cools down slowly to room temperature again.", *PARA]
    out = clean_pages(["\n".join(first), "\n".join(second)])
    assert "the vent stays open for one hour" in out.text
    assert pages_of(out)[1].startswith("open for one hour")
    # A page that ends with a full stop ends its paragraph.
    out = clean_pages(["\n".join(PARA), "\n".join(PARA)])
    assert pages_of(out)[0].endswith("last.\n\n")


def test_empty_pages_share_the_next_start() -> None:
    out = clean_pages(["", "First page.", "", "", "Last page."])
    assert out.starts == (0, 0, 13, 13, 13)
    assert [page_at(out.starts, out.text.index(w)) for w in ("First", "Last")] == [2, 5]


def test_page_at() -> None:
    assert page_at((), 5) is None
    assert [page_at((0, 10, 20), o) for o in (0, 9, 10, 19, 20, 99)] == [1, 1, 2, 2, 3, 3]


# -- properties ---------------------------------------------------------------------------------

WORD = st.sampled_from("kiln fire glaze cone shelf the of and a exam- -ple ple. ﬁre well- 12 iv ∗ . . . .".split())
LINE = st.lists(WORD, min_size=1, max_size=14).map(" ".join)
PAGE = st.lists(LINE, max_size=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(PAGE, min_size=1, max_size=6), st.integers(1, 30), st.integers(0, 10))
def test_page_offsets_cover_the_text_and_chunks_stay_exact(pages: list[list[str]], budget: int, overlap: int) -> None:
    # Each page carries a word found on no other page: it must be inside its own page's range
    # (hyphen joins may glue a neighbour's half-word to it: it is found as part of that word).
    marks = [f"mark{chr(ord('a') + n)}x" for n in range(len(pages))]  # no digits: page numbers are dropped
    marked = [[*lines[: len(lines) // 2], marks[n], *lines[len(lines) // 2 :]] for n, lines in enumerate(pages)]
    out = clean_pages(["\n".join(lines) for lines in marked])
    assert len(out.starts) == len(pages) and out.starts[0] == 0
    assert all(a <= b for a, b in zip(out.starts, out.starts[1:], strict=False)) and out.starts[-1] <= len(out.text)
    for n in range(len(pages)):
        assert page_at(out.starts, out.text.index(marks[n])) == n + 1
    doc = Document("d", out.text, page_starts=out.starts)
    chunker = Chunker(max_tokens=budget, overlap=min(overlap, budget - 1), count_tokens=lambda s: len(s.split()))
    for c in chunker.chunk(doc):
        assert doc.text[c.start : c.end] == c.text


# -- real PDFs ----------------------------------------------------------------------------------


def test_a_real_pdf_is_cleaned_with_its_page_offsets() -> None:
    doc = parse_bytes(manual_pdf(), "kiln.pdf")[0]
    assert doc.metadata["pages"] == 4 and len(doc.page_starts) == 4
    text = doc.text
    assert HEAD not in text and "..." not in text and ". . ." not in text
    assert "thermocouple" in text and "state-of-the-art" in text and "old-fashioned" in text
    assert "witness cones. The controller" in text  # hyphen joined, footnote marker out
    assert "\n\n1 Cone 6 bends at about 1220 degrees at the usual rate of heating.\n\n" in text
    # Each fact on its page; the sentence over the page break is one sentence.
    assert page_at(doc.page_starts, text.index("The kiln fires stoneware at 1240 degrees")) == 3
    assert page_at(doc.page_starts, text.index("the vent stays open for one hour")) == 3
    assert page_at(doc.page_starts, text.index("hour, and the lid stays closed")) == 4
    assert page_at(doc.page_starts, text.index("Load the heaviest pieces")) == 2
    assert not any(line.strip().isdigit() for line in text.split("\n"))


def test_a_pdf_with_a_blank_page() -> None:
    doc = parse_bytes(pdf_of_pages([["Page one says hello."], [], ["Page three says goodbye."]]), "gap.pdf")[0]
    assert doc.text == "Page one says hello.\n\nPage three says goodbye."
    assert page_at(doc.page_starts, doc.text.index("goodbye")) == 3


CLSGUIDE = Path("/usr/share/doc/texlive-doc/latex/base/clsguide.pdf")


@pytest.mark.skipif(not CLSGUIDE.exists(), reason="Debian's texlive-latex-base-doc is not installed")
def test_debian_clsguide() -> None:
    doc = parse_bytes(CLSGUIDE.read_bytes(), "clsguide.pdf")[0]
    text = doc.text
    assert ". . . ." not in text  # the table of contents
    assert "is in the commands used to write packages and classes" in text  # "com-" + "mands"
    assert page_at(doc.page_starts, text.index("1.1 Writing classes and packages for LATEX")) == 2
    assert "This file may distributed" in text and "All rights reserved.∗" not in text
