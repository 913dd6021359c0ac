"""`python -m bench.sync [--files 1000] [--runs 3]`: re-syncing a folder (`qa index DIR`, qa/sync.py).

Writes ``--files`` short text files (in folders of 50, dated an hour back as files not written a
moment ago are), syncs them into a fresh embedded index with the bundled model, then times:

- ``unchanged``: a re-sync with nothing changed (every file skipped by its size and times, unread);
- ``touched``: every file's times changed, bytes the same (each read and hashed, none parsed);
- ``edit_one``: one file edited (hashed, parsed, chunked, embedded and written; the rest unread);
- ``cli_unchanged``: `qa index DIR` as a new process with nothing changed (start-up and imports
  included; the model is not loaded, since nothing needs embedding).

In-process times are medians of ``--runs``, the service (index open, model loaded) kept between
them. Writes bench/results/sync.json and sync.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import describe, load_avg

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
WORDS = ["kiln", "otter", "granite", "lantern", "meadow", "copper", "harbor", "violet", "cedar", "river"]


def text(i: int, version: int = 0) -> str:
    """A short note (two sentences, one chunk) unique to ``i``."""
    a, b = WORDS[i % 10], WORDS[(i // 10) % 10]
    return f"Note {i} (version {version}) is about the {a} and the {b}. It was filed under number {i * 7 + 3}.\n"


def write_corpus(folder: Path, n: int) -> list[Path]:
    paths = []
    old = time.time() - 3600
    for i in range(n):
        path = folder / f"part-{i // 50:03}" / f"note-{i:05}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text(i))
        os.utime(path, (old, old))
        paths.append(path)
    return paths


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def run(n: int, runs: int) -> dict[str, Any]:
    from qa.config import Settings
    from qa.service import QAService

    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        folder, index_dir = tmp / "docs", tmp / "index"
        paths = write_corpus(folder, n)
        svc = QAService(Settings(index_dir=index_dir))
        first_s, first = timed(lambda: svc.index_paths([folder]))
        assert first.added == n and not first.failed, first.as_dict()
        rows: dict[str, list[float]] = {"unchanged": [], "touched": [], "edit_one": []}
        summaries: dict[str, dict[str, Any]] = {}
        for r in range(runs):
            s, summary = timed(lambda: svc.index_paths([folder]))
            assert summary.unread == n and summary.unchanged == n, summary.as_dict()
            rows["unchanged"].append(s)
            summaries["unchanged"] = summary.as_dict()

            stamp = time.time() - 1800 + r  # new times, outside the racy window; same bytes
            for p in paths:
                os.utime(p, (stamp, stamp))
            s, summary = timed(lambda: svc.index_paths([folder]))
            assert summary.unread == 0 and summary.unchanged == n, summary.as_dict()
            rows["touched"].append(s)
            summaries["touched"] = summary.as_dict()

            edited = paths[(r * 37) % n]
            edited.write_text(text(r * 37 % n, version=r + 1))
            os.utime(edited, (stamp + 1, stamp + 1))
            s, summary = timed(lambda: svc.index_paths([folder]))
            assert summary.updated == 1 and summary.unread == n - 1, summary.as_dict()
            rows["edit_one"].append(s)
            summaries["edit_one"] = summary.as_dict()
        svc.close()

        env = {**os.environ, "QA_INDEX_DIR": str(index_dir), "PYTHONPATH": str(ROOT)}
        cli = []
        for _ in range(runs):
            s, out = timed(
                lambda: subprocess.run(
                    [sys.executable, "-m", "qa", "index", str(folder), "--json"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
            )
            assert json.loads(out.stdout)["files_unread"] == n
            cli.append(s)
        return {
            "files": n,
            "runs": runs,
            "first_sync_s": round(first_s, 2),
            "median_s": {k: round(statistics.median(v), 3) for k, v in rows.items()}
            | {"cli_unchanged": round(statistics.median(cli), 3)},
            "all_s": {k: [round(x, 3) for x in v] for k, v in rows.items()}
            | {"cli_unchanged": [round(x, 3) for x in cli]},
            "summaries": summaries,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def markdown(report: dict[str, Any]) -> str:
    m, runs, n = report["median_s"], report["all_s"], report["files"]
    rows = [
        ("nothing changed (every file skipped unread)", "unchanged"),
        ("every file touched, bytes the same (read and hashed, not parsed)", "touched"),
        ("one file edited (that file parsed and embedded, the rest unread)", "edit_one"),
        ("`qa index DIR`, nothing changed, a new process (start-up included)", "cli_unchanged"),
    ]
    load = f"load average {report['load_before']} before, {report['load_after']} after"
    lines = [
        f"# Re-syncing a folder of {n:,} files (`python -m bench.sync --files {n} --runs {report['runs']}`)",
        "",
        f"{report['date']}, {report['machine']}, {load}.",
        "",
        f"First sync (parse, chunk, embed, write every file): {report['first_sync_s']} s.",
        "",
        "| re-sync | median | runs |",
        "|---|---|---|",
        *(f"| {label} | {m[key]} s | {runs[key]} |" for label, key in rows),
        "",
        "In-process rows keep the service (index open, model loaded) between runs.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT, help="where sync.json and sync.md go")
    args = parser.parse_args()
    before = load_avg()
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "load_before": before,
        **run(args.files, args.runs),
        "load_after": load_avg(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sync.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "sync.md").write_text(markdown(report))
    print(json.dumps(report["median_s"]))


if __name__ == "__main__":
    main()
