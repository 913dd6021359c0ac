"""Which files have a parser: the supported extensions, and reading them off a file name.

A gzip'd file (``notes.txt.gz``, ``book.docx.gz``) is its inner file: the extension under ``.gz``
chooses the parser, and a name with none under it (``syslog.gz``) is text.
"""

from __future__ import annotations

import re

from qa.errors import UnsupportedFileType

TEXT_EXTS = (".txt", ".md", ".markdown")
RST_EXTS = (".rst",)
HTML_EXTS = (".html", ".htm")
PDF_EXTS = (".pdf",)
JSONL_EXTS = (".jsonl",)
DOCX_EXTS = (".docx",)
PPTX_EXTS = (".pptx",)
XLSX_EXTS = (".xlsx",)
CSV_EXTS = (".csv", ".tsv")
EPUB_EXTS = (".epub",)
ODT_EXTS = (".odt",)
MAIL_EXTS = (".eml",)
MBOX_EXTS = (".mbox",)
GZIP_EXT = ".gz"
# Read by OCR (qa.parse.image), like a PDF's scanned pages.
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

SUPPORTED = (
    *TEXT_EXTS,
    *HTML_EXTS,
    *PDF_EXTS,
    *JSONL_EXTS,
    *RST_EXTS,
    *DOCX_EXTS,
    *PPTX_EXTS,
    *XLSX_EXTS,
    *CSV_EXTS,
    *EPUB_EXTS,
    *ODT_EXTS,
    *MAIL_EXTS,
    *MBOX_EXTS,
    GZIP_EXT,
    *IMAGE_EXTS,
)


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
    """File name without directory and extension (and without ``.gz`` and the extension under it),
    used as the fallback title."""
    name = _basename(filename)
    if extension(name) == GZIP_EXT:
        name = name[: -len(GZIP_EXT)]
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def inner_name(filename: str) -> str:
    """The name of the file inside a gzip'd one: ``a/notes.txt.gz`` -> ``a/notes.txt``."""
    return filename[: -len(GZIP_EXT)]


def check_extension(filename: str) -> str:
    """The file's lower-cased extension, or UnsupportedFileType if we have no parser for it.

    For a ``.gz`` file the extension under it is checked too: ``archive.tar.gz`` is refused here,
    before anything is decompressed."""
    ext = extension(filename)
    if ext == GZIP_EXT:
        inner = extension(inner_name(filename))
        if inner in ARCHIVES or MAN_PAGE.match(inner):
            raise UnsupportedFileType(
                f"unsupported file type '{inner}{GZIP_EXT}' for '{filename}': a .gz file is read as the "
                f"file inside it, and '{inner}' is {'a man page (troff)' if MAN_PAGE.match(inner) else 'an archive'}, "
                f"which has no parser (supported are {', '.join(SUPPORTED)})"
            )
        return ext
    if ext not in SUPPORTED:
        shown = f"'{ext}'" if ext else "(no extension)"
        raise UnsupportedFileType(
            f"unsupported file type {shown} for '{filename}': supported are {', '.join(SUPPORTED)}"
        )
    return ext


# Compressed and archive files inside a .gz, and man pages' troff source (ls.1.gz): not text to
# index as it is, so never taken for plain text.
ARCHIVES = (GZIP_EXT, ".tar", ".tgz", ".zip", ".7z", ".xz", ".bz2", ".zst")
MAN_PAGE = re.compile(r"^\.[1-9][a-z]{0,4}$")

# How much of a file of no known type is read to tell whether it is text.
SNIFF_BYTES = 8192


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file of no known type are text: a UTF-16/32 byte order mark, or
    no NUL byte and at most 1% control characters (tab, newline, form feed, carriage return and
    escape aside). READMEs, changelogs, licences and config files pass; executables, images,
    archives and old binary office files (.doc) do not."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return True
    if b"\0" in head:
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls * 100 <= len(head)


def file_type(filename: str, head: bytes) -> str:
    """``check_extension``, except that a file of no known type (``README``, ``NEWS.Debian``,
    ``sources.list``) whose first bytes are text is read as plain text: ``.txt``."""
    try:
        return check_extension(filename)
    except UnsupportedFileType:
        ext = extension(filename)
        if ext != GZIP_EXT and ext not in ARCHIVES and not MAN_PAGE.match(ext) and looks_like_text(head[:SNIFF_BYTES]):
            return ".txt"
        raise


def known_type(filename: str) -> bool:
    """Whether ``filename``'s extension alone says it can be read (no need to look inside)."""
    try:
        check_extension(filename)
    except UnsupportedFileType:
        return False
    return True
