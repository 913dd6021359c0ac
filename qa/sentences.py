"""Sentences with exact offsets, each with the kind of text it is.

``sentence_spans(text)`` reads the text's line structure first, then its punctuation:

- **code**: the lines of a fenced block (```` ``` ```` or ``~~~``), the fences included, and doctest
  or shell-prompt lines (``>>> x``, ``... y``, ``$ cmd``) with the output lines that follow them up
  to a blank line: one span per line, never glued to prose;
- **heading**: a Markdown ATX heading line (``## Title``) or a setext one (a line underlined by
  ``===`` or ``---``); the underline and horizontal rules are **rule**. Plain text's headings too, in
  any language (a formatted man page's ``NAME``, ``ÜBERSICHT``, ``名称``, ``   Pattern Syntax``, a
  text README's ``INSTALLATION``): a line that begins a paragraph (a blank line or the range's start
  before it), indented at most 3 spaces, short (``PLAIN_HEADING_CHARS``, ``PLAIN_HEADING_WORDS``),
  ending in no punctuation that ends or leads on a sentence (``.``, ``:``, ``,``, ``。``...) nor in a
  short lower-case word (``to``, ``at``: "Report bugs to" runs on below), with no comma, no column
  gap, not an option (``-r``) or a tag (``<x>``), and either followed right away by a line indented
  more than it (a man page's body) or, with a blank line after it and text after that, in capitals
  (``str.isupper``, two cased letters or more), or a label (``LABEL_WORDS``: one or two capitalized
  words of letters, a note's title as DocBook and Sphinx write it: ``Nota``, ``See also``) with
  other text before or after it. So a lead-in ("Formats:" over indented lines), a sentence and a
  one-line paragraph stay prose;
- **signature**: a line that is only a call signature (``os.path.join(path, *paths)``,
  ``int printf(const char *format, ...);``), as documentation written as text has them;
- **row**: a table row (``| a | b |``); the separator row under its header is a rule;
- **item**: a list item (``- x``, ``* x``, ``• x``, ``1. x``, ``2) x``) and its continuation lines:
  its own unit, split into sentences like prose;
- **prose**: the rest, paragraphs (split at blank lines) split at sentence-ending punctuation.
  Abbreviations (``e.g.``, ``i.e.``, ``etc.``, ``Dr.``, ``U.S.``, ``p. 122``, ``c. 1455``, German's
  ``z. B.``, ``Mio.``, ``n. Chr.``), initials (``J. Smith``, and in scripts without case a single
  letter: ``م. ثيو``) and a day's or century's ordinal (``am 8. Februar``, ``im 19. Jahrhundert``)
  do not end a sentence, nor does punctuation followed by a lower-case word.

Only prose, items and rows can be answers (``Sentence.answerable``). Spans are ``(start, end)``
indexes into the text, never re-searched strings, so every citation built from them is exact: they
are in order, do not overlap, are stripped of surrounding whitespace, and together cover every
non-whitespace character of the range.

Fences: ``qa.parse.html`` writes every opening fence with a language (```` ```python ````,
```` ```text ````), so a bare fence there always closes a block. A chunk can begin inside a code
block; its first fence is then a bare closing one, and the lines before it are code. For text that
may open blocks with bare fences (Markdown files), a first bare fence with no other fence after it is
taken as a closing one when the lines before it look less like prose than the lines after it.

A regex splitter on purpose: no library we depend on splits sentences, and the candidates cost more
than these rules: pysbd's character spans are known to come out wrong (they drift on repeated text),
nltk's punkt needs downloaded data, spaCy a language pipeline; none of them knows code or headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ANSWERABLE",
    "FENCE_LINE",
    "HEADING_LINE",
    "PARAGRAPH_BREAK",
    "Kind",
    "Sentence",
    "heading_lines",
    "sentence_spans",
    "split_sentences",
    "strip_span",
]

Kind = Literal["prose", "item", "row", "heading", "signature", "code", "rule"]
# Kinds a sentence chosen as an answer may have; headings, signatures, code and rules are structure.
ANSWERABLE: frozenset[str] = frozenset({"prose", "item", "row"})

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")  # a blank line; "\n\r\n" (CRLF) matches too
HEADING_LINE = re.compile(r"^ {0,3}(#{1,6})[ \t]+\S[^\n]*", re.MULTILINE)  # markdown ATX heading

# A fenced code block's opening or closing line, with the info string's first word.
FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n`]*")
_ATX = re.compile(r" {0,3}#{1,6}[ \t]+\S")
_RULE = re.compile(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|=+[ \t]*)\r?")
_TABLE_SEPARATOR = re.compile(r"[ \t]*\|?(?:[ \t]*:?-{2,}:?[ \t]*\|)+(?:[ \t]*:?-{2,}:?[ \t]*)?\|?[ \t]*\r?")
_ROW = re.compile(r" {0,3}\|[^\n]*\|")
# A formatted man page's running head or foot: "LS(1)   User Commands   LS(1)", "GNU coreutils 9.1
# September 2022   LS(1)": columns apart, ending in the page's name and section. Not prose.
_MAN_HEAD = re.compile(r"[^\n]*\S[ \t]{3,}\S[^\n]*[ \t]{3,}[A-Za-z][\w.+:-]*\(\d\w*\)[ \t]*\r?")
_ITEM = re.compile(r"[ \t]*(?:[-*+•◦▪‣]|\d{1,9}[.)])[ \t]+\S")
_PROMPT = re.compile(r"[ \t]*(?:>>>(?:[ \t]|\r?$)|\$ (?=[a-z./~]))")  # a doctest or shell prompt
# A line that is only a call signature: optional declaration words, a (dotted) name, "(...)", an
# optional return annotation or ";"/":". No ". " inside: that is a sentence.
_DECL = (
    r"(?:async|def|class|function|func|fn|static|const|struct|enum|union|unsigned|signed|extern|inline"
    r"|virtual|public|private|protected|void|int|long|short|char|float|double|bool|size_t|[\w]+[ \t]*\*+)"
)
_SIGNATURE = re.compile(
    rf"[ \t]*(?:{_DECL}[ \t]+)*\**[A-Za-z_][\w.:]*(?:\[[^\]\n]*\])?\((?:[^()\n]|\([^()\n]*\))*\)"
    r"(?:[ \t]*->[ \t]*[^\n]+?)?[ \t]*[;:]?[ \t]*\r?"
)

# Terminal punctuation plus closing quotes/brackets, then whitespace and the next sentence's first character.
# Matching only from the start of a punctuation run, possessively, keeps long runs ("....") linear.
_END = re.compile(r"(?<![.!?…؟])([.!?…؟]++)([\"'”’)\]»]*+)(?=\s+(\S))")
# Full stops that need no space after them: Chinese and Japanese (。！？, half-width ｡), and the
# Devanagari danda (। ॥) of Hindi, Marathi, Nepali and Sanskrit; with any closing quote or bracket.
_END_UNSPACED = re.compile(r"[。！？｡।॥]++[」』）》〉”’\"'\])]*+")
# Thai ends a sentence with a space, not punctuation: whitespace between two Thai characters is a
# cut when the sentence so far and the next space-delimited phrase are long enough (a space also
# sets apart list items, "ปิง วัง ยม และน่าน", and short phrases, which stay in their sentence; nor
# does a phrase that begins with "and" or "or", และ or หรือ, begin one).
_THAI_SPACE = re.compile(r"(?<=[\u0e01-\u0e5b])\s+(?=[\u0e01-\u0e5b])")
THAI_MIN_SENTENCE = 20  # characters since the previous cut
THAI_MIN_NEXT = 10  # characters of the phrase after the space
_THAI_JOINING = ("และ", "หรือ")
_WORD_BEFORE = re.compile(r"(?:[^\W\d_]|\.)+\Z")  # letters and dots right before the punctuation
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "e.g", "J.R.R", "U.S.A"

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs v etc e.g i.e fig figs al inc ltd co corp u.s u.k u.n cf approx viz ca resp"
    " incl esp dept gov gen sen rep rev capt lt sgt mt ave blvd"
    # German, Spanish and French ones that a capitalized word follows ("30 Mio. GBP", "Sra. López")
    " mio mrd bzw usw vgl evtl ggf bspw sog inkl zzgl jh jhd tsd aprox sra srta dra mme mlle".split()
)
# Only abbreviations when a number follows ("Dec. 8", "No. 5", "p. 122"); "I said no. Then" still ends
# a sentence.
_BEFORE_NUMBER = frozenset(
    "no nos jan feb mar apr jun jul aug sep sept oct nov dec p pp vol vols ch chap sec sect eq eqs art para"
    " ref refs op pt pts ex fn col cols ed eds nr abs c".split()
)
# Words after a number's full stop that make the number an ordinal ("am 8. Februar", "im 19.
# Jahrhundert"): German writes ordinals with a full stop and capitalizes these nouns.
_ORDINAL_NOUNS = frozenset(
    "januar jänner februar märz april mai juni juli august september oktober november dezember"
    " jahrhundert jahrhunderts jahrhunderte jahrhunderten jahrtausend jahrtausends".split()
)
_DAY_NUMBER = re.compile(r"(?<![\d.,])\d{1,2}\Z")  # "8", "19": a day or a century, not "1999" or "2.5"
_NEXT_WORD = re.compile(r"[^\W\d_]+")
_LETTER_DOT = re.compile(r"[^\W\d_]\.")  # the "B." of "z. B.", the "h." of "d. h."
_AFTER_LETTER_DOT = re.compile(r"(?<![^\W\d_])[^\W\d_]\.\s+\Z")  # "d. " before the "h." of "d. h."
_ERA = re.compile(r"Chr\.")  # the "Chr." of German's "v. Chr." and "n. Chr." (before and after Christ)

# Line classes.
_BLANK, _TEXT, _FENCE_LINE, _HEADING, _RULE_LINE, _ROW_LINE, _ITEM_LINE, _PROMPT_LINE, _SIGNATURE_LINE = range(9)
_STRUCTURE_KIND: dict[int, Kind] = {_HEADING: "heading", _RULE_LINE: "rule", _ROW_LINE: "row"}

# A plain-text heading (see the module's docstring) is at most this long; man pages' section and
# subsection names are ("ENVIRONMENT VARIABLES", "   Character Classes and Bracket Expressions"),
# the first line of a wrapped paragraph mostly is not.
PLAIN_HEADING_CHARS = 60
PLAIN_HEADING_WORDS = 8
# A paragraph of at most this many words, capitalized, without punctuation, with text after it, is a
# label: the title of a note or a warning ("Nota", "See also") as documentation generators write them
# (DocBook's and Sphinx's HTML), no sentence of its own.
LABEL_WORDS = 2
# Last characters that make a line a sentence, a lead-in ("The tool accepts three formats:") or the
# first part of one (a line wrapped after a comma, a dash or a backslash), not a heading.
_PLAIN_HEADING_NOT_LAST = frozenset(".!?…;:,-–—。！？｡।॥、，；：\\")
_COLUMNS = re.compile(r"\S(?:\t| {3})")  # "yasm          The Yasm Modular Assembler": two columns


@dataclass(frozen=True, slots=True)
class Sentence:
    """``text[start:end]`` is one sentence (or one structural line) of kind ``kind``."""

    start: int
    end: int
    kind: Kind = "prose"

    @property
    def answerable(self) -> bool:
        """Whether this span can be an answer: prose, a list item or a table row."""
        return self.kind in ANSWERABLE


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``text[start:end]`` past leading and trailing whitespace (``start == end`` if nothing is left)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` inside ``text[start:end]``: absolute, stripped, non-empty and in
    order, code lines, headings and other structure included (see ``sentence_spans`` for kinds)."""
    return [(s.start, s.end) for s in sentence_spans(text, start, end)]


