"""Sentence splitting: boundaries, abbreviations, line structure and exact offsets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.terms import split_sentences


def sentences(text: str, start: int = 0, end: int | None = None) -> list[str]:
    spans = split_sentences(text, start, end)
    return [text[s:e] for s, e in spans]


def test_news_sentence_with_month_and_acronym_is_not_split() -> None:
    text = (
        "When Islamist-led forces toppled former Syrian President Bashar al-Assad’s regime on Dec. 8, Israel "
        "deployed troops in the U.N.-monitored buffer zone. Since then, Israel has carried out hundreds of airstrikes."
    )
    assert sentences(text) == [
        "When Islamist-led forces toppled former Syrian President Bashar al-Assad’s regime on Dec. 8, Israel "
        "deployed troops in the U.N.-monitored buffer zone.",
        "Since then, Israel has carried out hundreds of airstrikes.",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        ("Mrs. Lee and Ms. Park left. Prof. Kim stayed.", ["Mrs. Lee and Ms. Park left.", "Prof. Kim stayed."]),
        ("He lives on St. Mark's Rd. Jr. and Sr. came too.", ["He lives on St. Mark's Rd.", "Jr. and Sr. came too."]),
        ("It was Smith vs. Jones. Smith won.", ["It was Smith vs. Jones.", "Smith won."]),
        ("Apples, pears, etc. Are all fruit. Yes.", ["Apples, pears, etc. Are all fruit.", "Yes."]),
        ("Use a tool, e.g. A hammer. Or i.e. This one.", ["Use a tool, e.g. A hammer.", "Or i.e. This one."]),
        ("See Fig. 3 for details. It is clear.", ["See Fig. 3 for details.", "It is clear."]),
        ("Smith et al. Found it. Really.", ["Smith et al. Found it.", "Really."]),
        (
            "Acme Inc. And Foo Ltd. Merged with Bar Co. And Baz Corp. Today.",
            ["Acme Inc. And Foo Ltd. Merged with Bar Co. And Baz Corp. Today."],
        ),
        (
            "The U.S. Army and the U.K. Navy met. The U.N. Agreed.",
            ["The U.S. Army and the U.K. Navy met.", "The U.N. Agreed."],
        ),
        ("Report No. 5 is out. I said no. Then I left.", ["Report No. 5 is out.", "I said no.", "Then I left."]),
        (
            "It opened on Jan. 5 and closed on Sept. 30. Nobody came.",
            ["It opened on Jan. 5 and closed on Sept. 30.", "Nobody came."],
        ),
        ("It happened in Dec. Then we left.", ["It happened in Dec.", "Then we left."]),
        ("J. Smith and J.R.R. Tolkien wrote. They did.", ["J. Smith and J.R.R. Tolkien wrote.", "They did."]),
    ],
)
def test_abbreviations(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Really? Yes! Wait… Go. Done...", ["Really?", "Yes!", "Wait…", "Go.", "Done..."]),
        ("The value is 3. and more follows.", ["The value is 3. and more follows."]),  # lowercase: no break
        ("Version 2.5 shipped. Pi is 3.14.", ["Version 2.5 shipped.", "Pi is 3.14."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("She said “Go!” He went.", ["She said “Go!”", "He went."]),
        ("It is ‘fine.’ Next.", ["It is ‘fine.’", "Next."]),
        ("(This is it.) Next one. [Really?] Yes.", ["(This is it.)", "Next one.", "[Really?]", "Yes."]),
        ('"Why?" he asked.', ['"Why?" he asked.']),
        ("It ended. 42 people came.", ["It ended.", "42 people came."]),
        ("It ended. “Quoted” start.", ["It ended.", "“Quoted” start."]),
    ],
)
def test_terminal_punctuation_and_quotes(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_blank_lines_end_sentences_also_with_crlf() -> None:
    assert sentences("Title without stop\n\nBody text") == ["Title without stop", "Body text"]
    assert sentences("First line\r\n\r\nSecond line\r\n \r\n\r\nThird") == ["First line", "Second line", "Third"]
    assert sentences("Same sentence\r\ncontinues here.") == ["Same sentence\r\ncontinues here."]


def test_single_newline_does_not_end_a_sentence() -> None:
    assert sentences("line one\nline two\nLine Three") == ["line one\nline two\nLine Three"]


def test_list_items_and_headings_are_their_own_sentences() -> None:
    text = "Items:\n- one\n- two\n* three\n+ four\n1. five\n2) six\n-5 is negative"
    assert sentences(text) == ["Items:", "- one", "- two", "* three", "+ four", "1. five", "2) six\n-5 is negative"]
    text = "# Title\nBody starts here\n## Sub\nmore text\r\n### Third\r\nlast"
    assert sentences(text) == ["# Title", "Body starts here", "## Sub", "more text", "### Third", "last"]
    assert sentences("#hashtag is not\na heading") == ["#hashtag is not\na heading"]


def test_offsets_are_absolute_within_the_range() -> None:
    text = "Skip this. Take this one. And this. Not this."
    start, end = text.index("Take"), text.index("Not")
    spans = split_sentences(text, start, end)
    assert [text[s:e] for s, e in spans] == ["Take this one.", "And this."]
    assert spans[0][0] == start


def test_blank_text() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\r\n\t ") == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab A.!?…\"')\n\r#-*1 é日")), max_size=80) | st.text(max_size=80))
def test_spans_are_exact_stripped_ordered_and_cover_the_text(text: str) -> None:
    spans = split_sentences(text)
    prev = 0
    for s, e in spans:
        assert prev <= s < e <= len(text)
        assert text[s:e] == text[s:e].strip()
        prev = e
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
