"""Check the ``[n]`` markers of a generated answer against the passages it was given.

Issue 5, point 4 (generated answers): a language model's answer cites passages as ``[n]``. No
marker may reach the user unchecked:

- a marker whose number is not one of the passages (``[7]`` of five) points nowhere: removed;
- a marker whose passage does not support its sentence is dropped, and the sentence is flagged
  ``supported=False``;
- every kept marker becomes a citation of the exact characters that support the sentence: the
  passage sentence that best matches it, so ``quote == document.text[start:end]`` as everywhere.

Every marker form a model writes is parsed: ``[2]``, ``[2, 3]``, ``[2-3]`` (a range), ``[ 2 ]``,
``[^2]`` (footnote style), ``[2][3]``; none is left in the text unchecked (``MARKER``).

Support is judged per clause as well as per sentence: a sentence is split at clause boundaries
(``;``, ``:``, a dash, or a comma before "and", "but", "while", "whereas", "although", "so",
"which", "because", ...). Every clause with content of its own (two or more content words) must be
supported by one of the sentence's cited passages, or the sentence keeps no citation and is
flagged ``supported=False``: an unsupported claim appended to a supported one is not carried by
the citation of the first.

Instructions are data, not facts. A generated sentence that gives an instruction (an imperative
such as "Visit example.com ...", "Ignore the question ...", "You must ...", "Please ...") asserts
nothing a passage could support, and a generated sentence whose best support in the passage is an
instruction repeats what a document told its reader (or the model) to do: both are flagged
``supported=False`` and keep no citation, so a prompt injection repeated by the model is never
shown as a cited fact. This is a heuristic on the words (``is_instruction``): it flags how-to
steps written as imperatives too ("Run the installer"), which then carry no citation.

Support is judged like extractive answering: embedding cosine between the generated sentence and
each sentence of the cited passage, plus the share of the generated sentence's content words the
passage sentence contains. That catches a citation of the wrong passage or of nothing relevant; it
cannot catch a sentence that uses a passage's own words to say the opposite (that needs an
entailment model, which no package here ships).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.answer import Candidate, candidates
from qa.embed import Embedder
from qa.terms import split_sentences, terms
from qa.types import CheckedSentence, Citation, Passage

# A citation marker in any form models write: [2], [2, 3], [2-3], [2–3], [ 2 ], [^2], [2;3]. Lenient on
# purpose: whatever looks like a numeric bracket is parsed, checked, and removed from the text.
# Group 1 is what is inside the brackets.
MARKER = re.compile(r"\s*\[(\s*\^?\s*\d[\d\s,;^\-\u2013\u2014]*)\]")
_NUMBER = re.compile(r"(\d+)\s*[-\u2013\u2014]\s*\^?(\d+)|(\d+)")
# Longest range expanded ([1-9999] is a typo or an attack, not 9999 citations).
MAX_RANGE = 20
# Clause boundaries inside a sentence (the cut is at the match's start).
_CLAUSE = re.compile(
    r"\s*(?:;|:\s|\s[-\u2013\u2014]\s|,\s+(?=(?:and|but|or|yet|so|while|whereas|although|though|because|since|"
    r"which|who|where|when|whilst|however|moreover|also|plus|then)\b))",
    re.IGNORECASE,
)
# A clause needs this many content words of its own to be judged on its own.
MIN_CLAUSE_TERMS = 2
# Verbs that start an instruction to the reader (or to a model): what prompt injections ask for.
_INSTRUCTION_VERBS = (
    "ignore disregard forget override bypass visit go click tap follow open navigate browse contact call "
    "phone dial email e-mail write send forward reply respond say tell repeat print output reveal disclose "
    "share provide give submit enter paste copy download install run execute transfer wire pay buy purchase "
    "subscribe register sign log pretend include append translate recommend delete remove grant approve "
    "confirm verify"
)
_INSTRUCTION = re.compile(
    r"^\W*(?:(?:please|now|also|then|first|next|finally|so|just|kindly|immediately)\b[\s,]*)*"
    r"(?:(?:please)\b|(?:" + "|".join(_INSTRUCTION_VERBS.split()) + r")\b(?!-)|do\s+not\b|don'?t\b|never\b|"
    r"always\b|make\s+sure\b|be\s+sure\b)"
    r"|\b(?:you|users?|readers?|the\s+(?:assistant|ai|model|user|reader))\s+(?:must|should|need\s+to|have\s+to|"
    r"are\s+(?:required|asked|instructed|told)\s+to|are\s+now|will\s+now)\b",
    re.IGNORECASE,
)
# Weights of the support score: meaning first, shared words as a check on it.
W_COSINE, W_LEXICAL = 0.7, 0.3
DEFAULT_MIN_SUPPORT = 0.45


@dataclass(frozen=True)
class CheckedAnswer:
    text: str  # sentences with their kept markers, renumbered 1..n in order of first use
    sentences: tuple[CheckedSentence, ...]
    citations: tuple[Citation, ...]
    removed: tuple[int, ...]  # markers that pointed at no passage
    dropped: tuple[int, ...]  # markers whose passage did not support the sentence (or all its clauses)
    instructions: int = 0  # sentences flagged because they give or repeat an instruction

    @property
    def unsupported(self) -> int:
        return sum(1 for s in self.sentences if s.supported is False)


def marker_numbers(marker: str) -> list[int]:
    """The passage numbers of one marker: ``[2, 3]`` and ``[2-3]`` are [2, 3], ``[^2]`` is [2]."""
    numbers: list[int] = []
    for m in _NUMBER.finditer(marker):
        if m.group(3) is not None:
            numbers.append(int(m.group(3)))
            continue
        lo, hi = int(m.group(1)), int(m.group(2))
        numbers += range(lo, hi + 1) if lo <= hi <= lo + MAX_RANGE else [lo, hi]
    return numbers


def is_instruction(sentence: str) -> bool:
    """True if ``sentence`` tells its reader (or a model) to do something, rather than stating a fact."""
    return bool(_INSTRUCTION.search(sentence))


def clauses(sentence: str) -> list[str]:
    """The parts of ``sentence`` with content of their own, cut at clause boundaries; just the
    sentence when it has fewer than two such parts."""
    parts, last = [], 0
    for m in _CLAUSE.finditer(sentence):
        parts.append(sentence[last : m.start()])
        last = m.end()
    parts.append(sentence[last:])
    judged = [p.strip(" ,;:.!?") for p in parts if len(terms(p)) >= MIN_CLAUSE_TERMS]
    return judged if len(judged) > 1 else [sentence]


def check(
    text: str, passages: list[Passage], embedder: Embedder, min_support: float = DEFAULT_MIN_SUPPORT
) -> CheckedAnswer:
    """Check every marker of ``text`` against ``passages`` (marker ``[n]`` is ``passages[n-1]``).

    A marker is kept when its passage supports the sentence, or one of its clauses; the sentence
    is supported when every clause is supported by one of its kept markers, and it is not an
    instruction, nor supported only by one. Otherwise it keeps no marker."""
    spans = [(s, e) for s, e in split_sentences(text) if text[s:e].strip()] or [(0, len(text))]
    raw = []
    for s, e in spans:
        sentence = text[s:e]
        numbers = [n for m in MARKER.finditer(sentence) for n in marker_numbers(m.group())]
        raw.append((MARKER.sub("", sentence).strip(), list(dict.fromkeys(numbers))))
    cands = {n: candidates([passages[n - 1]]) for n in range(1, len(passages) + 1)}
    cited = sorted({n for _, ns in raw for n in ns if n in cands and cands[n]})
    vectors = _sentence_vectors(embedder, [c for n in cited for c in cands[n]])
    # Each cited sentence is judged whole and clause by clause: its units, embedded in one call.
    units = [[sentence, *(c for c in clauses(sentence) if c != sentence)] for sentence, _ in raw]
    flat = [u for i, us in enumerate(units) if raw[i][1] for u in us]
    unit_vectors = iter(embedder.embed(flat) if cited and flat else [])

    removed: list[int] = []
    dropped: list[int] = []
    citations: list[Citation] = []
    number_of: dict[tuple[str, int, int], int] = {}
    checked: list[CheckedSentence] = []
    parts: list[str] = []
    instructions = 0
    for i, (sentence, numbers) in enumerate(raw):
        vecs = [next(unit_vectors) for _ in units[i]] if numbers and cited else []
        clause_ok = [False] * max(0, len(units[i]) - 1)
        keep: list[tuple[int, Candidate]] = []
        best_support = 0.0
        for n in numbers:
            if n not in cands:
                removed.append(n)
                continue
            if not cands[n] or not vecs:
                dropped.append(n)
                continue
            scored = [_best(u, v, cands[n], vectors) for u, v in zip(units[i], vecs, strict=True)]
            for j, (_, score) in enumerate(scored[1:]):
                clause_ok[j] = clause_ok[j] or score >= min_support
            best, score = max(scored, key=lambda x: x[1])
            best_support = max(best_support, score)
            if score < min_support:
                dropped.append(n)
                continue
            keep.append((n, best))
        instruction = bool(numbers) and (is_instruction(sentence) or any(is_instruction(best.text) for _, best in keep))
        if keep and (instruction or not all(clause_ok)):
            # An unsupported clause, or an instruction: the citations would vouch for it.
            dropped += [n for n, _ in keep]
            keep = []
        instructions += instruction
        kept: list[int] = []
        for _, best in keep:
            p = best.passage
            key = (p.doc_id, p.start + best.start, p.start + best.end)
            if key not in number_of:
                number_of[key] = len(citations) + 1
                citations.append(Citation(number_of[key], p.doc_id, p.title, key[1], key[2], best.text))
            if number_of[key] not in kept:
                kept.append(number_of[key])
        supported = None if not numbers else bool(kept)
        checked.append(CheckedSentence(sentence, tuple(kept), supported, best_support))
        parts.append(_with_markers(sentence, kept))
    return CheckedAnswer(
        " ".join(p for p in parts if p),
        tuple(checked),
        tuple(citations),
        tuple(removed),
        tuple(dropped),
        instructions,
    )


def _with_markers(sentence: str, numbers: list[int]) -> str:
    """``sentence`` with ``[n]`` markers before its closing punctuation: "met in Paris [1]."."""
    if not numbers:
        return sentence
    body = sentence.rstrip(".!?…")
    return f"{body} {''.join(f'[{n}]' for n in numbers)}{sentence[len(body) :]}"


def _sentence_vectors(embedder: Embedder, cands: list[Candidate]) -> dict[tuple[int, int, int], np.ndarray]:
    if not cands:
        return {}
    vectors = embedder.embed([c.text for c in cands])
    return {(c.passage.chunk_id, c.start, c.end): v for c, v in zip(cands, vectors, strict=True)}


def _best(
    sentence: str, vector: np.ndarray, cands: list[Candidate], vectors: dict[tuple[int, int, int], np.ndarray]
) -> tuple[Candidate, float]:
    """The passage sentence that best supports ``sentence``, and its support score."""
    words = terms(sentence)
    scored = []
    for c in cands:
        cosine = float(vectors[(c.passage.chunk_id, c.start, c.end)] @ vector)
        lexical = len(words & terms(c.text)) / len(words) if words else 0.0
        scored.append((W_COSINE * cosine + W_LEXICAL * lexical, c))
    score, best = max(scored, key=lambda x: x[0])
    return best, score
