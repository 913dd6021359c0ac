"""A PDF's page texts made into one clean, flowing text, with the offset where each page starts.

A PDF's text layer is a list of lines per page, laid out for paper: running heads and footers,
page numbers, words hyphenated at line ends, ligature glyphs (ﬁ, ﬂ), tables of contents with dot
leaders, footnotes at the bottom of the page. ``clean_pages`` turns the pages into the text that
is indexed and cited (the stored document text: every offset refers to it), by rules that need no
layout information, so they work on any extractor's output and are tested on plain strings:

- glyphs without a character (control codes, private use, U+FFFD) are dropped, or made a bullet
  "•" at a line's start;
- ligatures ``ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ`` become their letters (NFKC of those characters only), and a
  spacing accent before a letter (TeX's "Br¨oker") the accented letter ("Bröker");
- running heads and footers are dropped: a line among the first or last two of a page that comes
  back on many pages, digits aside ("gnuplot 5.4 41" / "gnuplot 5.4 42"), bare page numbers,
  and a line there that starts or ends with the page's printed number when many pages carry it
  so ("4.14. DELIMITERS 17" on the 21st page, whatever the section);
- table-of-contents lines ("Introduction . . . . 3", and the "1 Introduction 2" lines among them;
  five or more lines in a row that end in page numbers that never go down) and back-of-book
  index entries (five or more "term, 12, 40" lines in a row) are dropped: they repeat the
  headings and terms, and glued into text they made answers of page numbers;
- a footnote (a line at the bottom of a page starting with the marker that follows a word above:
  "reserved.∗" ... "∗This file ...") is a paragraph of its own and its marker is taken out of the
  sentence; it goes after the page's text, or before it when that text goes on into the next
  page, so it never cuts a sentence in two;
- a line is joined to the next with a space when it is full (near the page's usual line length)
  and the next does not start a list item or, after a line that ends a sentence, a description
  list's entry (a lowercase term, maybe a gloss, then a colon or a capital: "tbtags
  'Top-or-bottom tags': For ...", "family The name for ..."); otherwise a blank line separates
  them, so headings, code lines, entries and the last line of a paragraph are never glued to what
  follows;
- a word hyphenated across lines is joined ("exam-" + "ple" = "example") unless the hyphen is
  real: the word before it is already a compound ("state-of-the-" + "art"), the hyphenated form
  is the one the document uses elsewhere, or the prefix is one that takes a hyphen ("well-known");
  a soft hyphen there always goes, and PDFium's own mark for a line-end hyphen (U+FFFE, the
  two lines already joined) is decided like a plain one;
- a sentence that goes on over a page break is joined across it (the page's last line is full
  and ends without a full stop).

Reading order within a page is the extractor's (the content stream's order, which keeps the two
columns of a TeX two-column page apart).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from qa.parse.content import normalize_text

# Ligature code points (Alphabetic Presentation Forms) and their letters.
_LIGATURES = {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0xFB00, 0xFB07)}
# What PDFium puts for a hyphen at a line end that it joined (the line break is gone).
PDFIUM_HYPHEN = "\ufffe"
_SOFT_HYPHEN = "\u00ad"
_HYPHENS = "-" + _SOFT_HYPHEN + PDFIUM_HYPHEN

# TeX's accents are glyphs of their own, before the letter: "Br¨oker", "J´erˆome". Spacing accent
# and letter become the accented letter (where Unicode has it as one character).
_COMBINING = {"¨": "\u0308", "´": "\u0301", "ˆ": "\u0302", "˜": "\u0303", "¸": "\u0327", "ˇ": "\u030c",
              "˘": "\u0306", "˙": "\u0307", "˚": "\u030a", "˝": "\u030b", "¯": "\u0304"}  # fmt: skip
_SPACING_ACCENT = re.compile(f"([{''.join(_COMBINING)}])([^\\W\\d_])")
# Glyphs without a character: control codes (TeX math fonts' own codes), private-use code points
# (pieces of big delimiters) and U+FFFD. At a line's start before a space such a glyph is a
# bullet (gnuplot's manual: 0x88); anywhere else it is dropped.
_JUNK = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]")
_JUNK_BULLET = re.compile("^[\x7f-\x9f\ue000-\uf8ff] ")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
# A bare page number, possibly dressed: "12", "- 12 -", "– 12 –", "Page 12", "12 of 40", "xii".
_PAGE_NUMBER = re.compile(r"(?:page\s+)?[-–—]?\s*(?:\d+|[ivxlcdm]+)\s*[-–—]?(?:\s+of\s+\d+)?", re.IGNORECASE)
# A table-of-contents entry with a dot leader: "Title . . . . 12" or "Title ........ xii".
_TOC_LEADER = re.compile(r"\S.*?(?:\.\s?){3,}\s*(?:\d+|[ivxlcdm]+)\s*", re.IGNORECASE)
# A numbered TOC entry without a leader ("1 Introduction 2"), counted only beside leader lines.
_TOC_NUMBERED = re.compile(r"(?:\d+|[A-Z])(?:\.\d+)*\.?\s+\S.*\s(?:\d+|[ivxlcdm]+)", re.IGNORECASE)
# A contents line without a leader ends in a page number; an index entry in a list of them.
_ENDS_NUMBER = re.compile(r"\s(\d{1,5})$")
_INDEX_ENTRY = re.compile(r".*[^\W\d_].*,\s*\d{1,5}(?:\s*[,–-]\s*\d{1,5})*")
# Lines in a row that make a contents list without leaders, or an index.
TOC_RUN = 5
# A list item's first line: a bullet, or "(a)", "1." / "1)" followed by a space.
_LIST_ITEM = re.compile(r"(?:[•◦▪▫●○■□‣⁃∙·*–-]|\(?[0-9a-z]{1,3}[.)])\s+\S")
# A description list entry's first line, as LaTeX sets one (the term in bold, lost in the text):
# a lowercase term, maybe a gloss in quotes or parentheses, then a colon or the description's
# capital ("tbtags 'Top-or-bottom tags': For an equation ...", "family The name for a collection
# of fonts ..."). Counted only after a line that ends a sentence, and not when the term is one of
# the words prose starts a line with ("the AMS classes have ...").
_ENTRY_LINE = re.compile(
    r"(?P<term>[a-z][\w-]*)(?:\s+(?:‘[^’]{1,40}’|'[^']{1,40}'|\"[^\"]{1,40}\"|“[^”]{1,40}”|\([^()]{1,40}\)))?"
    r"(?::\s|\s+[A-Z])"
)
_PROSE_STARTS = frozenset(
    "a an the and or but of in on at to for by with as is are was were be it its this that".split()
)
# Footnote markers: symbols, or a number of one or two digits.
_MARKERS = "∗*†‡§¶"
_FOOTNOTE_LINE = re.compile(rf"([{_MARKERS}]|\d{{1,2}})\s?(?=[A-Z(“‘\"'])")
_WORD_RUN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# Prefixes that keep their hyphen at a line end: "well-" + "known" stays "well-known".
_HYPHEN_PREFIXES = frozenset("self well non ill half cross quasi all ex anti multi semi".split())

# What the last line of a paragraph ends with (a heading does not).
_CLOSING = ".!?:;,)]}\"'’”"
# A line is full when it is at least this share of the page's usual line length.
FULL_LINE = 0.8
# Lines among the first and the last of a page that may be a running head or footer.
EDGE_LINES = 2
# Pages whose head or footer carries the page number (at one offset from the page's index), for
# such lines to count as running heads.
NUMBERED_SHARE = 0.3
_LEADING_NUMBER = re.compile(r"(\d{1,4})\s")
_TRAILING_NUMBER = re.compile(r"\s(\d{1,4})$")
# A running head without digits must come back on this share of the pages (and on 3 at least).
HEAD_SHARE = 0.2


@dataclass(frozen=True)
class PagedText:
    """Clean text and the offset where each page's text starts: page ``i`` (0-based) is
    ``text[starts[i]:starts[i + 1]]`` (the last one runs to the end); an empty page has the same
    start as the next."""

    text: str
    starts: tuple[int, ...]


def clean_pages(pages: Sequence[str]) -> PagedText:
    """One clean text from the text layers of ``pages`` (see the module docstring)."""
    raw = [_page_lines(p) for p in pages]
    heads = _running_heads(raw)
    offset = _numbering_offset(raw)
    vocab = _vocabulary(raw)
    bodies = []
    for number, lines in enumerate(raw, start=1):
        n = len(lines)
        kept = [
            ln
            for i, ln in enumerate(lines)
            if not (
                (i < EDGE_LINES or i >= n - EDGE_LINES)
                and (_key(ln) in heads or (offset is not None and number + offset in _edge_numbers(ln)))
            )
        ]
        if not kept:  # a page of nothing but a repeated line: the line is the page's text
            kept = [ln for ln in lines if _key(ln) != "#"]
        bodies.append(_footnotes(_drop_toc(kept, len(pages))))
    doc_width = _usual([w for body, _ in bodies for w in _widths(body)])

    out: list[str] = []
    size = 0
    starts: list[int] = []
    last = ""
    open_end = False  # whether the text written so far may go on into the next page
    for body, notes in bodies:
        own = _widths(body)
        width = _usual(own) if len(own) >= 8 else doc_width
        # The page's text goes on into the next page's when its last line is full and does not
        # end a sentence (a line that does is as often the end of a paragraph). Its footnotes
        # then go before its body, where they cut no sentence (unless the page itself goes on
        # from the one before: then they go after it, and the text stops there).
        goes_on = bool(body) and _full(body[-1], width) and body[-1][-1] not in ".!?:"
        notes_first = bool(notes) and goes_on and not open_end
        items = [(ln, False) for ln in body]
        items = [(n, True) for n in notes] + items if notes_first else items + [(n, True) for n in notes]
        start = None
        after_note = False
        for i, (line, note) in enumerate(items):
            if out:
                if note or after_note:
                    sep, tail = "\n\n", None
                else:
                    sep, tail = _glue(last, line, vocab, open_end if i == 0 else _full(last, width), width)
                if tail is not None:  # the previous line's hyphen goes, or becomes a real one
                    out[-1] = out[-1][:-1] + tail
                    size += len(tail) - 1
                out.append(sep)
                size += len(sep)
            if start is None:
                start = size
            out.append(line)
            size += len(line)
            last, after_note = line, note
        if items:
            open_end = goes_on and (notes_first or not notes)
        starts.append(-1 if start is None else start)
    # A PDFium hyphen mark left (before a capital or a digit: "CMEX10-" + "Baseline") is a hyphen.
    text = "".join(out).replace(PDFIUM_HYPHEN, "-")
    return PagedText(text, tuple(_monotonic(starts, len(text))))


# -- pages and lines ------------------------------------------------------------------------------


def _page_lines(page: str) -> list[str]:
    """A page's non-blank lines, stripped, ligatures resolved, spaces collapsed."""
    page = normalize_text(page.translate(_LIGATURES)).replace("\r\n", "\n").replace("\r", "\n")
    page = _SPACING_ACCENT.sub(_accented, page)
    # PDFium joins a line that ends in a hyphen to the next, with U+FFFE for the hyphen: undone,
    # so that every line-end hyphen is decided by one rule (``_glue``).
    page = page.replace(PDFIUM_HYPHEN, PDFIUM_HYPHEN + "\n")
    lines = []
    for line in page.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        line = _JUNK.sub("", _JUNK_BULLET.sub("• ", line)).strip()
        if line:
            lines.append(line)
    return lines


