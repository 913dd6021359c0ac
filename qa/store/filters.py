"""Metadata filters, parsed and checked once for every store; each store turns them into its query.

A filter maps top-level metadata field names to exact scalar values, all of which must match;
the key ``doc_id`` matches one document id or any of a list of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.errors import InvalidInput
from qa.types import Metadata

# What a filter may name: a metadata field, never SQL or JSON-path syntax.
FIELD = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Filters:
    """Checked filters: ``match`` holds (field, value) pairs in the order given, ``doc_ids`` the
    allowed document ids (None: any document)."""

    match: tuple[tuple[str, Scalar], ...] = ()
    doc_ids: tuple[str, ...] | None = None


def parse_filters(filters: Metadata | None) -> Filters:
    """``filters`` as ``Filters``.

    Raises:
        InvalidInput: a field name that is not a metadata field name, or a value that is not a
            string, number or boolean.
    """
    match: list[tuple[str, Scalar]] = []
    doc_ids: tuple[str, ...] | None = None
    for key, value in (filters or {}).items():
        if key == "doc_id":
            doc_ids = tuple(str(v) for v in (value if isinstance(value, list) else [value]))
            continue
        if not FIELD.match(key):
            raise InvalidInput(f"filter field {key!r} is not a valid metadata field name (letters, digits, _.:-)")
        if not isinstance(value, (str, int, float, bool)) or value is None:
            raise InvalidInput(f"filter {key!r} must be a string, number or boolean, got {value!r}")
        match.append((key, value))
    return Filters(tuple(match), doc_ids)
