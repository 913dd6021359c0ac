"""Sentence splitting: boundaries, abbreviations, line structure, kinds and exact offsets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.sentences import ANSWERABLE, sentence_spans, split_sentences


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
        # Circa before a year.
        (
            "Such as Jacques Lefevre (c. 1455–1536). The Gallicans won.",
            ["Such as Jacques Lefevre (c. 1455–1536).", "The Gallicans won."],
        ),
    ],
)
def test_abbreviations(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        # German ordinals: a day before its month, a century.
        (
            "Am 3. März 2021 schloss das Werk. Danach nicht mehr.",
            ["Am 3. März 2021 schloss das Werk.", "Danach nicht mehr."],
        ),
        (
            "Bis ins 18. Jahrhundert blieb es so. Dann kam Neues.",
            ["Bis ins 18. Jahrhundert blieb es so.", "Dann kam Neues."],
        ),
        # A number before a word that is no ordinal noun still ends a sentence; so does a year.
        ("Sie gewann 12. Dann ging sie.", ["Sie gewann 12.", "Dann ging sie."]),
        ("It closed in 1998. August came.", ["It closed in 1998.", "August came."]),
        # German abbreviations, also spelled as two letters with a space.
        (
            "Kosten von 4 Mio. Euro, z. B. Miete, d. h. Fixkosten. Neu.",
            ["Kosten von 4 Mio. Euro, z. B. Miete, d. h. Fixkosten.", "Neu."],
        ),
        ("Siehe Nr. 7 und vgl. Abschnitt 2. Gut.", ["Siehe Nr. 7 und vgl. Abschnitt 2.", "Gut."]),
        # A case name; a lone lower-case letter otherwise ends its sentence.
        ("The case Roe v. Wade changed it. Later too.", ["The case Roe v. Wade changed it.", "Later too."]),
        ("Set the width to n. Then run it.", ["Set the width to n.", "Then run it."]),
        # Before and after Christ: the letter before "Chr." is no sentence's end; "Chr." ends one
        # when a capital follows it.
        (
            "Al-Biruni (973-1048 n. Chr.) gehört dazu. Hadrian gründete sie im 2. Jahrhundert n. Chr. gründete.",
            ["Al-Biruni (973-1048 n. Chr.) gehört dazu.", "Hadrian gründete sie im 2. Jahrhundert n. Chr. gründete."],
        ),
        ("Rom fiel 44 v. Chr. Danach kam Augustus.", ["Rom fiel 44 v. Chr.", "Danach kam Augustus."]),
        # An initial in a script without case: a single Arabic letter and a full stop.
        ("كتب المؤرخ ج. سامي كتابا. ثم سافر.", ["كتب المؤرخ ج. سامي كتابا.", "ثم سافر."]),
    ],
)
def test_abbreviations_initials_and_ordinals_of_other_languages(text: str, expected: list[str]) -> None:
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


# -- kinds: what is prose, and what is structure ------------------------------------------------


def kinds(text: str, start: int = 0, end: int | None = None) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start : s.end]) for s in sentence_spans(text, start, end)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("See the manual (p. 122) for details. Then stop.", ["See the manual (p. 122) for details.", "Then stop."]),
        ("It is described in pp. 12-14 of the guide. Next.", ["It is described in pp. 12-14 of the guide.", "Next."]),
        (
            "See set style circle (p. ) and set style fill (p. ).",
            ["See set style circle (p. ) and set style fill (p. )."],
        ),
        ("As shown before (see Fig. 3 (p. 122)). The end.", ["As shown before (see Fig. 3 (p. 122)).", "The end."]),
        ("The population was ca. 2 million then. It grew.", ["The population was ca. 2 million then.", "It grew."]),
        ("He climbed Mt. Kenya in 1990. It was cold.", ["He climbed Mt. Kenya in 1990.", "It was cold."]),
        ("Compare cf. Smith and Jones. Done.", ["Compare cf. Smith and Jones.", "Done."]),
        (
            "Use a list, e.g., [1, 2]. Or a tuple, i.e., (1, 2). Fine.",
            ["Use a list, e.g., [1, 2].", "Or a tuple, i.e., (1, 2).", "Fine."],
        ),
        ("See Vol. 1, Vol. 2 and Sec. 4 of it. Good.", ["See Vol. 1, Vol. 2 and Sec. 4 of it.", "Good."]),
        ("Is it? , she asked. Yes.", ["Is it? , she asked.", "Yes."]),
        ("Apples etc. Are fruit; so are pears, plums, etc.", ["Apples etc. Are fruit; so are pears, plums, etc."]),
    ],
)
def test_abbreviations_and_page_references(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_heading_is_never_glued_to_the_sentence_after_it() -> None:
    assert kinds("## os.path.basename(path)\nReturn the base name. It is short.") == [
        ("heading", "## os.path.basename(path)"),
        ("prose", "Return the base name."),
        ("prose", "It is short."),
    ]
    assert kinds("Intro text.\n### Details\nMore text") == [
        ("prose", "Intro text."),
        ("heading", "### Details"),
        ("prose", "More text"),
    ]
    # Setext headings: a single line underlined by === or ---.
    assert kinds("Title\n=====\nBody text.\n\nSub\n---\nMore.") == [
        ("heading", "Title"),
        ("rule", "====="),
        ("prose", "Body text."),
        ("heading", "Sub"),
        ("rule", "---"),
        ("prose", "More."),
    ]
    # A rule after a blank line is only a rule; a wrapped paragraph's last line is no heading.
    assert kinds("Text.\n\n---\n\nMore.") == [("prose", "Text."), ("rule", "---"), ("prose", "More.")]
    assert kinds("one line\ntwo line\n===") == [("prose", "one line\ntwo line"), ("rule", "===")]


def test_a_man_pages_section_headings_are_headings() -> None:
    """A formatted man page (``man -P cat``, ``col -b``): a section name over its indented body is a
    heading in any language, never glued to the body's first sentence."""
    english = (
        "NAME\n       cp - copy files and directories\n\n"
        "SYNOPSIS\n       cp [OPTION] [-T] SOURCE DEST\n\n"
        "DESCRIPTION\n       Copy SOURCE to DEST.\n\n"
        "   Exit status\n       0      if OK,\n"
    )
    assert kinds(english) == [
        ("heading", "NAME"),
        ("prose", "cp - copy files and directories"),
        ("heading", "SYNOPSIS"),
        ("prose", "cp [OPTION] [-T] SOURCE DEST"),
        ("heading", "DESCRIPTION"),
        ("prose", "Copy SOURCE to DEST."),
        ("heading", "Exit status"),  # a subsection, indented 3
        ("prose", "0      if OK,"),
    ]
    german = "ÜBERSICHT\n       cp [OPTION] [-T] QUELLE ZIEL\n\nBESCHREIBUNG\n\t      Kopieren von QUELLE nach ZIEL."
    assert kinds(german) == [
        ("heading", "ÜBERSICHT"),
        ("prose", "cp [OPTION] [-T] QUELLE ZIEL"),
        ("heading", "BESCHREIBUNG"),
        ("prose", "Kopieren von QUELLE nach ZIEL."),  # (col -b indents with a tab)
    ]
    chinese = "名称\n       cp - 复制文件和目录\n\n描述\n       将 SOURCE 复制到 DEST。\n"
    assert kinds(chinese) == [
        ("heading", "名称"),
        ("prose", "cp - 复制文件和目录"),
        ("heading", "描述"),
        ("prose", "将 SOURCE 复制到 DEST。"),
    ]
    # An option's entry stays as it was, at any indent: "-b" is not a heading over its description.
    for entry in ("       -b, --backup\n              make a backup", "-b, --backup\n    make a backup"):
        assert kinds(entry) == [("prose", entry.strip())]


