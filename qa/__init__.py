"""qa: retrieval-augmented question answering with exact character citations.

The public surface (pinned by tests/api/test_public_api.py)::

    from qa import QAService, Settings, Document, Answer

    svc = QAService(Settings(index_dir="index"))
    svc.add_documents([Document(id="paris", text=open("paris.txt").read())])
    answer = svc.ask("Who met in Paris?")
    answer.citations[0].quote  # == the document's text[start:end]

Names are imported on first use, so ``import qa.config`` (or ``qa --help``) does not load the
model stack.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Where each public name is defined.
_MODULES = {
    "qa.service": ("QAService",),
    "qa.collections": ("Collections",),
    "qa.config": ("Settings",),
    "qa.types": (
        "Answer",
        "CheckedSentence",
        "Chunk",
        "Citation",
        "Document",
        "Heading",
        "IngestResult",
        "Passage",
        "Retrieved",
        "Short",
    ),
    "qa.errors": (
        "QAError",
        "InvalidInput",
        "UnsupportedFileType",
        "TooLarge",
        "NotFound",
        "Conflict",
        "IndexMismatch",
        "Unavailable",
        "IndexCorrupt",
        "Unauthorized",
        "Forbidden",
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
