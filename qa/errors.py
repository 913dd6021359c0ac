"""Domain errors. Only the API (HTTP status + JSON) and the CLI (exit code + one line) translate them.

QAError
 ├── InvalidInput            bad question, k, filter, or request         -> 422
 │    ├── UnsupportedFileType   extension or content we cannot parse       -> 415
 │    └── TooLarge              over a configured size limit               -> 413
 ├── NotFound                unknown document id                         -> 404
 ├── IndexMismatch           index built with another model/format       -> 409
 └── IndexCorrupt            index files unreadable                      -> 500-free: reported at open
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: the message says what was wrong and what to do."""

    status_code = 400


class InvalidInput(QAError):
    status_code = 422


class UnsupportedFileType(InvalidInput):
    status_code = 415


class TooLarge(InvalidInput):
    status_code = 413


class NotFound(QAError):
    status_code = 404


class IndexMismatch(QAError):
    status_code = 409


class IndexCorrupt(QAError):
    status_code = 503


class Unauthorized(QAError):
    """No API key where one is required."""

    status_code = 401


class Forbidden(QAError):
    """An API key that is not one of the configured keys."""

    status_code = 403
