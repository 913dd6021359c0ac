"""Sharded ingestion: n workers split one corpus by document id, with nothing shared but the store.

Worker ``i`` of ``n`` (``qa index --shard i/n``) reads every file but embeds and writes only the
documents whose id hashes to ``i``. The split depends on the id alone, so every worker, on any
machine, agrees on it without talking to the others: no document is written by two workers, and
none by no worker. A killed worker is simply run again: what it committed is unchanged and
skipped, the rest is done.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from qa.errors import InvalidInput

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, doc_id: str) -> bool:
        return shard_of(doc_id, self.count) == self.index


def shard_of(doc_id: str, count: int) -> int:
    """The shard of a document id: a stable hash (not Python's per-process ``hash``) modulo count."""
    digest = hashlib.blake2b(doc_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def parse_shard(spec: str) -> Shard:
    """``"i/n"`` with 0 <= i < n, e.g. ``0/2`` and ``1/2`` for two workers."""
    m = _SPEC.match(spec)
    if not m:
        raise InvalidInput(f"--shard must look like i/n (e.g. 0/2), not {spec!r}")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 0 <= index < count:
        raise InvalidInput(
            f"--shard {spec!r}: need 0 <= i < n, e.g. 0/{max(count, 2)} .. {max(count, 2) - 1}/{max(count, 2)}"
        )
    return Shard(index, count)