def test_a_plain_text_readmes_headings_are_headings() -> None:
    text = "INSTALLATION\n\nRun make install.\n\nReporting bugs\n  Mail the maintainer.\n"
    assert kinds(text) == [
        ("heading", "INSTALLATION"),  # in capitals, alone between blank lines
        ("prose", "Run make install."),
        ("heading", "Reporting bugs"),  # over indented text
        ("prose", "Mail the maintainer."),
    ]


@pytest.mark.parametrize("label", ["Note", "Nota", "See also", "Warnung", "Примечание", "Σημείωση"])
def test_a_notes_title_is_a_heading_not_an_answer(label: str) -> None:
    # DocBook's and Sphinx's HTML give a note its title as a paragraph of its own (qa.parse.html):
    # "Nota" alone was chosen as the answer to an off-topic question (session 20's user check).
    text = f"The file lists the groups.\n\n{label}\n\nThe gshadow file is not really used."
    assert kinds(text) == [
        ("prose", "The file lists the groups."),
        ("heading", label),
        ("prose", "The gshadow file is not really used."),
    ]
    # A chunk may end right after the title, its text in the next chunk.
    assert kinds(f"The file lists the groups.\n\n{label}\n") == [
        ("prose", "The file lists the groups."),
        ("heading", label),
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        # A short line ending a paragraph, a one-line paragraph.
        (
            "It reads the file and writes\nthe result\n\nThanks to all\n\nMore text.",
            [
                ("prose", "It reads the file and writes\nthe result"),
                ("prose", "Thanks to all"),
                ("prose", "More text."),
            ],
        ),
        # A lead-in over indented lines.
        (
            "The tool accepts three formats:\n    json\n    yaml\n    csv\n",
            [("prose", "The tool accepts three formats:\n    json\n    yaml\n    csv")],
        ),
        # Capitals with sentence punctuation.
        (
            "WARNING: do not run this as root.\n\nIt deletes files.",
            [("prose", "WARNING: do not run this as root."), ("prose", "It deletes files.")],
        ),
        # A sentence that runs on into the indented line.
        (
            "Full documentation is available on-line at\n    https://example.org/docs\n",
            [("prose", "Full documentation is available on-line at\n    https://example.org/docs")],
        ),
        # A text that is only a word in capitals; a line in capitals inside a paragraph.
        ("NASA", [("prose", "NASA")]),
        # A text that is only a label; three words; a lower-case word; a word with a digit; a
        # Chinese sentence without a full stop (one "word" in an uncased script).
        ("Note", [("prose", "Note")]),
        ("Thanks to all\n\nMore.", [("prose", "Thanks to all"), ("prose", "More.")]),
        ("yes\n\nMore.", [("prose", "yes"), ("prose", "More.")]),
        ("Python3\n\nMore.", [("prose", "Python3"), ("prose", "More.")]),
        ("这是一个句子\n\n更多。", [("prose", "这是一个句子"), ("prose", "更多。")]),
        ("It was built by\nNASA\n\nIn 1969.", [("prose", "It was built by\nNASA"), ("prose", "In 1969.")]),
    ],
)
def test_plain_lines_that_are_no_headings_stay_prose(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


def test_list_items_are_their_own_units() -> None:
    text = (
        "They all have the same interface:\n- posixpath for UNIX-style paths. Really.\n"
        "- ntpath for Windows\n  paths\n3. third\nAfter."
    )
    assert kinds(text) == [
        ("prose", "They all have the same interface:"),
        ("item", "- posixpath for UNIX-style paths."),
        ("item", "Really."),
        ("item", "- ntpath for Windows\n  paths"),
        ("item", "3. third\nAfter."),  # a line without a blank before it continues the item
    ]
    assert kinds("• bullet one\n• bullet two") == [("item", "• bullet one"), ("item", "• bullet two")]


def test_fenced_code_lines_are_code() -> None:
    text = "Example:\n\n```python3\n>>> splitext('bar')\n('bar', '')\n\n>>> x = 1\n```\n\nLeading periods are kept."
    assert kinds(text) == [
        ("prose", "Example:"),
        ("code", "```python3"),
        ("code", ">>> splitext('bar')"),
        ("code", "('bar', '')"),
        ("code", ">>> x = 1"),
        ("code", "```"),
        ("prose", "Leading periods are kept."),
    ]
    # Tildes; a longer fence is not closed by a shorter one; a fence with a language never closes.
    assert [k for k, _ in kinds("~~~\nA. B.\n~~~\nC.")] == ["code", "code", "code", "prose"]
    assert [k for k, _ in kinds("````text\n```\nNot prose. Still code.\n````\nProse.")] == ["code"] * 4 + ["prose"]
    assert [k for k, _ in kinds("```\ncode\n```js\nstill code\n```\nProse.")] == ["code"] * 5 + ["prose"]
    # An unclosed block runs to the end of the text.
    assert [k for k, _ in kinds("Prose first.\n```python\nx = 1\n\ny = 2")] == ["prose", "code", "code", "code"]


def test_text_cut_inside_a_code_block() -> None:
    # A chunk that begins inside a block: its first fence is bare and closes it.
    text = "x = compute(1)\ny = x + 1\n```\n\nThe result is kept in y. It is an int."
    assert kinds(text) == [
        ("code", "x = compute(1)"),
        ("code", "y = x + 1"),
        ("code", "```"),
        ("prose", "The result is kept in y."),
        ("prose", "It is an int."),
    ]
    # ... also when another block follows (its opening fence names a language).
    text = "print(x)\n```\n\nThen more prose here.\n\n```python\nz = 3\n```"
    assert [k for k, _ in kinds(text)] == ["code", "code", "prose", "code", "code", "code"]
    # A bare fence that the next bare fence closes opens a block, as in Markdown.
    text = "Prose comes first here.\n```\ncode()\n```\nAnd prose after it."
    assert [k for k, _ in kinds(text)] == ["prose", "code", "code", "code", "prose"]
    # A lone bare fence after prose, with code after it, opens a block (Markdown cut at the end).
    text = "Install it with the following command, then run it.\n```\npip install qa\nqa index docs/"
    assert [k for k, _ in kinds(text)] == ["prose", "code", "code", "code"]


def test_doctest_and_shell_sessions_outside_fences_are_code() -> None:
    text = "Try it:\n>>> 1 + 1\n2\n>>> for i in range(2):\n...     print(i)\n0\n1\n\nThat is all."
    assert [k for k, _ in kinds(text)] == ["prose"] + ["code"] * 6 + ["prose"]
    text = "Run:\n$ ls -l\ntotal 0\n\nIt costs $ 5. Cheap."
    assert kinds(text) == [
        ("prose", "Run:"),
        ("code", "$ ls -l"),
        ("code", "total 0"),
        ("prose", "It costs $ 5."),
        ("prose", "Cheap."),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "os.path.join(path, *paths)",
        "os.path.basename(path)",
        "class collections.Counter([iterable-or-mapping])",
        "int printf(const char *format, ...);",
        "def f(x: int) -> list[int]:",
        "static char *xmlStrdup(const char *s);",
        "normpath(join(a, b))",
    ],
)
def test_signature_lines(line: str) -> None:
    assert kinds(f"{line}\nReturns something useful. Yes.") == [
        ("signature", line),
        ("prose", "Returns something useful."),
        ("prose", "Yes."),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "See open() for details.",
        "open(file) and then close(file)",
        "the function open()",
        "Call it (twice)",
        "normpath(join(os.getcwd(), path)).",
    ],
)
def test_prose_with_calls_is_not_a_signature(line: str) -> None:
    assert all(k == "prose" for k, _ in kinds(line))


