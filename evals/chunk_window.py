"""How often do token-bounded chunks overflow the embedder's window? Writes JSON + Markdown.

all-MiniLM-L6-v2 reads at most 256 wordpieces (254 without [CLS]/[SEP]) and silently drops the
rest. tiktoken budgets count cl100k tokens, which on scientific text are fewer than wordpieces.
For each budget this chunks a corpus with the tiktoken budget alone and counts the chunks whose
embedding text (title/heading prefix + chunk) would be cut; then it checks that qa's chunker,
which also bounds chunks by the model's own tokenizer, never emits one.

    python -m evals.chunk_window --corpus ../shared/datasets/scifact/corpus.jsonl --limit 1000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.chunk import Chunker, tiktoken_counter  # noqa: E402
from qa.embed import PREFIX_TOKENS, SentenceTransformerEmbedder, embedding_text  # noqa: E402
from qa.types import Document  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="corpus.jsonl (doc_id, title, text)")
    ap.add_argument("--limit", type=int, default=1000, help="documents to read")
    ap.add_argument("--budgets", default="128,160,192,200,224,256")
    ap.add_argument("--out", type=Path, default=Path("evals/reports"))
    args = ap.parse_args()

    docs = []
    with args.corpus.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            docs.append(Document(id=row["doc_id"], title=row.get("title", ""), text=row["text"]))
            if len(docs) >= args.limit:
                break
    emb = SentenceTransformerEmbedder()
    assert emb.max_tokens is not None
    window = emb.max_tokens  # wordpieces the model reads besides [CLS]/[SEP]
    count = tiktoken_counter()
    rows = []
    for budget in [int(b) for b in args.budgets.split(",")]:
        for bounded in (False, True):
            chunker = Chunker(
                max_tokens=budget,
                overlap=32,
                count_tokens=count,
                window=emb.count_tokens if bounded else None,
                window_limit=window - PREFIX_TOKENS - 1 if bounded else None,
            )
            t0 = time.perf_counter()
            chunks = [(d, c) for d in docs for c in chunker.chunk(d)]
            secs = time.perf_counter() - t0
            lengths = [emb.count_tokens(embedding_text(d.title, c.heading, c.text, emb)) for d, c in chunks]
            over = sum(n > window for n in lengths)
            rows.append(
                {
                    "budget": budget,
                    "model_window_bound": bounded,
                    "chunks": len(chunks),
                    "over_window": over,
                    "over_window_share": round(over / len(chunks), 4),
                    "wordpieces_p50": statistics.median(lengths),
                    "wordpieces_max": max(lengths),
                    "chunk_seconds": round(secs, 2),
                }
            )
            print(rows[-1], flush=True)
    report = {
        "corpus": str(args.corpus),
        "documents": len(docs),
        "window": window,
        "date": str(date.today()),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "chunk_window.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"# Chunks over the embedder's window ({len(docs)} docs of `{args.corpus.name}`, {report['date']})",
        "",
        f"Window: {window} wordpieces of all-MiniLM-L6-v2 (256 minus [CLS]/[SEP]); embedding text = "
        f"title/heading prefix (at most {PREFIX_TOKENS} wordpieces) + chunk.",
        "",
        "| tiktoken budget | also bounded by model tokenizer | chunks | over window | share | p50 wordpieces |"
        " max | chunking s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['budget']} | {'yes' if r['model_window_bound'] else 'no'} | {r['chunks']} | {r['over_window']} | "
            f"{r['over_window_share']:.1%} | {r['wordpieces_p50']} | {r['wordpieces_max']} | {r['chunk_seconds']} |"
        )
    (args.out / "chunk_window.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