def heading_lines(text: str) -> list[tuple[int, int, int]]:
    """``(start, end, level)`` of the Markdown ATX heading lines (``## Title``) of ``text`` that are
    not inside code: a ``# comment`` line of a fenced block is no heading."""
    lines, classes, code = _structure(text, 0, len(text))
    out = []
    for (s, e), cls, is_code in zip(lines, classes, code, strict=True):
        if cls == _HEADING and not is_code:
            m = HEADING_LINE.match(text, s, e)
            if m:
                out.append((m.start(), m.end(), len(m.group(1))))
    return out


def _structure(text: str, start: int, end: int) -> tuple[list[tuple[int, int]], list[int], list[bool]]:
    """The lines of ``text[start:end]`` (without their newlines), their classes, and which are code."""
    lines = []
    pos = start
    while (nl := text.find("\n", pos, end)) >= 0:
        lines.append((pos, nl))
        pos = nl + 1
    lines.append((pos, end))
    classes = [_classify(text, s, e) for s, e in lines]
    return lines, classes, _code_lines(text, lines, classes)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Sentence]:
    """The sentences and structural lines of ``text[start:end]``, in order, each with its kind."""
    end = len(text) if end is None else min(end, len(text))
    if start >= end:
        return []
    lines, classes, code = _structure(text, start, end)
    _setext(text, lines, classes, code)
    _plain_headings(text, lines, classes, code)

    out: list[Sentence] = []
    i, n = 0, len(lines)
    while i < n:
        ls, le = lines[i]
        cls = classes[i]
        if code[i] or cls in (_HEADING, _RULE_LINE, _ROW_LINE, _SIGNATURE_LINE):
            s, e = strip_span(text, ls, le)
            if s < e:
                kind: Kind = "code" if code[i] else "signature" if cls == _SIGNATURE_LINE else _STRUCTURE_KIND[cls]
                out.append(Sentence(s, e, kind))
            i += 1
            continue
        if cls == _BLANK:
            i += 1
            continue
        # A paragraph of prose, or a list item: its lines run on until a blank or a structural line.
        j = i + 1
        while j < n and classes[j] == _TEXT and not code[j]:
            j += 1
        _punctuation(text, ls, lines[j - 1][1], "item" if cls == _ITEM_LINE else "prose", out)
        i = j
    return out