def test_table_rows() -> None:
    text = "Options:\n| name | default |\n|------|:-------:|\n| k | 5 |\nAfter the table."
    assert kinds(text) == [
        ("prose", "Options:"),
        ("row", "| name | default |"),
        ("rule", "|------|:-------:|"),
        ("row", "| k | 5 |"),
        ("prose", "After the table."),
    ]


def test_answerable_kinds() -> None:
    assert ANSWERABLE == {"prose", "item", "row"}
    text = "# T\n\nProse.\n\n- item\n\n| a | b |\n\n```\ncode\n```\n\nf(x)\n\n---"
    got = {s.kind: s.answerable for s in sentence_spans(text)}
    assert got == {
        "heading": False,
        "prose": True,
        "item": True,
        "row": True,
        "code": False,
        "signature": False,
        "rule": False,
    }


def test_split_sentences_is_the_spans_of_sentence_spans_and_terms_reexports_it() -> None:
    from qa import terms

    text = "# H\nA b. C d.\n```\nx\n```"
    assert split_sentences(text) == [(s.start, s.end) for s in sentence_spans(text)]
    assert terms.split_sentences is split_sentences


# -- properties --------------------------------------------------------------------------------

STRUCTURED = st.text(alphabet=st.sampled_from(list("ab A.!?\"')(\n\r#-*|`~>$=:1 é\t")), max_size=120)
LINES = st.lists(
    st.sampled_from(
        [
            "# Title", "## os.path.basename(path)", "Prose here. More prose.", "e.g. this (p. 12)).", "```python",
            "```", "~~~", "x = 1", ">>> f(1)", "... more", "$ ls", "- item one.", "2) two", "| a | b |",
            "|---|---|", "---", "===", "f(x)", "", "   ", "\r", "Setext", "int main(void);",
            "NAME", "ÜBERSICHT", "名称", "   Exit status", "       ls - list", "\t      body", "WARNING: x.",
        ]
    ),
    max_size=25,
).map("\n".join)  # fmt: skip


