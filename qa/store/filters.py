"""Metadata filters, parsed and checked once for every store; each store turns them into its query.

A filter maps top-level metadata field names to exact scalar values, all of which must match;
the key ``doc_id`` matches one document id or any of a list of them.

``Filters.access`` carries the caller's identities (``qa.access``): a document matches when it
has no access list or its list names one of them. It is never parsed from a request's filters:
the service sets it from the caller, so a client cannot widen what it sees.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from qa.errors import InvalidInput
from qa.limits import INT64
from qa.types import Metadata

# What a filter may name: a metadata field, never SQL or JSON-path syntax.
FIELD = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

Scalar = str | int | float | bool

# Most fields one filter may name: each is one more condition in the store's query (SQLite refuses
# an expression about 1,000 deep), and no real filter needs more.
MAX_FILTER_KEYS = 64


@dataclass(frozen=True)
class Filters:
    """Checked filters: ``match`` holds (field, value) pairs in the order given, ``doc_ids`` the
    allowed document ids (None: any document)."""

    match: tuple[tuple[str, Scalar], ...] = ()
    doc_ids: tuple[str, ...] | None = None
    # The caller's identities (``qa.access.Caller.identities``); None: every document, whatever its access list.
    access: tuple[str, ...] | None = None

    def __bool__(self) -> bool:
        """Whether these filters restrict anything (the stores skip filtering when not)."""
        return bool(self.match) or self.doc_ids is not None or self.access is not None


# What the stores and the retriever take: filters as a request gives them, or already parsed.
FilterSpec = Metadata | Filters


def parse_filters(filters: FilterSpec | None) -> Filters:
    """``filters`` as ``Filters`` (parsed ones are returned as they are).

    Raises:
        InvalidInput: more than ``MAX_FILTER_KEYS`` fields, a field name that is not a metadata
            field name, or a value that is not a string, finite number within 64 bits or boolean.
    """
    if isinstance(filters, Filters):
        return filters
    match: list[tuple[str, Scalar]] = []
    doc_ids: tuple[str, ...] | None = None
    if filters and len(filters) > MAX_FILTER_KEYS:
        raise InvalidInput(f"filters name {len(filters)} fields, more than {MAX_FILTER_KEYS}; filter on fewer fields")
    for key, value in (filters or {}).items():
        if key == "doc_id":
            doc_ids = tuple(str(v) for v in (value if isinstance(value, list) else [value]))
            continue
        if key == "access":
            raise InvalidInput(
                "filter field 'access' is not a metadata filter: what a key may see follows from the key itself"
            )
        if not FIELD.match(key):
            raise InvalidInput(f"filter field {key!r} is not a valid metadata field name (letters, digits, _.:-)")
        if not isinstance(value, (str, int, float, bool)) or value is None:
            raise InvalidInput(f"filter {key!r} must be a string, number or boolean, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"filter {key!r} is {value!r}: numbers must be finite")
        if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            raise InvalidInput(
                f"filter {key!r} is {str(value)[:40]}, beyond the 64-bit integer range the stores compare; "
                "filter on a smaller number"
            )
        match.append((key, value))
    return Filters(tuple(match), doc_ids)
