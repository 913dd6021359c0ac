"""OCR: the text of a page image, read by tesseract (Debian's ``tesseract-ocr``) through pytesseract.

Why tesseract, measured against rapidocr (PP-OCRv4 ONNX models shipped in its wheel) and
tesserocr (tesseract as a library) on six pages of Debian's manuals rendered here, clean and as
a grainy, tilted JPEG scan (bench/results/ocr.md, ``python -m bench.ocr``): tesseract reads
them with a character accuracy of 0.988 in every variant, rapidocr 0.80 to 0.83 (it runs words
together, misses stretches of long lines and interleaves two columns; word recall 0.60 on the
scans against 0.965), at 1.5 to 3.1 s a page on one core where rapidocr took 11 to 13 s on two;
and rapidocr brings opencv-python and more (334 MB) into every install and caps Python below
3.13. tesseract is a system package (``apt-get install tesseract-ocr tesseract-ocr-eng``, ``brew
install tesseract``, 12 MB): qa installs and runs without it, and only a file that needs OCR
says how to install it. pytesseract is pure Python and runs one ``tesseract`` process per page
(a parse worker killed over its time limit leaves at most that one page to finish); tesserocr
(tesseract in-process, 0.5 to 1.4 s a page faster) has no macOS wheel, so ``make install`` would
have to compile it there.

Nothing is downloaded: tesseract reads its language data from the system (``tesseract-ocr-eng``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qa.errors import InvalidInput, TooLarge

INSTALL_HINT = (
    "install tesseract (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng; macOS: brew install tesseract)"
)
# Scanned pages are rendered at this resolution for OCR, the one tesseract's documentation asks
# for. 200 dpi read the benchmark's 10-11 pt pages as well in 27% less time (bench/results/ocr.md);
# 300 is kept for smaller print (footnotes, subscripts), which the benchmark does not measure.
DPI = 300
# Longest side of a bitmap given to tesseract, in pixels (an A4 page at 300 dpi is 3508): a page
# declared a metre wide, or a 100-megapixel photo, is scaled down to this, not read at full size.
MAX_SIDE = 5000


@dataclass(frozen=True)
class Ocr:
    """How pages without a text layer, and images, are read (``QA_OCR``, ``QA_OCR_LANGUAGES``,
    ``QA_OCR_PAGE_TIMEOUT``, ``QA_OCR_MAX_PAGES``).

    ``mode`` ``auto``: a PDF's pages with (almost) no text layer are read by OCR when tesseract
    is installed (a PDF with no text at all, or an image, says how to install it when it is not);
    ``off``: never (a PDF without a text layer, or an image, is refused).
    """

    mode: str = "auto"
    languages: str = "eng"
    page_timeout: float = 60.0
    max_pages: int = 500

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    @classmethod
    def of(cls, settings: Any) -> Ocr:
        """The OCR settings of a ``qa.config.Settings``."""
        return cls(settings.ocr, settings.ocr_languages, settings.ocr_page_timeout, settings.ocr_max_pages)


# Told how many pages are about to be read by OCR (a parse worker extends the file's time limit).
OcrProgress = Callable[[int], None]


class EngineMissing(InvalidInput):
    """OCR is needed but tesseract (or a language's data) is not installed."""


_languages: set[str] = set()  # what ``tesseract --list-langs`` said, once it said something


def check_engine(ocr: Ocr, filename: str, why: str) -> None:
    """Raise ``EngineMissing`` unless tesseract and every language of ``ocr`` are installed.

    ``why`` says what needs OCR (e.g. "has no text layer"), for the message. Only a positive
    answer is remembered: tesseract installed while a server runs is found on the next file.
    """
    import pytesseract

    if not _languages:
        try:
            _languages.update(pytesseract.get_languages())
        except pytesseract.TesseractNotFoundError:
            raise EngineMissing(
                f"'{filename}' {why} and needs OCR, but tesseract is not installed: {INSTALL_HINT}, "
                "or set QA_OCR=off to refuse such files"
            ) from None
    missing = [lang for lang in ocr.languages.split("+") if lang not in _languages]
    if missing:
        packages = " ".join(f"tesseract-ocr-{m.lower().replace('_', '-')}" for m in missing)
        raise EngineMissing(
            f"'{filename}' {why} and needs OCR in {ocr.languages}, but tesseract has no data for "
            f"{', '.join(missing)} (it has {', '.join(sorted(_languages)) or 'none'}); install it (Debian/Ubuntu: "
            f"apt-get install {packages}) or change QA_OCR_LANGUAGES"
        )


def read_image(image: Any, ocr: Ocr, where: str) -> str:
    """The text tesseract reads on ``image`` (a PIL image), lines as it found them.

    Raises:
        TooLarge: tesseract took longer than ``ocr.page_timeout`` seconds.
        InvalidInput: tesseract failed on the image (the message quotes it).
    """
    import pytesseract

    image = fit(image)
    try:
        text = pytesseract.image_to_string(image, lang=ocr.languages, timeout=ocr.page_timeout)
    except RuntimeError as e:
        if "timeout" in str(e).lower() and not isinstance(e, pytesseract.TesseractError):
            raise TooLarge(
                f"OCR of {where} took more than {ocr.page_timeout:g} s; not indexed. "
                "Raise QA_OCR_PAGE_TIMEOUT, or index a text version"
            ) from None
        raise InvalidInput(f"OCR of {where} failed ({e}); check the file") from None
    return str(text).replace("\f", "")


def fit(image: Any) -> Any:
    """``image`` in greyscale or colour tesseract takes, no larger than ``MAX_SIDE`` pixels a side."""
    from PIL import Image

    if image.mode not in ("L", "RGB"):
        # Transparent pixels become white (tesseract reads them as black otherwise), palettes colours.
        if "A" in image.getbands() or image.mode == "P":
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba).convert("RGB")
        else:
            image = image.convert("L" if image.mode in ("1", "I", "I;16", "F") else "RGB")
    side = max(image.size)
    if side > MAX_SIDE:
        scale = MAX_SIDE / side
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image
