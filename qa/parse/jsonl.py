"""JSON Lines (.jsonl): one document per line, ``{"id", "title", "text", "metadata"}``."""

from __future__ import annotations

import json
from typing import Any

from qa.errors import InvalidInput
from qa.parse.content import check_not_binary, decode_utf8, load_json, normalize_text, normalize_value
from qa.types import Document, Metadata


def parse_jsonl(
    data: bytes, filename: str, doc_id: str | None, metadata: dict[str, Any] | None, source: str
) -> list[Document]:
    """One Document per non-blank line of ``{"id", "title", "text", "metadata"}`` objects."""
    check_not_binary(data, filename)
    content = decode_utf8(data, filename)
    base_meta = normalize_value(metadata or {})
    prefix = doc_id or filename
    docs: list[Document] = []
    seen: dict[str, int] = {}
    # Split on "\n" only: str.splitlines() would also split on U+2028 etc., which JSON allows in strings.
    for line_no, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"'{filename}' line {line_no}"
        try:
            obj = load_json(line)
        except (ValueError, RecursionError) as e:
            raise InvalidInput(f"{where} is not valid JSON ({e}); write one JSON object per line") from None
        if not isinstance(obj, dict):
            raise InvalidInput(
                f"{where} is a JSON {type(obj).__name__}, not an object; "
                'write one object per line like {"id": ..., "title": ..., "text": ...}'
            )
        if "text" not in obj:
            raise InvalidInput(f'{where} has no "text" field; every line needs the document text')
        for key in ("id", "title", "text"):
            if key in obj and not isinstance(obj[key], str):
                raise InvalidInput(f'{where}: "{key}" must be a string, got {json.dumps(obj[key])[:60]}; quote it')
        text = normalize_text(obj["text"])
        if not text.strip():
            raise InvalidInput(f'{where} has an empty "text"; remove the line or add text')
        line_meta = obj.get("metadata", {})
        if not isinstance(line_meta, dict):
            raise InvalidInput(f'{where}: "metadata" must be a JSON object, got {json.dumps(line_meta)[:60]}')
        if "id" in obj:
            ident = normalize_text(obj["id"])
            if not ident.strip():
                raise InvalidInput(f'{where} has an empty "id"; give it an id or leave the field out')
        else:
            ident = normalize_text(f"{prefix}#{line_no}")
        if ident in seen:
            raise InvalidInput(f"{where} repeats id '{ident}' (first used on line {seen[ident]}); ids must be unique")
        seen[ident] = line_no
        meta: Metadata = {**base_meta, **normalize_value(line_meta)}
        meta.setdefault("filename", filename)
        docs.append(
            Document(
                id=ident,
                text=text,
                title=normalize_text(obj.get("title", "")),
                metadata=meta,
                source=source,
            )
        )
    if not docs:
        raise InvalidInput(f"'{filename}' is empty: nothing to index")
    return docs