def _accented(m: re.Match[str]) -> str:
    letter = "i" if m.group(2) == "ı" else m.group(2)  # TeX accents a dotless i: "´ı" is "í"
    one = unicodedata.normalize("NFC", letter + _COMBINING[m.group(1)])
    return one if len(one) == 1 else m.group()


def _key(line: str) -> str:
    """A line with its numbers masked: what a running head keeps from page to page."""
    s = line.lower()
    if _PAGE_NUMBER.fullmatch(s):
        return "#"
    return _DIGITS.sub("#", s)


def _running_heads(pages: list[list[str]]) -> set[str]:
    """Keys of the lines that come back at the top or bottom of many pages."""
    count: Counter[str] = Counter()
    forms: dict[str, set[str]] = {}
    for lines in pages:
        edge = lines[:EDGE_LINES] + lines[max(EDGE_LINES, len(lines) - EDGE_LINES) :]
        seen = {_key(ln): ln for ln in edge}
        for key, ln in seen.items():
            count[key] += 1
            forms.setdefault(key, set()).add(ln)
    heads = set()
    for key, n in count.items():
        if key == "#":
            if n >= 2:
                heads.add(key)
        elif "#" in key and n >= 3 and len(forms[key]) >= 2:
            heads.add(key)
        elif n >= max(3, HEAD_SHARE * len(pages)):
            heads.add(key)
    return heads