def check_spans(text: str, start: int, end: int) -> None:
    got = sentence_spans(text, start, end)
    prev = start
    for s in got:
        assert prev <= s.start < s.end <= end  # inside the range, in order, not overlapping, not empty
        assert text[s.start : s.end] == text[s.start : s.end].strip()  # stripped
        assert s.kind in {"prose", "item", "row", "heading", "signature", "code", "rule"}
        prev = s.end
    covered = {i for s in got for i in range(s.start, s.end)}
    # Every non-whitespace character of the range is in a span (and only those of the range are).
    assert all(i in covered for i in range(start, end) if not text[i].isspace())
    assert split_sentences(text, start, end) == [(s.start, s.end) for s in got]


@settings(max_examples=400, deadline=None)
@given(STRUCTURED | LINES | st.text(max_size=120), st.data())
def test_spans_are_exact_ordered_disjoint_stripped_and_cover_the_range(text: str, data: st.DataObject) -> None:
    check_spans(text, 0, len(text))
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    check_spans(text, start, end)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["Some prose here.", "More text follows", "An item, e.g. this one."]), min_size=1, max_size=4
    ),
    st.lists(st.text(alphabet=st.sampled_from(list("abc=() .#-|>$:")), max_size=30), min_size=1, max_size=6),
    st.sampled_from(["```python", "```text", "~~~~ js"]),
)
def test_lines_of_a_fenced_block_are_never_answerable(before: list[str], code: list[str], fence: str) -> None:
    close = fence.split()[0].rstrip("pythonexjs")
    text = "\n".join([*before, fence, *code, close, "Prose after the block."])
    start = text.index(fence)
    end = text.index("\n" + close + "\n", start + len(fence)) + len(close) + 1
    for s in sentence_spans(text):
        if start <= s.start < end:
            assert s.kind == "code" and not s.answerable
        else:
            assert s.answerable
    assert text[sentence_spans(text)[-1].start :] == "Prose after the block."


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.text(alphabet=st.sampled_from(list("abc .()")), min_size=1, max_size=20), LINES)
def test_heading_line_is_its_own_span(level: int, title: str, rest: str) -> None:
    heading = "#" * level + " x" + title.rstrip()
    text = heading + "\n" + rest
    first = sentence_spans(text)[0]
    assert text[first.start : first.end] == heading  # never glued to what follows
    bare_fences = [ln for ln in rest.split("\n") if ln.strip() in ("```", "~~~")]
    if not bare_fences:
        # (With a bare fence after it, it may be a "# comment" of a code block the text began in.)
        assert first.kind == "heading"


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ABÜΣ名称1 ")), min_size=1, max_size=40).filter(
        lambda t: t.strip() and len(t.split()) <= 8
    ),
    st.sampled_from(["       ", "\t", "    "]),
    LINES,
)
def test_plain_heading_over_indented_text_is_its_own_heading_span(title: str, indent: str, rest: str) -> None:
    heading = " ".join(title.split())  # (a gap of three spaces is two columns, no heading)
    text = f"{heading}\n{indent}body text here\n{rest}"
    check_spans(text, 0, len(text))
    first = sentence_spans(text)[0]
    assert text[first.start : first.end] == heading  # never glued to what follows
    if not any(ln.strip() in ("```", "~~~") for ln in rest.split("\n")):
        # (With a bare fence after it, it may be code of a block the text began in.)
        assert first.kind == "heading"


