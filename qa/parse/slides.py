"""PowerPoint decks (.pptx), read with python-pptx: one section per slide.

Each slide starts with a heading line, its title (``# 3. Firing schedule``; ``# Slide 3`` when
it has none), then its shapes top to bottom, left to right: each paragraph of a text frame a
paragraph (an indented bullet a ``- item``), each table a ``Header: value; ...`` paragraph per
row, groups opened; then the speaker notes. Each slide is a page of the document (its
``page_starts``), so a citation of a deck says which slide it is on.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from qa.parse.blocks import TextBuilder, one_line


def _ordered(shapes: Iterable[Any]) -> list[Any]:
    """Shapes in reading order: top to bottom, then left to right (placeholders without a position first)."""
    return sorted(shapes, key=lambda s: (s.top if s.top is not None else -1, s.left if s.left is not None else -1))


def _shapes(shapes: Iterable[Any], title_shape: Any, out: TextBuilder) -> None:
    for shape in _ordered(shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if getattr(shape, "shape_type", None) == 6 or hasattr(shape, "shapes"):  # a group
            _shapes(shape.shapes, None, out)
        elif getattr(shape, "has_table", False) and shape.has_table:
            out.table([[cell.text for cell in row.cells] for row in shape.table.rows])
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            for paragraph in shape.text_frame.paragraphs:
                if paragraph.level > 0:
                    out.item(paragraph.text)
                else:
                    out.paragraph(paragraph.text)


def parse_pptx(data: bytes) -> tuple[TextBuilder, str | None, int]:
    """The text of a .pptx, its title (the Title property, else the first slide's title) and its
    number of slides.

    Raises what python-pptx raises for a file that is not a deck (the caller words it)."""
    import pptx

    deck = pptx.Presentation(io.BytesIO(data))
    out = TextBuilder()
    first_title: str | None = None
    count = 0
    for number, slide in enumerate(deck.slides, start=1):
        count = number
        out.page()
        title_shape = slide.shapes.title
        title = one_line(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else ""
        first_title = first_title or title or None
        out.heading(f"{number}. {title}" if title else f"Slide {number}", 1)
        _shapes(slide.shapes, title_shape, out)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                out.paragraph(notes.text)
    return out, (deck.core_properties.title or "").strip() or first_title, count