def _classify(text: str, start: int, end: int) -> int:
    """The class of the line ``text[start:end]`` on its own (code blocks are found afterwards)."""
    if start == end or text[start:end].isspace():
        return _BLANK
    c = text[start:end].lstrip(" \t")[:1]
    if c in "`~" and FENCE_LINE.fullmatch(text, start, _rstrip_cr(text, start, end)):
        return _FENCE_LINE
    if c == "#" and _ATX.match(text, start, end):
        return _HEADING
    if c in "-*_=|:" and (_RULE.fullmatch(text, start, end) or _TABLE_SEPARATOR.fullmatch(text, start, end)):
        return _RULE_LINE
    if c == "|" and _ROW.match(text, start, end):
        return _ROW_LINE
    if _ITEM.match(text, start, end):
        return _ITEM_LINE
    if c in ">$" and _PROMPT.match(text, start, end):
        return _PROMPT_LINE
    # (A man page's lines are short; the length check keeps the pattern's backtracking bounded.)
    if end - start <= 200 and text.endswith((")", ")\r"), start, end) and _MAN_HEAD.fullmatch(text, start, end):
        return _RULE_LINE
    if text.endswith((")", ");", "):", ")\r", ");\r", "):\r"), start, end) or "->" in text[start:end]:
        line = text[start:end]
        if ". " not in line and _SIGNATURE.fullmatch(line):
            return _SIGNATURE_LINE
    return _TEXT


