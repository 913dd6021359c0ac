"""Short answers: the shortest span of an answer sentence that answers the question.

No extractive reader model ships with weights on PyPI (see ../shared/MODELS.md), so the span comes
from the question's expected answer type and the sentence's surface form:

- who / whom / whose, where, which + Capitalized noun: a run of capitalized words (a name), with
  name particles ("al-Shaibani", "de", "van") and coordinated names ("A and his counterpart B") joined;
- when, what year / date / century: a date, a month, a year or a decade;
- how many / much / long / far / old / big, what percentage: a number with its unit or noun;
- which / what function, module, class, method, option, flag, command, ...: a code-like name
  (``shutil.copy2()``, ``--verbose``, ``-V``, ``os.path``, ``PYTHONPATH``, ```quoted```);
- what (is the) default: the value the sentence gives after "default" ("defaults to 8", "default: True").

Nothing the question already says is part of the answer: candidates that only repeat it ("Paris" in
"Who met in Paris?") are skipped, a name is cut from the question's words it follows ("Premier of
Victoria is Daniel Andrews"), and a number keeps the unit the question lacks ("200 kilometres") but
not the noun it counts ("How many legions?": "eight"). Of the rest, the one
nearest the question's words in the sentence wins. When the question has no recognised type, or the
sentence holds no candidate of that type, there is no short answer: the cited sentence stands alone,
rather than a guessed span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from qa.terms import STOPWORDS

Kind = Literal["name", "date", "number", "identifier", "default"]

_WORD = re.compile(r"\w+", re.UNICODE)
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan\\.|Feb\\.|Mar\\.|Apr\\.|Jun\\.|Jul\\.|Aug\\.|Sep\\.|Sept\\.|Oct\\.|Nov\\.|Dec\\."
)
_DATE = re.compile(
    rf"\b(?:(?:\d{{1,2}}\s+)?(?:{_MONTHS})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{3,4}})?"
    r"|\d{3,4}s?(?:\s*(?:BC|BCE|AD|CE))?"
    r"|(?:the\s+)?\d{1,2}(?:st|nd|rd|th)\s+century)(?![\w-])"
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    "|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand"
    "|million|billion|trillion|dozen|half|hundreds|thousands|millions|billions|dozens"
)
_NUMBER = re.compile(
    rf"(?<![\w.])(?:[$€£¥]\s?)?(?:\d+(?:,\d{{3}})*(?:\.\d+)?|(?:{_NUMBER_WORDS})(?:[\s-](?:{_NUMBER_WORDS}))*)(?!\w)"
    r"(?:\s?(?:%|percent|per cent))?"
    r"(?:\s+(?:million|billion|trillion|thousand|hundred))?",
    re.IGNORECASE,
)
# The unit or noun after a number ("200 kilometres", "3 million dairy cattle"): at most two
# lower-case words, the first right after it.
_UNIT_WORD = re.compile(r"[\s-]+([a-z]+)")
MAX_UNIT_WORDS = 2
# A name word: capitalized ("Dermer", "U.N.-monitored" starts so too), or a lower-case particle
# glued to one ("al-Shaibani", "bin-Talal"), or a particle between name words ("Ludwig van Beethoven").
_CAP = r"(?:[A-Z][\w'’.-]*|[a-z]{1,3}-[A-Z][\w'’.-]*|\d+(?:st|nd|rd|th)?)"
_PARTICLE = r"(?:of|the|de|da|del|der|van|von|bin|ibn|al|la|le|du|y)"
_NAME = re.compile(rf"(?<![\w-]){_CAP}(?:\s+(?:{_PARTICLE}\s+)?{_CAP})*")
# What may sit between two names of one coordinated answer: "and", "and his Israeli counterpart", ", ".
_JOIN = re.compile(r"^(?:\s*,)?\s+(?:and|or|&)\s+(?:(?:his|her|their|its|the)\s+)?$|^\s*,\s*$|^\s+[a-z]+\s+$")

_HOW = re.compile(r"\bhow\s+(many|much|long|far|old|big|large|tall|high|often|fast)\b")
_WHEN = re.compile(r"\b(when|what\s+(?:year|date|day|month|decade|century|time)|which\s+(?:year|century|decade))\b")
_NUMBER_Q = re.compile(r"\bwhat\s+(?:percentage|percent|number|amount|proportion|fraction)\b")
_WHO = re.compile(r"\b(who|whom|whose|where)\b")
_NAME_NOUNS = (
    "team|company|city|country|state|group|person|player|band|organization|university|school|river|party|king"
    "|president|language|nation|league|network|newspaper|book|film|song|album|county|man|woman|artist|author"
)
_WHICH_NAME = re.compile(rf"\b(?:which|what)\s+(?:[a-z]+\s+)?(?:{_NAME_NOUNS})\b")


_CODE_NOUNS = (
    "function|functions|module|modules|class|classes|method|methods|option|options|flag|flags|command|commands"
    "|argument|arguments|parameter|parameters|attribute|attributes|exception|exceptions|variable|variables"
    "|keyword|keywords|package|packages|environment variable|setting|settings|switch|macro|macros|decorator"
)
_WHICH_CODE = re.compile(rf"\b(?:which|what)\s+(?:[a-z]+\s+)?(?:{_CODE_NOUNS})\b")
_DEFAULT_Q = re.compile(r"\bwhat\s+(?:is\s+|are\s+)?(?:the\s+)?default\b|\bdefault\s+value\b|\bdefaults?\s+to\s+what\b")
# A code-like name: dotted or called (os.path, copy2()), an option (-V, --verbose), snake_case or an
# ALL_CAPS variable, CamelCase, or anything in backquotes.
_IDENTIFIER = re.compile(
    r"`[^`\n]{1,80}`"
    r"|(?<![\w.-])--?[A-Za-z][\w-]*(?:=\S+)?"
    r"|(?<![\w.])[A-Za-z_]\w+(?:\.[A-Za-z_]\w*)+(?:\(\))?"
    r"|(?<![\w.])[A-Za-z_]\w*\(\)"
    r"|(?<![\w.])[a-z]+(?:_[a-z0-9]+)+\b"
    r"|(?<![\w.])[A-Z][A-Z0-9]*_[A-Z0-9_]+\b"
    r"|(?<![\w.])[A-Z][A-Z0-9]*[a-z][a-z0-9]*(?:[A-Z][A-Za-z0-9]*)+\b"
)
_DEFAULT_VALUE = re.compile(
    r"\bdefaults?\s*(?:value\s+)?(?:is|are|of|to|:|=|was)\s+(?:set\s+to\s+)?(?:the\s+)?"
    r"(`[^`\n]{1,80}`|\"[^\"\n]{1,80}\"|'[^'\n]{1,80}'|[^\s,;:)]+)",
    re.IGNORECASE,
)


def answer_kind(question: str) -> Kind | None:
    """The kind of span that answers ``question``, or None when it is not clear."""
    q = question.lower()
    if _DEFAULT_Q.search(q):
        return "default"
    if _WHICH_CODE.search(q):
        return "identifier"
    if _HOW.search(q) or _NUMBER_Q.search(q):
        return "number"
    if _WHEN.search(q):
        return "date"
    if _WHO.search(q) or _WHICH_NAME.search(q):
        return "name"
    return None


@dataclass(frozen=True)
class Span:
    start: int  # offsets into the sentence
    end: int


def _candidates(sentence: str, kind: Kind) -> list[Span]:
    if kind == "identifier":
        return [Span(m.start(), m.end()) for m in _IDENTIFIER.finditer(sentence)]
    if kind == "default":
        return [Span(m.start(1), m.end(1)) for m in _DEFAULT_VALUE.finditer(sentence)]
    if kind == "date":
        return [Span(m.start(), m.end()) for m in _DATE.finditer(sentence)]
    if kind == "number":
        return [Span(m.start(), m.end()) for m in _NUMBER.finditer(sentence) if any(ch.isalnum() for ch in m.group())]
    names = []
    for m in _NAME.finditer(sentence):
        start, end = m.start(), m.end()
        words = m.group().split()
        # A sentence's first word is capitalized whatever it is; "The" heads names it is not part of.
        while words and words[0].lower() in _COMMON_STARTS:
            start += len(words[0]) + (len(m.group()[len(words[0]) :]) - len(m.group()[len(words[0]) :].lstrip()))
            words = words[1:]
        if len(words) == 1 and not sentence[:start].strip():
            # "Culturally, Melbourne ...", "Based on ...", "Many ...": a sentence's first word is
            # capitalized for being first. Alone, it is not taken for a name (on SQuAD validation
            # questions such a word answered 4 "who" questions of 20).
            continue
        if words and words[-1].endswith(("'s", "’s")):
            end -= 2  # "Alfred Wegener's theory": the name is Alfred Wegener
        if words and not all(w.rstrip(".,").lower() in _CALENDAR or w.rstrip(".,").isdigit() for w in words):
            names.append(Span(start, end))
    return names


_CALENDAR = frozenset(
    "january february march april may june july august september october november december jan feb mar apr"
    " jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday".split()
)
_COMMON_STARTS = frozenset(
    "the a an in on at after before during since when while this that these those it he she they we i his her"
    " their its there however although though as by for from with of to".split()
)


def _join(sentence: str, names: list[Span]) -> list[Span]:
    """Merge names joined by a coordination ("A and B", "A and his counterpart B") into one span."""
    out: list[Span] = []
    for s in names:
        if out and _JOIN.match(sentence[out[-1].end : s.start]):
            out[-1] = Span(out[-1].start, s.end)
        else:
            out.append(s)
    return out


def _terms(text: str) -> set[str]:
    return {t.lower() for t in _WORD.findall(text)}


def shortest_span(question: str, sentence: str) -> tuple[int, int] | None:
    """Offsets into ``sentence`` of the short answer to ``question``, or None."""
    kind = answer_kind(question)
    if kind is None:
        return None
    q_terms = _terms(question)
    if kind in ("identifier", "default"):  # code is case-sensitive, and "--verbose" answers "verbose output"
        spans = [s for s in _candidates(sentence, kind) if sentence[s.start : s.end] not in question]
    else:
        spans = [
            _unrepeated(sentence, s, q_terms) if kind == "number" else s
            for s in _candidates(sentence, kind)
            if not _terms(sentence[s.start : s.end]) <= q_terms and _acronym(sentence[s.start : s.end]) not in q_terms
        ]
        if kind == "name":
            # Joined after the repeats are gone: in "The Premier of Victoria is Daniel Andrews",
            # asked "Who is the Premier of Victoria?", the answer is the name the question lacks.
            spans = _join(sentence, spans)
    if not spans:
        return None
    # Where the question's words are in the sentence: the answer sits next to them.
    anchors = [
        m.start()
        for m in _WORD.finditer(sentence)
        if m.group().lower() in q_terms and m.group().lower() not in _COMMON_STARTS and len(m.group()) > 2
    ]
    if not anchors:
        best = spans[0]
    else:
        best = min(spans, key=lambda s: (min(_distance(s, a) for a in anchors), s.start))
    start, end = best.start, best.end
    # Trailing punctuation is not part of the answer.
    while end > start and sentence[end - 1] in ",.;:'’\"”)":
        if sentence[end - 1] == ")" and sentence.count("(", start, end) >= sentence.count(")", start, end):
            break  # "copymode()" keeps its own parenthesis
        end -= 1
    return (start, end) if end > start else None


def _unrepeated(sentence: str, span: Span, q_terms: set[str]) -> Span:
    """A number's span with its unit or noun, but no word the question already says: "How many
    legions?" is answered by "eight", not "eight legions"; "How long?" by "200 kilometres". The
    unit ends at a function word ("40,000 people had" is "40,000 people")."""
    end = span.end
    for _ in range(MAX_UNIT_WORDS):
        m = _UNIT_WORD.match(sentence, end)
        if m is None or len(m.group(1)) < 2 or m.group(1) in STOPWORDS or m.group(1) in q_terms:
            break
        if m.group(1).endswith("ly"):
            break  # an adverb ("five formerly owned"), not a unit
        if m.end() < len(sentence) and (sentence[m.end()].isalnum() or sentence[m.end()] in "'’"):
            break  # part of a longer word ("don't", "3D")
        end = m.end()
    return Span(span.start, end)


_NUMBER_SET = frozenset(_NUMBER_WORDS.split("|"))


def _acronym(text: str) -> str:
    """A span that spells out a question's acronym ("American Football Conference", "AFC") repeats it."""
    words = [w for w in _WORD.findall(text) if w[0].isupper()]
    return "".join(w[0] for w in words).lower() if len(words) > 1 else ""


def _distance(span: Span, at: int) -> int:
    if span.start <= at < span.end:
        return 0
    return span.start - at if at < span.start else at - span.end