def test_a_man_pages_running_head_and_foot_are_not_sentences() -> None:
    from qa.sentences import sentence_spans

    text = (
        "LS(1)                            User Commands                           LS(1)\n\n"
        "NAME\n       ls - list directory contents\n\n"
        "GNU coreutils 9.1                September 2022                          LS(1)\n"
    )
    kinds = {text[s.start : s.end].strip(): s.kind for s in sentence_spans(text)}
    head = "LS(1)                            User Commands                           LS(1)"
    foot = "GNU coreutils 9.1                September 2022                          LS(1)"
    assert not any(s.answerable for s in sentence_spans(text) if text[s.start : s.end] in (head, foot))
    assert any("list directory contents" in k for k in kinds)
    # An ordinary sentence ending in a call is still prose.
    (only,) = sentence_spans("Call it as f(1).")
    assert only.answerable


def test_full_stops_of_other_scripts_end_sentences() -> None:
    """Chinese and Japanese stops need no space after them, nor does the Devanagari danda; the Arabic
    question mark ends a sentence as '?' does. Offsets stay exact."""
    cases = {
        "巴黎会谈于八月举行。叙利亚外长出席了会议！他们讨论了局势？是的。": [
            "巴黎会谈于八月举行。", "叙利亚外长出席了会议！", "他们讨论了局势？", "是的。",
        ],
        "「东京」是日本的首都。」好的": ["「东京」是日本的首都。」", "好的"],
        "भारत एक देश है। इसकी राजधानी दिल्ली है॥ यह बड़ा है।": [
            "भारत एक देश है।", "इसकी राजधानी दिल्ली है॥", "यह बड़ा है।",
        ],
        "هل هذا صحيح؟ نعم هذا صحيح.": ["هل هذا صحيح؟", "نعم هذا صحيح."],
        "Mixed text. 中文句子。English again.": ["Mixed text.", "中文句子。", "English again."],
    }  # fmt: skip
    for text, expected in cases.items():
        spans = split_sentences(text)
        assert [text[s:e] for s, e in spans] == expected, text