def _rstrip_cr(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " \t\r":
        end -= 1
    return end


def _fence(text: str, start: int, end: int) -> tuple[str, int, bool]:
    """A fence line's character, length, and whether it has an info string (a language)."""
    m = FENCE_LINE.fullmatch(text, start, _rstrip_cr(text, start, end))
    assert m is not None
    return m.group(1)[0], len(m.group(1)), bool(m.group(2))


def _code_lines(text: str, lines: list[tuple[int, int]], classes: list[int]) -> list[bool]:
    """Which lines are code: inside fenced blocks (fences included), and doctest/prompt runs."""
    n = len(lines)
    code = [False] * n
    fences = [i for i in range(n) if classes[i] == _FENCE_LINE]
    first = 0
    if fences and not _fence(text, *lines[fences[0]])[2] and _closes_block(text, lines, classes, fences[0], fences):
        first = fences[0] + 1  # the range began inside a block that this fence closes
        for i in range(first):
            code[i] = classes[i] != _BLANK
    block: tuple[str, int] | None = None  # character and length of the open block's fence
    for i in range(first, n):
        if classes[i] == _FENCE_LINE:
            char, length, info = _fence(text, *lines[i])
            if block is None:
                block = (char, length)
            elif char == block[0] and length >= block[1] and not info:
                block = None
            code[i] = True
        elif block is not None and classes[i] != _BLANK:
            code[i] = True
    # Doctest and shell sessions outside fences: the prompt line and what follows it to a blank line.
    i = 0
    while i < n:
        if classes[i] == _PROMPT_LINE and not code[i]:
            while i < n and classes[i] not in (_BLANK, _FENCE_LINE, _HEADING):
                code[i] = True
                i += 1
            continue
        i += 1
    return code


def _closes_block(text: str, lines: list[tuple[int, int]], classes: list[int], i: int, fences: list[int]) -> bool:
    """Whether a first, bare fence with text before it closes a block begun before the range (see the
    module's docstring)."""
    if not any(classes[j] != _BLANK for j in range(i)):
        return False
    later = fences[1:]
    if later:
        # A bare fence after it pairs with it (it opens); a fence with a language after it opens a
        # block of its own, so this one closed the block the range began in.
        return _fence(text, *lines[later[0]])[2]
    # Alone, it closes a block only if code comes before it and prose after it; with nothing after
    # it, it is taken to open one (the lines before stay prose, as they read).
    after = [(ln, c) for ln, c in zip(lines[i + 1 :], classes[i + 1 :], strict=True) if c != _BLANK]
    if not after:
        return False
    return _prose_share(text, lines[:i], classes[:i]) < _prose_share(text, *map(list, zip(*after, strict=True)))


_WORDS = re.compile(r"[^\W\d_]{2,}")


def _prose_share(text: str, lines: list[tuple[int, int]], classes: list[int]) -> float:
    """Share of non-blank lines that read as prose: mostly words, few code symbols."""
    scored = [text[s:e] for (s, e), c in zip(lines, classes, strict=True) if c != _BLANK]
    prose = 0
    for line in scored:
        words = _WORDS.findall(line)
        symbols = sum(line.count(ch) for ch in "=(){}[];<>_/\\$#@*`")
        prose += len(words) >= 4 and symbols <= len(words) // 3
    return prose / len(scored)


def _setext(text: str, lines: list[tuple[int, int]], classes: list[int], code: list[bool]) -> None:
    """A single text line underlined by ``===`` or ``---`` is a heading (the underline a rule)."""
    for i in range(1, len(lines)):
        if classes[i] != _RULE_LINE or code[i] or classes[i - 1] != _TEXT or code[i - 1]:
            continue
        under = text[lines[i][0] : lines[i][1]].strip()
        if len(set(under)) == 1 and under[0] in "=-" and (i == 1 or classes[i - 2] != _TEXT):
            classes[i - 1] = _HEADING


def _indent(text: str, start: int, end: int) -> int:
    """The width of the line ``text[start:end]``'s leading whitespace, tabs to the next multiple of 8
    (``col -b`` writes a man page's indents with tabs)."""
    width = 0
    for ch in text[start:end]:
        if ch == "\t":
            width += 8 - width % 8
        elif ch == " ":
            width += 1
        else:
            break
    return width


def _plain_headings(text: str, lines: list[tuple[int, int]], classes: list[int], code: list[bool]) -> None:
    """Plain-text heading lines (see the module's docstring) are headings."""
    n = len(lines)
    last = max((i for i in range(n) if classes[i] != _BLANK), default=-1)
    first = min((i for i in range(n) if classes[i] != _BLANK), default=n)
    for i in range(n):
        if classes[i] != _TEXT or code[i] or (i > 0 and classes[i - 1] != _BLANK):
            continue
        s, e = strip_span(text, *lines[i])
        line = text[s:e]
        indent = _indent(text, *lines[i])
        if (
            indent > 3
            or e - s > PLAIN_HEADING_CHARS
            or len(line.split()) > PLAIN_HEADING_WORDS
            or line[-1] in _PLAIN_HEADING_NOT_LAST
            or line[0] in "-<"  # an option's entry ("-r, --reverse", qa.answer reads those), a markup tag
            or "," in line  # a clause: "For usage, see the manual or"
            or _COLUMNS.search(line)
        ):
            continue
        # A sentence that runs on below it ends in a short word: "Please report problems to", "... or".
        tail = line.rsplit(None, 1)[-1]
        if len(tail) <= 3 and tail.isalpha() and tail.islower():
            continue
        if i + 1 < n and classes[i + 1] != _BLANK:
            if _indent(text, *lines[i + 1]) > indent:  # the indented text under it
                classes[i] = _HEADING
        elif i < last and line.isupper() and sum(ch.isupper() for ch in line) >= 2:
            classes[i] = _HEADING  # in capitals, text after it: a text that is only "NASA" is no heading
        elif (i < last or i > first) and _is_label(line):
            # A note's title ("Note", "Nota", "See also", "Warnung"), also where a chunk ends right
            # after it; a text that is only "Note" stays prose.
            classes[i] = _HEADING


def _is_label(line: str) -> bool:
    """A title such as an admonition's: at most ``LABEL_WORDS`` words of letters only, the first one
    capitalized (a cased script: in Chinese or Arabic a sentence may be one such "word")."""
    words = line.split()
    return len(words) <= LABEL_WORDS and all(w.isalpha() for w in words) and line[0].isupper()


def _punctuation(text: str, start: int, end: int, kind: Kind, out: list[Sentence]) -> None:
    """Append the sentences of a paragraph or list item ``text[start:end]``."""
    cuts = [m.end() for m in _END.finditer(text, start, end) if _ends_sentence(text, m)]
    cuts += [m.end() for m in _END_UNSPACED.finditer(text, start, end) if m.end() < end]
    cuts = _thai_cuts(text, start, end, sorted(set(cuts)))
    for cut in [*cuts, end]:
        s, e = strip_span(text, start, cut)
        if s < e:
            out.append(Sentence(s, e, kind))
        start = cut


def _thai_cuts(text: str, start: int, end: int, cuts: list[int]) -> list[int]:
    """``cuts`` with the spaces that end a Thai sentence in ``text[start:end]`` added, in order."""
    if not _THAI_SPACE.search(text, start, end):
        return cuts
    out: list[int] = []
    pending = iter(cuts)
    nxt = next(pending, None)
    last = start
    for m in _THAI_SPACE.finditer(text, start, end):
        while nxt is not None and nxt <= m.start():
            out.append(nxt)
            last = nxt
            nxt = next(pending, None)
        phrase = m.end()
        while phrase < end and not text[phrase].isspace():
            phrase += 1
        if (
            m.start() - last >= THAI_MIN_SENTENCE
            and phrase - m.end() >= THAI_MIN_NEXT
            and not text.startswith(_THAI_JOINING, m.end())
        ):
            out.append(m.end())
            last = m.end()
    while nxt is not None:
        out.append(nxt)
        nxt = next(pending, None)
    return sorted(set(out))


def _ends_sentence(text: str, m: re.Match[str]) -> bool:
    """Whether the punctuation matched by ``_END`` closes a sentence."""
    nxt = m.group(3)
    if nxt.islower() or nxt in ")]},;:":  # "(p. )" and "(see p. 12))": what follows closes, not starts
        return False
    if m.group(1) != "." or m.group(2):  # only a bare single "." can belong to an abbreviation
        return True
    before = _WORD_BEFORE.search(text, max(0, m.start() - 12), m.start())
    if before is None:
        if _DAY_NUMBER.search(text, max(0, m.start() - 3), m.start()):
            following = _NEXT_WORD.match(text, m.start(3))
            return not (following and following.group().lower() in _ORDINAL_NOUNS)
        return True
    word = before.group()
    lower = word.lower()
    if lower in _ABBREVIATIONS or _DOTTED.fullmatch(word) or (lower in _BEFORE_NUMBER and nxt.isdigit()):
        return False
    if len(word) == 1:
        # An initial: a capital ("J. Smith") or a letter of a script without case (Arabic's "م. ثيو");
        # a lower-case letter only in a pair of them ("z. B.", "d. h.").
        pair = (
            _LETTER_DOT.match(text, m.start(3))
            or _ERA.match(text, m.start(3))
            or _AFTER_LETTER_DOT.search(text, max(0, before.start() - 4), before.start())
        )
        return word.islower() and not pair
    return True
