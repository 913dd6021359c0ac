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
not the noun it counts ("How many legions?": "eight"; "how many" takes the bare number). A dash
joins two dates or numbers into one range ("1763–1775", "100–150"); "what year" takes a date's year.
Of the rest, the one nearest the most question words in the sentence wins (``_closeness``). When the
question has no recognised type, or the sentence holds no candidate of that type, there is no short
answer: the cited sentence stands alone, rather than a guessed span.

A span found is not always shown (``short_answer``): a name, date or number is shown only when it is
likely to be the exact answer (``confidence``: how well the sentence answers, how clearly the
question's words point to this candidate rather than another, whether it is the only one), and not
when another candidate is about as near the question's words. The rules the answer sentence's
"typed" feature was fitted with stay as they were (``holds_typed_span``), so that these change
short answers only, never which sentence answers.
"""

from __future__ import annotations

import math
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
# An era or "years ago" after a year or a century: "9000 BP", "22,000 years ago", "1st century BC".
_ERA = r"(?:\s*(?:BC|BCE|AD|CE|BP)\b|\s+(?:years?|yrs?)\s+(?:ago|BP)\b)"
_DATE = re.compile(
    # Not the tail of a longer number: "74,000" holds no year "000", "119.8" none "119".
    rf"(?<!\d[,.])(?<![A-Za-z]-)\b(?:(?:\d{{1,2}}\s+)?(?:{_MONTHS})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{3,4}})?"
    rf"|\d{{1,3}}(?:,\d{{3}})+{_ERA}"
    rf"|\d{{3,4}}s?{_ERA}?"
    rf"|(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)\s+century{_ERA}?)(?![\w-]|[.,]\d)"
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    "|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand"
    "|million|billion|trillion|dozen|half|hundreds|thousands|millions|billions|dozens"
)
_NUMBER = re.compile(
    rf"(?<![\w.])(?<![A-Za-z]-)(?:[$€£¥]\s?)?(?:\d+(?:,\d{{3}})*(?:\.\d+)?(?:bn|m|k)?|(?:{_NUMBER_WORDS})(?:[\s-](?:{_NUMBER_WORDS}))*)(?!\w)"
    r"(?:\s?(?:%|percent|per cent))?"
    r"(?:\s+(?:million|billion|trillion|thousand|hundred))?",
    re.IGNORECASE,
)
# The date and number rules as the answer sentence's "typed" feature was fitted with
# (``holds_typed_span``): kept as they were, so that better short answers never move the chosen sentence.
_FITTED_DATE = re.compile(
    rf"\b(?:(?:\d{{1,2}}\s+)?(?:{_MONTHS})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{3,4}})?"
    r"|\d{3,4}s?(?:\s*(?:BC|BCE|AD|CE))?"
    r"|(?:the\s+)?\d{1,2}(?:st|nd|rd|th)\s+century)(?![\w-])"
)
_FITTED_NUMBER = re.compile(
    rf"(?<![\w.])(?:[$€£¥]\s?)?(?:\d+(?:,\d{{3}})*(?:\.\d+)?|(?:{_NUMBER_WORDS})(?:[\s-](?:{_NUMBER_WORDS}))*)(?!\w)"
    r"(?:\s?(?:%|percent|per cent))?"
    r"(?:\s+(?:million|billion|trillion|thousand|hundred))?",
    re.IGNORECASE,
)
# The unit or noun after a number ("200 kilometres", "3 million dairy cattle", "2,000 m", "1,000 m3/s"):
# at most two lower-case words, the first right after it.
_UNIT_WORD = re.compile(r"[\s-]+([a-z]+[23²³]?(?:/[a-z]+)?|°[CF])")
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
    "|constant|constants|context manager|context managers"
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
    r"(`[^`\n]{1,80}`|\"[^\"\n]{1,80}\"|'[^'\n]{1,80}'|\([^()\n]{0,80}\)|\[[^\[\]\n]{0,80}\]|\{[^{}\n]{0,80}\}"
    r"|[^\s,;:)]*[A-Za-z0-9_][^\s,;:)]*)",
    re.IGNORECASE,
)
# The value before "(the default)": "None (the default) selects the most compact representation".
_VALUE_DEFAULT = re.compile(
    r"(`[^`\n]{1,80}`|\"[^\"\n]{1,80}\"|'[^'\n]{1,80}'|(?<![\w.])[\w.+-]*[A-Za-z0-9_][\w.+-]*)"
    r"\s*\((?:the|by)?\s*default\)",
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


def _candidates(sentence: str, kind: Kind, fitted: bool = False) -> list[Span]:
    if kind == "identifier":
        return [Span(m.start(), m.end()) for m in _IDENTIFIER.finditer(sentence)]
    if kind == "default":
        found = [*_DEFAULT_VALUE.finditer(sentence), *_VALUE_DEFAULT.finditer(sentence)]
        return sorted((Span(m.start(1), m.end(1)) for m in found), key=lambda sp: (sp.start, sp.end))
    if kind == "date":
        return [Span(m.start(), m.end()) for m in (_FITTED_DATE if fitted else _DATE).finditer(sentence)]
    if kind == "number":
        numbers = (_FITTED_NUMBER if fitted else _NUMBER).finditer(sentence)
        return [Span(m.start(), m.end()) for m in numbers if any(ch.isalnum() for ch in m.group())]
    return _fitted_names(sentence) if fitted else _names(sentence)


def _names(sentence: str) -> list[Span]:
    names = []
    for m in _NAME.finditer(sentence):
        start, end = m.start(), m.end()
        words = m.group().split()
        # A sentence's first word is capitalized whatever it is; "The" heads names it is not part of,
        # and a year or an ordinal heads none ("In 1932 the German encyclopedia Knaurs Lexikon").
        while words and (words[0].lower() in _LEADING or not words[0][0].isalpha()):
            start += len(words[0])
            start += len(sentence[start:end]) - len(sentence[start:end].lstrip())
            words = words[1:]
        if not any(w[0].isupper() and w.rstrip(".,") not in _ERAS for w in words):
            continue  # "4th", "BC": an ordinal or an era alone names nothing
        if len(words) == 1 and not sentence[:start].strip():
            # "Culturally, Melbourne ...", "Based on ...", "Many ...": a sentence's first word is
            # capitalized for being first. Alone, it is not taken for a name (on SQuAD validation
            # questions such a word answered 4 "who" questions of 20).
            continue
        if words[-1].endswith(("'s", "’s")):
            end -= 2  # "Alfred Wegener's theory": the name is Alfred Wegener
        if not all(w.rstrip(".,").lower() in _CALENDAR or w.rstrip(".,").isdigit() for w in words):
            names.append(Span(start, end))
    return names


def _fitted_names(sentence: str) -> list[Span]:
    """The names as the answer sentence's "typed" feature was fitted with (see ``_FITTED_DATE``)."""
    names = []
    for m in _NAME.finditer(sentence):
        start, end = m.start(), m.end()
        words = m.group().split()
        while words and words[0].lower() in _COMMON_STARTS:
            start += len(words[0]) + (len(m.group()[len(words[0]) :]) - len(m.group()[len(words[0]) :].lstrip()))
            words = words[1:]
        if len(words) == 1 and not sentence[:start].strip():
            continue
        if words and words[-1].endswith(("'s", "’s")):
            end -= 2
        if words and not all(w.rstrip(".,").lower() in _CALENDAR or w.rstrip(".,").isdigit() for w in words):
            names.append(Span(start, end))
    return names


_CALENDAR = frozenset(
    "january february march april may june july august september october november december jan feb mar apr"
    " jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday".split()
)
_ERAS = frozenset("BC BCE AD CE BP".split())
_COMMON_STARTS = frozenset(
    "the a an in on at after before during since when while this that these those it he she they we i his her"
    " their its there however although though as by for from with of to".split()
)
# Words that start a sentence or a clause capitalized but start no name ("Throughout the Middle Ages").
_LEADING = _COMMON_STARTS | frozenset(
    "throughout within under between among around about across upon despite until following according"
    " including because unlike like near over into through without also then thus both each every many"
    " most some several all other such only".split()
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


# Between the two ends of a range: "1763–1775", "100–150 species", "10–15%".
_RANGE = re.compile(r"^\s?[–—-]\s?$")


def join_ranges(sentence: str, spans: list[Span]) -> list[Span]:
    """Merge two dates or numbers joined by a dash into the one range they give."""
    out: list[Span] = []
    for s in spans:
        if out and _RANGE.match(sentence[out[-1].end : s.start]):
            out[-1] = Span(out[-1].start, s.end)
        else:
            out.append(s)
    return out


def _terms(text: str) -> set[str]:
    return {t.lower() for t in _WORD.findall(text)}


def _typed(question: str, sentence: str, kind: Kind, fitted: bool = False) -> list[Span]:
    """The sentence's candidates of ``kind`` that say something the question does not."""
    if kind in ("identifier", "default"):  # code is case-sensitive, and "--verbose" answers "verbose output"
        return [s for s in _candidates(sentence, kind) if sentence[s.start : s.end] not in question]
    q_terms = _terms(question)
    spans = [
        s
        for s in _candidates(sentence, kind, fitted)
        if not _terms(sentence[s.start : s.end]) - ({"the"} if not fitted else set()) <= q_terms
        and _acronym(sentence[s.start : s.end]) not in q_terms
    ]
    if kind in ("date", "number"):
        spans = join_ranges(sentence, spans)
    if kind == "number":
        spans = [_unrepeated(sentence, s, q_terms, units=fitted or not _COUNT.search(question.lower())) for s in spans]
    if kind == "name":
        # Joined after the repeats are gone: in "The Premier of Victoria is Daniel Andrews",
        # asked "Who is the Premier of Victoria?", the answer is the name the question lacks.
        spans = _join(sentence, spans)
    return spans


def holds_typed_span(question: str, sentence: str) -> bool:
    """Whether ``sentence`` holds a candidate answer of the question's type, by the rules the answer
    sentence's "typed" feature (``qa.answer.FEATURES``) was fitted with: this decides which sentence
    answers, so it stays as it was when short answers get better."""
    kind = answer_kind(question)
    return kind is not None and bool(_typed(question, sentence, kind, fitted=True))


@dataclass(frozen=True)
class Choice:
    """The short answer's span, and what tells how sure it is (``confidence``)."""

    start: int
    end: int
    kind: Kind
    rivals: int  # the sentence's other candidates of that kind
    closeness: float  # how close the question's words are to it (``_closeness``)
    margin: float  # its closeness less the best rival's
    share: float  # the part of the sentence it takes, in characters


def choose_span(question: str, sentence: str) -> Choice | None:
    """The short answer to ``question`` in ``sentence`` with its evidence, or None."""
    kind = answer_kind(question)
    if kind is None:
        return None
    spans = _typed(question, sentence, kind)
    if not spans:
        return None
    anchors = _anchors(question, sentence)
    near = [_closeness(s, anchors) for s in spans]
    order = sorted(range(len(spans)), key=lambda i: (-near[i], spans[i].start))
    best = spans[order[0]]
    start, end = best.start, best.end
    # Trailing punctuation is not part of the answer.
    while end > start and sentence[end - 1] in ",.;:'’\"”)":
        if sentence[end - 1] == ")" and sentence.count("(", start, end) >= sentence.count(")", start, end):
            break  # "copymode()" keeps its own parenthesis
        end -= 1
    if end <= start:
        return None
    if kind == "date" and _YEAR_Q.search(question.lower()):
        # "What year ...?" is answered by the year of "March 2007", not the month too.
        year = _YEAR.search(sentence, start, end)
        if year and _MONTH.search(sentence, start, end) and not _RANGE_IN.search(sentence, start, end):
            start, end = year.start(), year.end()
    margin = near[order[0]] - near[order[1]] if len(spans) > 1 else near[order[0]]
    return Choice(start, end, kind, len(spans) - 1, near[order[0]], margin, (end - start) / max(1, len(sentence)))


# How sure a name, date or number short answer is: a logistic model of the chance that it is the
# exact answer, fitted on 996 short answers to SQuAD v1.1 dev's train-article questions (the first
# 3,000; evals/answer_split.json) and its threshold chosen on the validation articles' 306: below
# 0.3, a short answer was exact for 11 of 37 there. The weights, in CONFIDENCE_FEATURES order.
# Recipe: `python -m evals.fit_short` (its docstring has the two harness runs it reads; sklearn's
# LogisticRegression(C=1.0, fit_intercept=False) objective, refitted in numpy within 0.002 of these),
# report in evals/reports/short_confidence.{json,md} with the threshold and near-tie tables.
CONFIDENCE_FEATURES = ("bias", "evidence", "margin", "closeness", "alone", "name", "date", "share")
CONFIDENCE_WEIGHTS = (-0.519, 0.867, 0.847, -0.284, 0.406, -0.774, 0.651, -1.151)
MIN_CONFIDENCE = 0.3
# Two candidates the question's words are about as close to (``Choice.margin`` below this): a guess
# between them. Such short answers were exact for 15 of 50 on train articles, 6 of 15 on validation.
MIN_MARGIN = 0.1


def confidence(choice: Choice, evidence: float) -> float:
    """The chance that ``choice`` is the exact short answer, from how well its sentence answers
    (``evidence``, the answer's score), how far the question's words are closer to it than to any
    rival candidate (``margin``, capped at 3) and to it at all (``closeness``, capped at 5), whether it
    is the sentence's only candidate, its kind, and the part of the sentence it takes."""
    x = confidence_features(choice, evidence)
    z = sum(w * v for w, v in zip(CONFIDENCE_WEIGHTS, x, strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def confidence_features(choice: Choice, evidence: float) -> tuple[float, ...]:
    """What ``confidence`` weighs, in ``CONFIDENCE_FEATURES`` order."""
    return (
        1.0,
        evidence,
        min(choice.margin, 3.0),
        min(choice.closeness, 5.0),
        float(choice.rivals == 0),
        float(choice.kind == "name"),
        float(choice.kind == "date"),
        choice.share,
    )


def near_tie(choice: Choice) -> bool:
    """Whether another candidate is about as close to the question's words (``MIN_MARGIN``)."""
    return bool(choice.rivals and choice.margin < MIN_MARGIN)


def short_candidate(question: str, sentence: str, evidence: float) -> tuple[Choice, tuple[float, ...]] | None:
    """The name, date or number span ``short_answer`` weighs in ``sentence``, with its confidence
    features (``confidence_features``), or None when there is none (another kind is never gated)."""
    c = choose_span(question, sentence)
    if c is None or c.kind not in ("name", "date", "number"):
        return None
    return c, confidence_features(c, evidence)


def short_answer(question: str, sentence: str, evidence: float) -> tuple[int, int] | None:
    """The short answer shown with an answer ``sentence`` whose score is ``evidence``: its span, when
    sure enough for a name, date or number (``confidence``, and no near tie with another candidate);
    a code name or a default always (no questions of theirs to fit a confidence on)."""
    c = choose_span(question, sentence)
    if c is None:
        return None
    if c.kind in ("name", "date", "number") and (confidence(c, evidence) < MIN_CONFIDENCE or near_tie(c)):
        return None
    return (c.start, c.end)


def shortest_span(question: str, sentence: str) -> tuple[int, int] | None:
    """Offsets into ``sentence`` of the short answer to ``question``, or None."""
    c = choose_span(question, sentence)
    return None if c is None else (c.start, c.end)


def _anchors(question: str, sentence: str) -> list[tuple[int, int]]:
    """Where the question's words are in the sentence: (offset, term number) of each."""
    q_terms = [t for t in _terms(question) if t not in _COMMON_STARTS and len(t) > 2]
    ids = {t: i for i, t in enumerate(sorted(q_terms))}
    out = []
    for m in _WORD.finditer(sentence):
        w = m.group().lower()
        if w in ids:
            out.append((m.start(), ids[w]))
    return out


def _closeness(span: Span, anchors: list[tuple[int, int]]) -> float:
    """The question's words near the span: for each word of the question in the sentence, 1 /
    (1 + its distance in characters / 10) at its nearest, summed."""
    nearest: dict[int, int] = {}
    for at, term in anchors:
        d = _distance(span, at)
        nearest[term] = min(d, nearest.get(term, d))
    return sum(1 / (1 + d / 10) for d in nearest.values())


def _unrepeated(sentence: str, span: Span, q_terms: set[str], units: bool = True) -> Span:
    """A number's span with its unit or noun, but no word the question already says: "How many
    legions?" is answered by "eight", not "eight legions"; "How long?" by "200 kilometres". The
    unit ends at a function word ("40,000 people had" is "40,000 people")."""
    end = span.end
    for _ in range(MAX_UNIT_WORDS if units else 0):
        m = _UNIT_WORD.match(sentence, end)
        if m is None or m.group(1) in STOPWORDS or m.group(1) in q_terms:
            break
        if m.group(1).endswith("ly"):
            break  # an adverb ("five formerly owned"), not a unit
        if m.end() < len(sentence) and (sentence[m.end()].isalnum() or sentence[m.end()] in "'’"):
            break  # part of a longer word ("don't", "3D")
        end = m.end()
    return Span(span.start, end)


_YEAR_Q = re.compile(r"\b(?:what|which)\s+year\b")
_YEAR = re.compile(r"\b\d{3,4}\b")
_MONTH = re.compile(rf"\b(?:{_MONTHS})")
_RANGE_IN = re.compile(r"\d\s?[–—-]\s?\d")
_COUNT = re.compile(r"\bhow\s+many\b|\bwhat\s+number\b")
_NUMBER_SET = frozenset(_NUMBER_WORDS.split("|"))


def _acronym(text: str) -> str:
    """A span that spells out a question's acronym ("American Football Conference", "AFC") repeats it."""
    words = [w for w in _WORD.findall(text) if w[0].isupper()]
    return "".join(w[0] for w in words).lower() if len(words) > 1 else ""


def _distance(span: Span, at: int) -> int:
    if span.start <= at < span.end:
        return 0
    return span.start - at if at < span.start else at - span.end
