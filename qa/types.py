"""Small frozen records passed between stages.

Data flows one way: ``Document`` -> ``Chunk`` -> ``Passage`` -> ``Citation``/``Answer``.
Every record that refers to source text carries ``doc_id``, ``start`` and ``end`` so a
citation is never reconstructed by searching the text again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

Metadata = dict[str, Any]
# A search hit before its passage is fetched: (chunk id, score), higher scores first.
Hit = tuple[int, float]


def content_hash(title: str, text: str, metadata: Metadata) -> str:
    """Hash of everything that affects what gets indexed for a document."""
    h = hashlib.sha256()
    payload = json.dumps({"title": title, "text": text, "metadata": metadata}, sort_keys=True, ensure_ascii=False)
    h.update(payload.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


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
    source: str | None = None
    # Heading spans found by the parser (e.g. HTML <h1>..<h6>). Markdown ATX headings
    # ("# Title") are detected by the chunker itself and need not be listed here.
    headings: tuple[Heading, ...] = ()

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.text, self.metadata)


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


@dataclass(frozen=True)
class Citation:
    """A pointer to the exact characters that support an answer: ``quote == doc.text[start:end]``."""

    n: int
    doc_id: str
    title: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True)
class Short:
    """The shortest span that answers (a name, a date, a number), inside the cited sentence:
    ``doc.text[start:end] == text``."""

    text: str
    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    answer: str
    found: bool
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    score: float = 0.0
    short: Short | None = None
