"""Which images of a documentation folder qa indexes: every .png, .jpg or .tif image under the
given folders (default: Debian's documentation packages) through qa's own image parser with
OCR, and what the words rule (``qa.parse.image.MIN_WORDS``) passes over beyond "no text at all".

    python -m evals.image_words [--roots /usr/share/doc ...]

Writes ``evals/reports/image-words.{json,md}``: per image its size, the words OCR read and whether
it is indexed. Needs tesseract (``apt-get install tesseract-ocr tesseract-ocr-eng``).
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.errors import NoText, QAError
from qa.parse.image import MIN_WORDS, count_words, parse_image

REPORTS = Path(__file__).resolve().parent / "reports"
ROOTS = ("/usr/share/doc", "/usr/share/debian-reference")
EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def images(roots: list[str]) -> list[Path]:
    """Every image file of the types qa reads under ``roots``, once by real path, sorted."""
    seen: dict[str, Path] = {}
    for root in roots:
        for p in Path(root).rglob("*"):
            if p.suffix.lower() in EXTS and p.is_file():
                seen.setdefault(os.path.realpath(p), p)
    return sorted(seen.values())


def read(path: Path) -> dict[str, Any]:
    from PIL import Image

    with Image.open(path) as im:
        size = f"{im.width}x{im.height}"
    row: dict[str, Any] = {"path": str(path), "size": size}
    try:
        parsed = parse_image(path.read_bytes(), path.name)
        row |= {"indexed": True, "words": count_words(parsed.text), "text": parsed.text[:80]}
    except NoText as e:
        row |= {"indexed": False, "words": count_words(e.text), "text": e.text[:80]}
    except QAError as e:
        row |= {"indexed": False, "error": str(e), "words": 0, "text": ""}
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.image_words", description=__doc__.splitlines()[0])
    ap.add_argument("--roots", nargs="+", default=list(ROOTS))
    ap.add_argument("--out", type=Path, default=REPORTS)
    args = ap.parse_args(argv)
    rows = [read(p) for p in images(args.roots)]
    no_text = sum(1 for r in rows if r["words"] == 0 and not r.get("error") and not r["text"].strip())
    by_rule = [r for r in rows if not r["indexed"] and not r.get("error") and r["text"].strip()]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m evals.image_words --roots " + " ".join(args.roots),
        "min_words": MIN_WORDS,
        "images": len(rows),
        "indexed": sum(r["indexed"] for r in rows),
        "no_text_at_all": no_text,
        "passed_over_by_the_words_rule": len(by_rule),
        "errors": sum(1 for r in rows if r.get("error")),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "image-words.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    lines = [
        "# Images in documentation folders: which ones qa indexes",
        "",
        f"`{report['command']}` ({report['date']}): every image qa reads (OCR) in Debian's documentation",
        f"packages installed here. An image with fewer than {MIN_WORDS} words (of 2 letters or digits or more)",
        "is passed over as `empty` (`qa.parse.image.MIN_WORDS`), as one with no text at all is.",
        "",
        "| images | indexed | no text at all | passed over by the words rule | errors |",
        "|---|---|---|---|---|",
        f"| {report['images']} | {report['indexed']} | {no_text} | {len(by_rule)} | {report['errors']} |",
        "",
        "Passed over by the words rule (what OCR read):",
        "",
        *[f"- `{r['path']}` ({r['size']}): {r['text']!r}" for r in by_rule],
        "",
        "Indexed, fewest words first:",
        "",
        *[
            f"- `{r['path']}` ({r['size']}): {r['words']} words, {r['text'][:60]!r}"
            for r in sorted((r for r in rows if r["indexed"]), key=lambda r: r["words"])[:10]
        ],
    ]
    (args.out / "image-words.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:9]))


if __name__ == "__main__":
    main()
