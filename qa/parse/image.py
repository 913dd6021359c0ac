"""Images (.png, .jpg, .jpeg, .tif, .tiff): the text OCR reads on them (``qa.parse.ocr``), cleaned
like a PDF's pages (``qa.parse.pdfclean``); each frame of a multi-page TIFF (a fax, a scanner's
batch) is a page of its own."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from qa.errors import InvalidInput, NoText, TooLarge
from qa.parse.ocr import MAX_SIDE, Ocr, OcrProgress, check_engine, read_image
from qa.parse.pdfclean import clean_pages

# The decoders tried: the formats of the extensions we take (Pillow's JPEG decoder also opens a
# phone camera's MPO).
FORMATS = ("PNG", "JPEG", "TIFF")
# Largest image decoded, in pixels (a 48-megapixel phone photo is 48M): a small file that
# declares a huge canvas (a decompression bomb) is refused before it is decoded.
MAX_PIXELS = 100_000_000
# Fewer words than this (of 2 letters or digits or more) on an image is not text to index: what
# OCR reads on a documentation folder's icons and buttons ("[WE" on a note icon, "nede" on a
# logo, "Previous"). Of the 85 images qa reads in the Debian documentation packages installed
# here, it passed over 7 more than "no text at all" did; the image kept with the fewest words
# has 6 (evals/reports/image-words.md).
MIN_WORDS = 2
_WORD = re.compile(r"\w{2,}")


def count_words(text: str) -> int:
    """The words ``MIN_WORDS`` counts: runs of 2 or more letters or digits."""
    return len(_WORD.findall(text))


@dataclass(frozen=True)
class ParsedImage:
    text: str
    pages: int
    page_starts: tuple[int, ...]


def parse_image(data: bytes, filename: str, ocr: Ocr | None = None, on_ocr: OcrProgress | None = None) -> ParsedImage:
    """The text OCR reads on an image, each frame a page.

    Raises:
        InvalidInput: OCR off or not installed, not an image of the formats taken, unreadable, or no
            text found; the message says what to do.
        TooLarge: over ``MAX_PIXELS``, more frames than ``ocr.max_pages``, or OCR over its time limit.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    ocr = ocr or Ocr()
    if not ocr.enabled:
        raise InvalidInput(
            f"'{filename}' is an image: its text can only be read by OCR, which is off (QA_OCR=off); "
            "set QA_OCR=auto to index it"
        )
    try:
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(
            f"'{filename}' is not a readable {'/'.join(FORMATS)} image; check the file or its extension"
        ) from None
    with image:
        if image.width * image.height > MAX_PIXELS:
            raise TooLarge(
                f"'{filename}' is a {image.width}x{image.height} image, over {MAX_PIXELS // 1_000_000} megapixels; "
                "scale it down (300 dpi is plenty for text) and index that"
            )
        frames = getattr(image, "n_frames", 1)
        if frames > ocr.max_pages:
            raise TooLarge(
                f"'{filename}' has {frames} pages to read by OCR, over the limit of {ocr.max_pages} "
                "(QA_OCR_MAX_PAGES); split it, or raise QA_OCR_MAX_PAGES"
            )
        check_engine(ocr, filename, "is an image")
        if on_ocr is not None:
            on_ocr(frames)
        texts = []
        for i in range(frames):
            where = f"'{filename}'" if frames == 1 else f"page {i + 1} of '{filename}'"
            try:
                image.seek(i)
                if image.format == "JPEG":
                    # JPEG decodes at 1/2, 1/4 or 1/8 for free: no larger than OCR will read it.
                    image.draft("RGB", (MAX_SIDE, MAX_SIDE))
                # A phone's photo is stored sideways with an EXIF note saying which way is up.
                frame = ImageOps.exif_transpose(image)
                frame.load()
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
                raise InvalidInput(f"{where} is a corrupt or truncated image ({e}); re-export it") from None
            texts.append(read_image(frame, ocr, where))
    cleaned = clean_pages(texts)
    words = count_words(cleaned.text)
    if words < MIN_WORDS:
        read = f" (only {cleaned.text.strip()[:40]!r})" if words else ""
        raise NoText(f"OCR found no text in '{filename}'{read}: nothing to index", cleaned.text.strip())
    return ParsedImage(cleaned.text, frames, cleaned.starts)
