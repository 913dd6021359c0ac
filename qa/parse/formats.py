"""Which files have a parser: the supported extensions, and reading them off a file name."""

from __future__ import annotations

from qa.errors import UnsupportedFileType

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl", ".png", ".jpg", ".jpeg", ".tif", ".tiff")

TEXT_EXTS = (".txt", ".md", ".markdown")
HTML_EXTS = (".html", ".htm")
# Read by OCR (qa.parse.image), like a PDF's scanned pages.
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def _basename(filename: str) -> str:
    """Last path component; uploads may carry Windows paths, so split on both separators."""
    return filename.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def extension(filename: str) -> str:
    """Lower-cased extension of ``filename`` including the dot, or '' if it has none."""
    name = _basename(filename)
    dot = name.rfind(".")
    # A leading dot (".bashrc") names a hidden file, not an extension.
    return name[dot:].lower() if dot > 0 else ""


def stem(filename: str) -> str:
    """File name without directory and extension, used as the fallback title."""
    name = _basename(filename)
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def check_extension(filename: str) -> str:
    """The file's lower-cased extension, or UnsupportedFileType if we have no parser for it."""
    ext = extension(filename)
    if ext not in SUPPORTED:
        shown = f"'{ext}'" if ext else "(no extension)"
        raise UnsupportedFileType(
            f"unsupported file type {shown} for '{filename}': supported are {', '.join(SUPPORTED)}"
        )
    return ext
