"""`qa export` / `qa import`: move an index between stores (embedded <-> postgres) without re-embedding.

The export is JSON Lines (gzip-compressed when the file name ends in ``.gz``): a header line
``{"format": "qa-export", "version": 1, "manifest": {...}}``, then one line per document with its
text, metadata, page offsets when it has pages (``page_starts``) and chunks (ordinal, start,
end, heading, and the vector as base64 float32, little-endian). Import writes documents in
batches, each batch one store transaction; importing the same file again changes nothing
(documents are replaced by equal ones).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from qa.errors import IndexMismatch, InvalidInput
from qa.store.base import Manifest, Store, Write
from qa.types import Chunk, Document

FORMAT = "qa-export"
VERSION = 1
BATCH_DOCS = 64


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def _ids(store: Store, page: int = 500) -> Iterator[str]:
    offset = 0
    while True:
        infos, total = store.list_documents(offset, page)
        yield from (i.id for i in infos)
        offset += len(infos)
        if not infos or offset >= total:
            return


def export_index(store: Store, path: Path, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write every document of ``store`` with its chunks and vectors to ``path``."""
    m = store.manifest
    docs = chunks = 0
    with _open(path, "w") as fh:
        header = {"model": m.model, "dim": m.dim, "normalized": m.normalized, "metric": m.metric, "extra": m.extra}
        fh.write(json.dumps({"format": FORMAT, "version": VERSION, "manifest": header}) + "\n")
        for doc_id in _ids(store):
            info, text = store.get(doc_id), store.get_text(doc_id)
            if info is None or text is None:  # deleted while exporting
                continue
            cs, vecs = store.document_chunks(doc_id)
            vecs = np.ascontiguousarray(vecs, dtype="<f4")
            line = {
                "id": info.id,
                "title": info.title,
                "text": text,
                "metadata": info.metadata,
                "source": info.source,
                **({"path": info.path} if info.path else {}),
                "chunker": info.chunker,
                **({"page_starts": list(info.page_starts)} if info.page_starts else {}),
                "chunks": [
                    {
                        "ordinal": c.ordinal,
                        "start": c.start,
                        "end": c.end,
                        "heading": c.heading,
                        "vector": base64.b64encode(v.tobytes()).decode("ascii"),
                    }
                    for c, v in zip(cs, vecs, strict=True)
                ],
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            docs += 1
            chunks += len(cs)
            if progress:
                progress(1)
    return {"documents": docs, "chunks": chunks, "path": str(path)}


def read_manifest(path: Path) -> Manifest:
    """The manifest an export was made with (to open the target store with the same model)."""
    with _open(path, "r") as fh:
        return _header(fh.readline(), path)


def _header(line: str, path: Path) -> Manifest:
    try:
        head = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not a qa export (first line is not JSON)") from exc
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise InvalidInput(f"{path} is not a qa export (no {FORMAT!r} header); make one with `qa export`")
    if head.get("version") != VERSION:
        raise InvalidInput(f"{path} is export version {head.get('version')}, this qa reads version {VERSION}")
    m = head["manifest"]
    return Manifest(model=m["model"], dim=int(m["dim"]), extra=m.get("extra", {}))


def import_index(store: Store, path: Path, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write every document of the export at ``path`` into ``store``, vectors as exported."""
    docs = chunks = 0
    with _open(path, "r") as fh:
        source = _header(fh.readline(), path)
        if (source.model, source.dim) != (store.manifest.model, store.manifest.dim):
            raise IndexMismatch(
                f"{path} holds vectors of model {source.model!r} (dim {source.dim}), the target index uses "
                f"{store.manifest.model!r} (dim {store.manifest.dim}); set QA_MODEL={source.model} "
                "and import into a new QA_INDEX_NAME"
            )
        batch: list[Write] = []
        for n, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                doc = Document(
                    id=d["id"],
                    text=d["text"],
                    title=d["title"],
                    metadata=d["metadata"],
                    source=d.get("source"),
                    path=d.get("path"),
                    page_starts=tuple(int(x) for x in d.get("page_starts", ())),
                )
                cs = [
                    Chunk(doc.id, c["ordinal"], c["start"], c["end"], doc.text[c["start"] : c["end"]], c["heading"])
                    for c in d["chunks"]
                ]
                raw = b"".join(base64.b64decode(c["vector"]) for c in d["chunks"])
                vecs = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(len(cs), source.dim)
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInput(f"{path} line {n}: not a valid exported document ({exc})") from exc
            batch.append(Write(doc, cs, vecs, d["chunker"]))
            docs += 1
            chunks += len(cs)
            if len(batch) == BATCH_DOCS:
                store.write(batch)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            store.write(batch)
            if progress:
                progress(len(batch))
    store.save()
    return {"documents": docs, "chunks": chunks, "path": str(path)}