def _edge_numbers(line: str) -> set[int]:
    """The numbers a line starts or ends with: where a running head carries the page number."""
    found = _LEADING_NUMBER.match(line), _TRAILING_NUMBER.search(line)
    return {int(m.group(1)) for m in found if m}


def _numbering_offset(pages: list[list[str]]) -> int | None:
    """Printed page number minus page index, when many pages' heads or footers carry it: a head
    with the number in it ("4.14. DELIMITERS 17") is then a running head even where its words
    come back on few pages (one per section)."""
    count: Counter[int] = Counter()
    for number, lines in enumerate(pages, start=1):
        edge = lines[:EDGE_LINES] + lines[max(EDGE_LINES, len(lines) - EDGE_LINES) :]
        count.update({n - number for ln in edge for n in _edge_numbers(ln)})
    if not count:
        return None
    offset, n = count.most_common(1)[0]
    return offset if n >= max(3, NUMBERED_SHARE * len(pages)) else None


def _drop_toc(lines: list[str], pages: int) -> list[str]:
    """``lines`` without table-of-contents and back-of-book index entries."""
    toc = [bool(_TOC_LEADER.fullmatch(ln)) for ln in lines]
    # Numbered entries without a leader ("1 Introduction 2") next to leader lines are entries too.
    changed = any(toc)
    while changed:
        changed = False
        for i, ln in enumerate(lines):
            if (
                not toc[i]
                and _TOC_NUMBERED.fullmatch(ln)
                and ((i > 0 and toc[i - 1]) or (i + 1 < len(lines) and toc[i + 1]))
            ):
                toc[i] = changed = True
    # A contents list without leaders: a run of lines that end in page numbers that never go down.
    numbers = [_page_ref(ln, pages) for ln in lines]
    run: list[int] = []
    for i in range(len(lines) + 1):
        n = numbers[i] if i < len(lines) else None
        if n is not None and (not run or n >= numbers[run[-1]]):  # type: ignore[operator]
            run.append(i)
            continue
        if len(run) >= TOC_RUN:
            for j in run:
                toc[j] = True
        run = [i] if n is not None else []
    # An index: a run of "term, 12, 40" lines.
    run = []
    for i in range(len(lines) + 1):
        if i < len(lines) and _INDEX_ENTRY.fullmatch(lines[i]):
            run.append(i)
            continue
        if len(run) >= TOC_RUN:
            for j in run:
                toc[j] = True
        run = []
    return [ln for ln, t in zip(lines, toc, strict=True) if not t]


