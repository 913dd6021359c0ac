"""Domain errors: the whole tree. Only the API (HTTP status + JSON, ``qa.api.errors``) and the CLI
(exit code + one line) translate them; nothing here knows about HTTP.

QAError                      what was wrong and what to do (a request the service cannot take)
 ├── InvalidInput            bad question, k, filter, document or request
 │    ├── UnsupportedFileType   extension or content we cannot parse
 │    ├── TooLarge              over a configured size limit
 │    └── NoText                nothing to index (an empty file, an image OCR reads no words in)
 ├── NotFound                unknown document id, collection (or route, asset)
 │    └── IndexGone             the index was deleted while open or being opened (never made again)
 ├── Conflict                a name already taken (a collection), or a state that forbids the request
 ├── IndexMismatch           index built with another model or format version
 ├── Unavailable             the index or its database cannot serve right now
 │    ├── IndexCorrupt          index files unreadable (or a damaged part that was read)
 │    ├── StorageFull           the disk is full: the write was not made
 │    └── Busy                  a bounded queue is full: retry after ``retry_after`` seconds
 ├── Unauthorized            no API key where one is required
 └── Forbidden               an API key that is not one of the configured keys
      └── MissingScope          a valid key without the route's scope (``qa.access``)
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: the message says what was wrong and what to do."""


class InvalidInput(QAError):
    """A request the service refuses as it is: the message quotes the bad value."""


class UnsupportedFileType(InvalidInput):
    """A file whose extension or content cannot be parsed."""


class TooLarge(InvalidInput):
    """Over a configured size limit (the message names the setting)."""


class NoText(InvalidInput):
    """A file or document with no text to index: empty, or an image or scan where OCR read none.
    A request sending one is refused; a folder's sync passes over it (``qa.sync``). ``text`` is
    what was read, if anything (an image's few OCR'd characters)."""

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.text = text


class NotFound(QAError):
    """No such document."""


class IndexGone(NotFound):
    """The index was deleted (by this process or another) while it was open, or between finding
    it and opening it: nothing was read from a new one nor written, and nothing made under its name."""


class Conflict(QAError):
    """The request conflicts with what exists: a collection name already taken, or deleting the
    default collection."""


class IndexMismatch(QAError):
    """The index was built with another model, dimension or format version."""


class Unavailable(QAError):
    """The index or its database cannot serve right now (try again, or see the message)."""


class IndexCorrupt(Unavailable):
    """Index files are unreadable."""


class StorageFull(Unavailable):
    """The disk (or a file size limit) refused a write; nothing of it was stored."""


class Busy(Unavailable):
    """A bounded queue (ingestion's) is full: nothing was done; send it again after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthorized(QAError):
    """No API key where one is required."""


class Forbidden(QAError):
    """An API key that is not one of the configured keys."""


class MissingScope(Forbidden):
    """A valid API key without the scope a route needs on its collection (``qa.access``)."""
