"""The public surface of ``qa`` is pinned: a name added or removed here is a deliberate change."""

from __future__ import annotations

import subprocess
import sys

import qa

PUBLIC = [
    "__version__",
    "QAService",
    "Collections",
    "Settings",
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
]


def test_all_is_pinned() -> None:
    assert qa.__all__ == PUBLIC


def test_every_public_name_resolves_to_its_definition() -> None:
    for name in PUBLIC[1:]:
        value = getattr(qa, name)
        assert value.__name__ == name and value.__module__.startswith("qa."), name
    assert issubclass(qa.TooLarge, qa.InvalidInput) and issubclass(qa.InvalidInput, qa.QAError)


def test_unknown_names_raise_attribute_error() -> None:
    try:
        qa.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("qa.NoSuchThing resolved")


def test_importing_qa_loads_no_model_stack() -> None:
    code = "import sys, qa, qa.config; print(any(m in sys.modules for m in ('torch', 'qa.service', 'faiss')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"