def _page_ref(line: str, pages: int) -> int | None:
    """The page number a contents line ends with ("Fonts 46"), if it could be one."""
    m = _ENDS_NUMBER.search(line)
    if m is None or not _WORD_RUN.search(line[: m.start()]):
        return None
    n = int(m.group(1))
    return n if n <= pages + 50 else None


def _footnotes(lines: list[str]) -> tuple[list[str], list[str]]:
    """The page's body lines and its footnotes, each footnote one paragraph; the footnote's
    marker is taken out of the body line that carries it."""
    body = list(lines)
    notes: list[str] = []
    # From the bottom up: a footnote starts at a line with a marker that a body line above carries.
    for i in range(len(body) - 1, 0, -1):
        m = _FOOTNOTE_LINE.match(body[i])
        if not m or i < len(body) // 3:
            continue
        marker = m.group(1)
        inline = re.compile(rf"(?<=[^\W\d_]|[.,;:)’”]){re.escape(marker)}(?=\s|$|[.,;:])")
        for j in range(i - 1, -1, -1):
            found = inline.search(body[j])
            if found:
                body[j] = body[j][: found.start()] + body[j][found.end() :]
                notes.insert(0, " ".join(body[i:]))
                body = body[:i]
                break
    return body, notes


# -- joining lines --------------------------------------------------------------------------------


def _widths(lines: list[str]) -> list[int]:
    return [len(ln) for ln in lines if len(ln) >= 10]


def _usual(widths: list[int]) -> float:
    """The usual length of a full line: the 80th percentile of line lengths."""
    if not widths:
        return 0.0
    s = sorted(widths)
    return float(s[min(len(s) - 1, int(0.8 * len(s)))])


def _full(line: str, width: float) -> bool:
    return width > 0 and len(line) >= FULL_LINE * width


