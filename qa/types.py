"""Small frozen records passed between stages.

Data flows one way: ``Document`` -> ``Chunk`` -> ``Passage`` -> ``Citation``/``Answer``.
Every record that refers to source text carries ``doc_id``, ``start`` and ``end`` so a
citation is never reconstructed by searching the text again.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Metadata = dict[str, Any]
# A search hit before its passage is fetched: (chunk id, score), higher scores first.
Hit = tuple[int, float]


# Metadata that says where a document's text came from, not what it is: left out of its content
# hash, so the same file sent by the API and by `qa index`, or touched, is not indexed again.
VOLATILE_METADATA = frozenset({"filename", "mtime"})


def content_hash(title: str, text: str, metadata: Metadata, page_starts: Sequence[int] = ()) -> str:
    """Hash of everything that affects what gets indexed for a document: title, text, metadata
    other than ``VOLATILE_METADATA`` and page offsets (only when there are some, so the hash of a
    document without pages is what it always was)."""
    h = hashlib.sha256()
    kept = {k: v for k, v in metadata.items() if k not in VOLATILE_METADATA}
    fields: dict[str, Any] = {"title": title, "text": text, "metadata": kept}
    if page_starts:
        fields["page_starts"] = list(page_starts)
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    h.update(payload.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def page_at(page_starts: Sequence[int], offset: int) -> int | None:
    """The 1-based page holding character ``offset`` of a text whose page ``i`` (0-based) starts
    at ``page_starts[i]``; None for a text without pages."""
    if not page_starts:
        return None
    # bisect_right: of pages that share a start (empty pages), the last, which holds the character.
    return max(1, bisect_right(page_starts, offset))


@dataclass(frozen=True)
class Heading:
    """A heading inside a document's text: ``text[start:end]`` is the heading line."""

    start: int
    end: int
    level: int = 1


@dataclass(frozen=True)
class Document:
    """A source document. ``text`` is the canonical text all offsets refer to."""

    id: str
    text: str
    title: str = ""
    metadata: Metadata = field(default_factory=dict)
    # Where it came from (``qa.sources``): a source (a folder's absolute path, or a name such as
    # ``upload``) and its path inside it; the id of a file's document is ``source/path``.
    source: str | None = None
    # Heading spans found by the parser (e.g. HTML <h1>..<h6>). Markdown ATX headings
    # ("# Title") are detected by the chunker itself and need not be listed here.
    headings: tuple[Heading, ...] = ()
    # Where each page starts in ``text`` (a PDF's): page i (1-based) is
    # ``text[page_starts[i - 1]:page_starts[i]]``, the last one to the end; empty: no pages.
    page_starts: tuple[int, ...] = ()
    path: str | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.text, self.metadata, self.page_starts)


@dataclass(frozen=True)
class IngestResult:
    """What indexing one document did: ``unchanged`` documents did no work."""

    id: str
    status: Literal["added", "updated", "unchanged"]
    chunks: int


@dataclass(frozen=True)
class Chunk:
    """A token-bounded span of a document: ``doc.text[start:end] == text`` always."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    # Heading path ("Section > Subsection") of the section this chunk belongs to, if any.
    heading: str | None = None


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score and the document it came from."""

    chunk_id: int
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    ordinal: int = 0
    heading: str | None = None
    metadata: Metadata = field(default_factory=dict)
    # The page the passage starts on (1-based), for documents with pages (PDFs).
    page: int | None = None


@dataclass(frozen=True)
class Citation:
    """A pointer to the exact characters that support an answer: ``quote == doc.text[start:end]``."""

    n: int
    doc_id: str
    title: str
    start: int
    end: int
    quote: str
    # The page of ``start`` (1-based), for documents with pages (PDFs); None otherwise.
    page: int | None = None


@dataclass(frozen=True)
class Short:
    """The shortest span that answers (a name, a date, a number), inside the cited sentence:
    ``doc.text[start:end] == text``."""

    text: str
    doc_id: str
    start: int
    end: int
    page: int | None = None


@dataclass(frozen=True)
class CheckedSentence:
    """A sentence of a generated answer with the citations the check kept for it."""

    text: str  # without markers
    citations: tuple[int, ...]  # numbers into Answer.citations
    supported: bool | None  # None: the sentence cited nothing; False: it cited, none supports it
    support: float  # best support score among its cited passages (0 if none)


@dataclass(frozen=True)
class Signals:
    """What the extractive answerer's choice says about whether it answers (``qa.answerability``
    turns them into the answer's score): the chosen sentence's ``evidence``, the mean of its cosine
    with the question and its coverage of the question's terms; with the learned answer model, the
    model's ``logit`` for it and its ``logit_margin`` over the best other sentence the model read
    (0 when it read one); both 0 without the model. ``passage_coverage``: the share of the
    question's terms that the chosen sentence's passage (with its title) holds, each term weighted
    by how few of the retrieved passages hold it, so a term none of them holds weighs most
    (``qa.answer.passage_coverage``). ``passage_gap``: how far the retrieved passage closest to the
    question (by its stored vector's cosine) stands above the others, its cosine minus their mean
    (``qa.answer.passage_gap``): a question the documents do not answer is about as close to all of
    them."""

    NAMES: ClassVar[tuple[str, ...]] = ("evidence", "logit", "logit_margin", "passage_coverage", "passage_gap")

    evidence: float
    logit: float = 0.0
    logit_margin: float = 0.0
    passage_coverage: float = 0.0
    passage_gap: float = 0.0

    def value(self, name: str) -> float:
        if name not in self.NAMES:
            raise ValueError(f"unknown signal {name!r}; known: {', '.join(self.NAMES)}")
        return float(getattr(self, name))


@dataclass(frozen=True)
class Answer:
    """The finished answer to a question: extractive (the best sentence, cited by its exact span)
    or generated by an LLM (``generated``: every kept citation checked, see ``qa.citecheck``).

    ``found`` and ``score`` are the extractive answer's either way (``score``: its calibrated
    probability of answering, ``qa.answerability``); ``short`` only belongs to an extractive answer.
    ``query`` is what was searched (a follow-up resolved against its conversation); empty when it
    is the question itself."""

    answer: str
    found: bool
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    score: float = 0.0
    short: Short | None = None
    generated: bool = False
    # What the extractive choice said (``score`` comes from them: ``qa.answerability``); None
    # without a candidate sentence.
    signals: Signals | None = None
    # Why generation fell back to the extractive answer, or which citations the check removed.
    note: str | None = None
    sentences: tuple[CheckedSentence, ...] | None = None
    question: str = ""
    query: str = ""

    @property
    def rewritten(self) -> bool:
        """True when a follow-up question was rewritten into ``query`` before retrieval."""
        return bool(self.query) and self.query != self.question


@dataclass(frozen=True)
class Retrieved:
    """What an answer is built from: the question, the query searched for it, the passages found,
    and whether an LLM writes the answer from them (``generating``)."""

    question: str
    query: str
    passages: tuple[Passage, ...]
    generating: bool = False

    @property
    def rewritten(self) -> bool:
        return self.query != self.question
