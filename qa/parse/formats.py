"""Which files have a parser: the supported extensions, and reading them off a file name.

A gzip'd file (``notes.txt.gz``, ``book.docx.gz``) is its inner file: the extension under ``.gz``
chooses the parser, and a name with none under it (``syslog.gz``) is text.
"""

from __future__ import annotations

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
        if inner and (inner not in SUPPORTED or inner == GZIP_EXT):
            raise UnsupportedFileType(
                f"unsupported file type '{inner}{GZIP_EXT}' for '{filename}': a .gz file is read as the "
                f"file inside it, and '{inner}' has no parser (supported are {', '.join(SUPPORTED)})"
            )
        return ext
    if ext not in SUPPORTED:
        shown = f"'{ext}'" if ext else "(no extension)"
        raise UnsupportedFileType(
            f"unsupported file type {shown} for '{filename}': supported are {', '.join(SUPPORTED)}"
        )
    return ext