def test_thai_sentences_end_at_a_space() -> None:
    """Thai marks a sentence's end with a space, not punctuation: a space between Thai words ends one
    when the sentence so far and the next phrase are long enough; list items ("ปิง วัง ยม และน่าน"),
    short phrases and a phrase beginning with "and" (และ) stay inside."""
    text = (
        "แม่น้ำเจ้าพระยาเกิดจากการรวมตัวของแม่น้ำปิง วัง ยม และน่าน ที่จังหวัดนครสวรรค์ในภาคกลาง  "
        "ต้มยำกุ้งเป็นอาหารไทยที่มีรสเปรี้ยวและเผ็ด ปรุงด้วยตะไคร้ ใบมะกรูด ข่า พริก และน้ำมะนาว\n"
        "ผู้โดยสารหลีกเลี่ยงการจราจรติดขัด ในน้ำมีปลา ในนามีข้าว"
    )
    assert sentences(text) == [
        "แม่น้ำเจ้าพระยาเกิดจากการรวมตัวของแม่น้ำปิง วัง ยม และน่าน",
        "ที่จังหวัดนครสวรรค์ในภาคกลาง",
        "ต้มยำกุ้งเป็นอาหารไทยที่มีรสเปรี้ยวและเผ็ด",
        "ปรุงด้วยตะไคร้ ใบมะกรูด ข่า พริก และน้ำมะนาว",
        "ผู้โดยสารหลีกเลี่ยงการจราจรติดขัด",
        "ในน้ำมีปลา ในนามีข้าว",
    ]
    # A space between Thai and a number or a Latin word is inside the sentence; other scripts are untouched.
    assert sentences("รถไฟฟ้าเปิดให้บริการครั้งแรกเมื่อวันที่ 5 ธันวาคม พ.ศ. 2542 มีสองสาย") == [
        "รถไฟฟ้าเปิดให้บริการครั้งแรกเมื่อวันที่ 5 ธันวาคม พ.ศ. 2542 มีสองสาย"
    ]
    assert sentences("ทุเรียนหมอนทองส่งออกไปยังประเทศจีนมากที่สุด Durian exports. They grow.") == [
        "ทุเรียนหมอนทองส่งออกไปยังประเทศจีนมากที่สุด Durian exports.",
        "They grow.",
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from([*"กขงตนมยรอาิีุเแไ่้ั", " ", "\t", "\n", ".", "1"]), max_size=200), st.data())
def test_thai_spans_are_exact_and_cover_the_range(text: str, data: st.DataObject) -> None:
    check_spans(text, 0, len(text))
    start = data.draw(st.integers(0, len(text)))
    check_spans(text, start, data.draw(st.integers(start, len(text))))
