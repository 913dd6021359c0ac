"""Whether a change to ``qa.sentences`` leaves prose alone: ``sentence_spans`` of every document of
the SQuAD, HotpotQA and SciFact corpora (their ``text`` and ``title`` fields), and of any files
named, with the code at a git revision and with the working tree's, counted where they differ.

    python -m evals.spans_unchanged [--against main] [FILE ...]

Prints one line per corpus (documents, texts, texts whose spans differ) and, for the files, the
heading lines that are new. Exits 1 when a corpus text differs. Needs the datasets under
``/work/shared/datasets`` (or ``--datasets``); nothing is written.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

from qa import sentences

CORPORA = ("squad_v1.1_dev", "hotpotqa_500", "scifact")


def module_at(rev: str) -> types.ModuleType:
    """``qa/sentences.py`` as it is at git revision ``rev``, loaded as a module of its own."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(
        ["git", "show", f"{rev}:qa/sentences.py"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    mod = types.ModuleType(f"sentences_at_{rev}")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(source, f"{rev}:qa/sentences.py", "exec"), mod.__dict__)
    return mod


def spans(mod: Any, text: str) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.kind) for s in mod.sentence_spans(text)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.spans_unchanged", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--against", default="main", help="git revision of the code to compare with")
    ap.add_argument("--datasets", type=Path, default=Path("/work/shared/datasets"))
    args = ap.parse_args(argv)
    old = module_at(args.against)
    changed = 0
    for name in CORPORA:
        docs = texts = differ = 0
        with (args.datasets / name / "corpus.jsonl").open(encoding="utf-8") as f:
            for line in f:
                doc = json.loads(line)
                docs += 1
                for field in ("text", "title"):
                    text = doc.get(field) or ""
                    texts += 1
                    differ += spans(old, text) != spans(sentences, text)
        print(f"{name}: {docs} documents, {texts} texts, {differ} with different spans")
        changed += differ
    for path in args.files:
        text = path.read_text(encoding="utf-8", errors="replace")
        before, after = spans(old, text), spans(sentences, text)
        if before != after:
            new = [text[s:e] for s, e, k in after if k == "heading" and (s, e, k) not in set(before)]
            print(f"{path}: different spans; new headings {new}")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
