"""Sources and document ids: where a document came from, named once for every way in.

A document read from a file belongs to a *source* and has a *path* inside it; its id is
``source + "/" + path``. A source is either

- a folder's absolute path (what ``qa index DIR`` uses by default), so a file's id is its
  absolute path: ``/home/me/notes/sub/a.md``; or
- a name without ``/`` (``qa index DIR --source notes``, an upload's ``source`` field, ``upload``
  for uploads by default): ``notes/sub/a.md``.

Names never start with ``/`` and never contain one, so a named source's ids cannot collide with
another source's; two folder sources share ids only for the very same file (``/a`` and
``/a/b`` both give ``/a/b/c.md``), which is what a stable id should do.
"""

from __future__ import annotations

import posixpath

from qa.errors import InvalidInput

# The source of an uploaded file when the request names none.
UPLOAD_SOURCE = "upload"


def check_source(source: str) -> str:
    """``source`` if it is a valid source: a normalized absolute path, or a name without ``/``.

    Raises:
        InvalidInput: blank, a relative path, an absolute path that is not normalized, or a
            name that is ``.`` or ``..``.
    """
    if not source.strip() or "\x00" in source:
        raise InvalidInput(f"source {source!r} must not be blank; give a name such as 'notes'")
    if source.startswith("/"):
        if posixpath.normpath(source) != source or source.startswith("//"):
            normal = posixpath.normpath(source)
            raise InvalidInput(f"source {source!r} is not a normalized absolute path; write it as {normal!r}")
        return source
    if "/" in source or source in (".", ".."):
        raise InvalidInput(
            f"source name {source!r} must not contain '/' (or be '.' or '..'): a source is a folder's "
            "absolute path or a plain name such as 'notes'"
        )
    return source


def check_path(path: str) -> str:
    """``path`` as a normalized relative POSIX path inside a source (``\\`` read as ``/``).

    Raises:
        InvalidInput: empty, absolute, or leading out of its source with ``..``.
    """
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or path.startswith("/") or ".." in parts:
        raise InvalidInput(
            f"path {path!r} must be a relative path inside its source (no leading '/', no '..'), like 'sub/a.md'"
        )
    return "/".join(parts)


def document_id(source: str, path: str) -> str:
    """The id of the document at ``path`` inside ``source``: ``source/path``."""
    return f"{source.rstrip('/')}/{path}"