def _ends_hyphen(line: str) -> bool:
    """Whether ``line`` ends in a hyphen attached to a word or number ("exam-", "CMEX10-")."""
    return len(line) >= 2 and line[-1] in _HYPHENS and line[-2].isalnum()


def _word_before(line: str) -> str:
    """The word run (hyphens included) right before ``line``'s last character, or ""."""
    if len(line) < 2 or not line[-2].isalpha():
        return ""
    runs = _WORD_RUN.findall(line[:-1])
    return runs[-1] if runs else ""


def _word_after(line: str) -> str:
    m = _WORD_RUN.match(line)
    return m.group() if m else ""


def _glue(prev: str, line: str, vocab: Vocabulary, joinable: bool, width: float) -> tuple[str, str | None]:
    """What goes between ``prev`` and ``line``: a space (one paragraph), nothing (a word
    hyphenated across the break), or a blank line; and what replaces ``prev``'s last character
    when it is a line-end hyphen ("" to drop it, "-" to keep a real one), else None.

    ``joinable``: ``prev`` is full, so its paragraph may go on."""
    if prev[-1] == PDFIUM_HYPHEN:  # PDFium found the two lines to be one
        return "", _hyphen(_word_before(prev), _word_after(line), vocab)
    if not joinable:
        return "\n\n", None
    if _ends_hyphen(prev):
        if line[0].islower() and prev[-2].isalpha():
            return "", "" if prev[-1] == _SOFT_HYPHEN else _hyphen(_word_before(prev), _word_after(line), vocab)
        return "", "-"  # "CMEX10-" + "Baseline": the hyphen stays, and no space comes in
    if _LIST_ITEM.match(line) or _heading_after(prev, line, width) or _entry_after(prev, line):
        return "\n\n", None
    return " ", None


def _entry_after(prev: str, line: str) -> bool:
    """Whether ``line`` starts a description list's entry after a line that ends a sentence (the
    entry before, or the sentence that leads in the list)."""
    m = _ENTRY_LINE.match(line)
    return prev[-1] in ".:;" and m is not None and m.group("term") not in _PROSE_STARTS


def _heading_after(prev: str, line: str, width: float) -> bool:
    """Whether ``line`` is a heading after a paragraph that ended at the end of a full line: it
    starts with a capital or a digit, is short and ends without punctuation (a paragraph's
    last line ends with some)."""
    return (
        prev[-1] in ".!?:"
        and (line[0].isupper() or line[0].isdigit())
        and not _full(line, width)
        and line[-1] not in _CLOSING
    )


class Vocabulary:
    """Which words and hyphenated compounds a document uses, to decide line-end hyphens."""

    def __init__(self, words: Counter[str]) -> None:
        self.words = words

    def uses(self, word: str) -> int:
        return self.words.get(word.lower(), 0)


def _vocabulary(pages: list[list[str]]) -> Vocabulary:
    words: Counter[str] = Counter()
    for lines in pages:
        for ln in lines:
            words.update(w.lower() for w in _WORD_RUN.findall(ln))
    return Vocabulary(words)


def _hyphen(before: str, after: str, vocab: Vocabulary) -> str:
    """What joins the two halves of a word hyphenated at a line end: "" or "-".

    ``before`` is the word run before the hyphen (with any hyphens of its own), ``after`` the one
    after the break."""
    if not after or not after[0].islower():
        return "-"  # "CMEX10-" + "Baseline", "1-" + "Jan": not a word's halves
    if "-" in before:
        return "-"  # "state-of-the-" + "art": a compound goes on
    last = before.lower()
    head = after.split("-")[0]
    joined, hyphenated = vocab.uses(last + head), vocab.uses(f"{last}-{head}")
    if hyphenated > joined:
        return "-"
    if joined > hyphenated:
        return ""
    return "-" if last in _HYPHEN_PREFIXES else ""


def _monotonic(starts: list[int], end: int) -> list[int]:
    """Page starts with an empty page's (-1) set to the next page's start (the end of the text for
    the last ones), and the first page starting at 0."""
    out = [0] * len(starts)
    nxt = end
    for i in range(len(starts) - 1, -1, -1):
        if starts[i] >= 0:
            nxt = min(starts[i], nxt)
        out[i] = nxt
    if out:
        out[0] = 0
    return out
