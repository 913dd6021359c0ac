"""Refit the short-answer confidence of ``qa.span`` (``CONFIDENCE_WEIGHTS``) from eval runs on train articles.

The recipe: a harness run on SQuAD v1.1 dev's train articles (the first 3,000 of their questions),
one on the validation articles, then the fit (about 5 minutes on a busy 2-core machine with the
default int8 ONNX embedder, the index of SQuAD dev's 2,067 paragraphs built once):

    python -m evals --dataset ../shared/datasets/squad_v1.1_dev \\
        --articles evals/answer_split.json:train_articles --limit 3000 --threads 1 \\
        --out /tmp/fitshort/train --cache-dir /tmp/fitshort/cache --json
    python -m evals --dataset ../shared/datasets/squad_v1.1_dev \\
        --articles evals/answer_split.json:validation_articles --threads 1 \\
        --out /tmp/fitshort/val --cache-dir /tmp/fitshort/cache --json
    python -m evals.fit_short --runs /tmp/fitshort/train --validation /tmp/fitshort/val

Each run's per-query records (``queries.<config>.jsonl``) give the question, the cited answer
sentence (the first citation's quote) and its evidence (``answer_signals``, the confidence's "evidence").
For every answered question whose sentence has a name, date or number candidate
(``qa.span.short_candidate``), the candidate is labelled exact or not against the gold answers
(``evals.metrics.exact_match``), and a logistic regression is fitted on its ``CONFIDENCE_FEATURES``
by Newton's method in numpy, with the objective of the sklearn fit the shipped weights came from,
``LogisticRegression(C=1.0, fit_intercept=False)`` on features whose first column is the constant
"bias": the summed log-loss plus ``||w||² / 2``, the bias weight penalized too (that reproduces the
shipped weights within 0.002; an unpenalized bias, ``fit_intercept=True``'s objective, is off by
0.05, and is reported beside it). No eval article (``eval_articles`` of ``evals/answer_split.json``)
may be in a run.

The report (``evals/reports/short_confidence.{json,md}``) gives the fitted weights beside the shipped
ones and, for thresholds 0.2 to 0.5, the share of candidates shown (the near-tie rule applied, as
``qa.span.short_answer`` does) and the EM where shown, on the fitting data and on validation. Copy
the weights into ``qa.span.CONFIDENCE_WEIGHTS`` by hand after reading it.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.data import article
from evals.metrics import exact_match
from qa import span

REPORTS = Path(__file__).resolve().parent / "reports"
SPLIT = Path(__file__).resolve().parent / "answer_split.json"
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, c: float = 1.0, penalize_bias: bool = True, steps: int = 100, tol: float = 1e-10
) -> np.ndarray:
    """Weights minimizing the summed log-loss plus ``||w||² / (2c)``: sklearn ``LogisticRegression(C=c,
    fit_intercept=False)``'s objective, the first column of ``x`` being the constant "bias" feature
    (penalized like the others unless ``penalize_bias`` is false, which is ``fit_intercept=True``'s
    objective). Newton's method from zero: deterministic, nothing random."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or len(x) != len(y) or not len(y):
        raise ValueError("x must be an (n, d) array and y n labels, n > 0")
    penalty = np.full(x.shape[1], 1.0 / c)
    if not penalize_bias:
        penalty[0] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < tol:
            break
    return w


@dataclass(frozen=True)
class Row:
    """One question whose cited sentence has a name, date or number candidate."""

    qid: str
    features: tuple[float, ...]
    exact: bool
    near_tie: bool
    shown_in_run: bool | None  # whether the run showed a short answer (None: not recorded)


def read_runs(path: Path) -> list[dict[str, Any]]:
    """The per-query records of a run directory (``queries.*.jsonl``) or of one JSONL file."""
    files = [path] if path.is_file() else sorted(path.glob("queries.*.jsonl"))
    if not files:
        raise SystemExit(f"error: {path} holds no queries.*.jsonl (run `python -m evals ... --out {path}` first)")
    return [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_command(path: Path) -> str | None:
    """The harness command that made a run directory (its ``report.json``), when it says."""
    report = path / "report.json" if path.is_dir() else path.parent / "report.json"
    try:
        return str(json.loads(report.read_text(encoding="utf-8"))["command"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_articles(records: Sequence[dict[str, Any]], split: Path = SPLIT) -> list[str]:
    """The articles of ``records``' gold documents; refuses any of the eval articles."""
    forbidden = set(json.loads(split.read_text(encoding="utf-8"))["eval_articles"])
    articles = sorted({article(g) for r in records for g in r.get("gold", [])})
    used = forbidden.intersection(articles)
    if used:
        raise SystemExit(f"error: the runs hold eval articles ({', '.join(sorted(used))}): fit on train articles only")
    return articles


def evidence(record: dict[str, Any]) -> float:
    """The answer's evidence (``qa.span``'s confidence feature): its signals' ``evidence``; a run made
    before answers carried signals recorded it as ``answer_score``."""
    signals = record.get("answer_signals")
    return float(signals["evidence"]) if signals else float(record["answer_score"])


def rows_of(records: Sequence[dict[str, Any]]) -> list[Row]:
    """A row per answered question whose cited sentence has a candidate span."""
    rows = []
    for r in records:
        if not r.get("found") or r.get("answer_score") is None or not r.get("answers"):
            continue
        cites = r.get("citations") or []
        sentence = cites[0]["quote"] if cites else str(r.get("answer", "")).split("\n", 1)[0]
        got = span.short_candidate(r["question"], sentence, evidence(r))
        if got is None:
            continue
        choice, features = got
        text = sentence[choice.start : choice.end]
        exact = bool(exact_match(text, r["answers"]))
        shown = None if "short" not in r else r["short"] is not None
        rows.append(Row(str(r.get("qid", "")), features, exact, span.near_tie(choice), shown))
    return rows


def table(rows: Sequence[Row], w: Sequence[float] | np.ndarray, questions: int) -> list[dict[str, Any]]:
    """For each threshold: short answers shown (confidence at least it, no near tie), their share of
    the candidates and of the questions, and how many of them are exact; and the candidates below it
    (near ties included), with how many of those were exact: what the threshold hides."""
    if not rows:
        return []
    x = np.array([r.features for r in rows])
    p = 1.0 / (1.0 + np.exp(-(x @ np.asarray(w, dtype=float))))
    out = []
    for t in THRESHOLDS:
        shown = [r for r, pi in zip(rows, p, strict=True) if pi >= t and not r.near_tie]
        exact = sum(r.exact for r in shown)
        below = [r for r, pi in zip(rows, p, strict=True) if pi < t]
        out.append(
            {
                "threshold": t,
                "shown": len(shown),
                "share_of_spans": round(len(shown) / len(rows), 4),
                "share_of_questions": round(len(shown) / max(1, questions), 4),
                "exact": exact,
                "em_where_shown": round(exact / len(shown), 4) if shown else None,
                "below": len(below),
                "below_exact": sum(r.exact for r in below),
            }
        )
    return out


def agreement(rows: Sequence[Row]) -> dict[str, Any] | None:
    """How often the shipped rule (``short_answer``) decides as the run did: a check that the
    features are recomputed from the records as the service computed them."""
    known = [r for r in rows if r.shown_in_run is not None]
    if not known:
        return None
    x = np.array([r.features for r in known])
    p = 1.0 / (1.0 + np.exp(-(x @ np.array(span.CONFIDENCE_WEIGHTS))))
    same = sum(
        bool(pi >= span.MIN_CONFIDENCE and not r.near_tie) == r.shown_in_run for r, pi in zip(known, p, strict=True)
    )
    return {"rows": len(known), "same": same}


def same_decisions(rows: Sequence[Row], a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> int:
    """The spans two sets of weights show or hide alike at the shipped threshold and near-tie rule."""
    if not rows:
        return 0
    x = np.array([r.features for r in rows])
    pa = 1.0 / (1.0 + np.exp(-(x @ np.asarray(a, dtype=float)))) >= span.MIN_CONFIDENCE
    pb = 1.0 / (1.0 + np.exp(-(x @ np.asarray(b, dtype=float)))) >= span.MIN_CONFIDENCE
    tie = np.array([r.near_tie for r in rows])
    return int(((pa & ~tie) == (pb & ~tie)).sum())


def describe(records: Sequence[dict[str, Any]], rows: Sequence[Row], articles: list[str]) -> dict[str, Any]:
    """The data of a run, and what the near-tie rule (``MIN_MARGIN``) hides at the shipped weights
    and threshold: near ties sure enough to show otherwise, and how many of them were exact."""
    p = [float(np.array(r.features) @ np.array(span.CONFIDENCE_WEIGHTS)) for r in rows]
    hidden = [r for r, z in zip(rows, p, strict=True) if r.near_tie and 1 / (1 + math.exp(-z)) >= span.MIN_CONFIDENCE]
    return {
        "run_command": None,
        "articles": articles,
        "questions": len(records),
        "answered": sum(bool(r.get("found")) for r in records),
        "spans": len(rows),
        "exact": sum(r.exact for r in rows),
        "near_ties": sum(r.near_tie for r in rows),
        "near_ties_sure_enough": {"spans": len(hidden), "exact": sum(r.exact for r in hidden)},
        "agreement_with_run": agreement(rows),
    }


def _md_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| threshold | shown | share of spans | share of questions | exact | EM where shown | below: exact of |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['threshold']} | {r['shown']} | {r['share_of_spans']} | {r['share_of_questions']} | {r['exact']} "
            f"| {r['em_where_shown']} | {r['below_exact']} of {r['below']} |"
        )
    return lines


def _md_data(name: str, d: dict[str, Any]) -> list[str]:
    lines = [f"Run: `{d['run_command']}`"] if d["run_command"] else []
    lines += [
        f"{name}: {d['questions']} questions of {len(d['articles'])} articles, {d['answered']} answered; "
        f"{d['spans']} cited sentences with a name, date or number candidate, {d['exact']} of them exact.",
    ]
    nt = d["near_ties_sure_enough"]
    lines.append(
        f"Near ties: {d['near_ties']}; of those sure enough to show at the shipped weights and threshold, "
        f"{nt['exact']} of {nt['spans']} were exact (the near-tie rule hides them)."
    )
    if d["agreement_with_run"]:
        a = d["agreement_with_run"]
        lines.append(f"The shipped rule decides as the run did (its `short` field) for {a['same']} of {a['rows']}.")
    lines.append(
        f"The fitted weights show or hide {d['same_decisions_as_shipped']} of the {d['spans']} spans as the shipped "
        "ones do at the shipped threshold."
    )
    return lines


def markdown(report: dict[str, Any]) -> str:
    names = report["features"]
    lines = [
        "# Short-answer confidence",
        "",
        f"`{report['command']}` ({report['date']}).",
        "",
        "The weights of `qa.span.CONFIDENCE_WEIGHTS`, a logistic model of the chance that a name, date or",
        "number short answer is exact, refitted by `evals/fit_short.py` (Newton's method on the summed",
        f"log-loss + ||w||²/(2C), the bias weight included, C = {report['C']}: the objective of sklearn's",
        "`LogisticRegression(C=1.0, fit_intercept=False)` on these features). Its docstring has the runs.",
        "",
        *_md_data("Fitting data (train articles)", report["fit"]),
        *(["", *_md_data("Validation", report["validation"])] if "validation" in report else []),
        "",
        "| feature | shipped | fitted | fitted, bias unpenalized |",
        "|---|---|---|---|",
        *[
            f"| {f} | {s} | {w} | {u} |"
            for f, s, w, u in zip(
                names,
                report["shipped_weights"],
                report["fitted_weights"],
                report["unpenalized_bias"]["weights"],
                strict=True,
            )
        ],
        "",
        f"Largest absolute difference from the shipped weights: {report['max_abs_difference']} "
        f"({report['unpenalized_bias']['max_abs_difference']} with the bias unpenalized).",
        "",
        "Shown: confidence at least the threshold and no near tie (`qa.span.MIN_MARGIN` "
        f"= {report['min_margin']}), as `short_answer` decides;",
        f"the shipped threshold is `MIN_CONFIDENCE = {report['shipped_threshold']}`. Below: the candidates",
        "under the threshold (near ties included), and how many of them were exact.",
    ]
    for part in ("fit", "validation"):
        for weights in ("shipped", "fitted"):
            if part in report["tables"]:
                lines += ["", f"## {part}, {weights} weights", "", *_md_table(report["tables"][part][weights])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=Path, required=True, help="run directory (queries.*.jsonl) on the train articles")
    ap.add_argument("--validation", type=Path, help="run directory on the validation articles")
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 strength, as sklearn's C")
    ap.add_argument("--split", type=Path, default=SPLIT, help="the article split (its eval_articles are refused)")
    ap.add_argument("--out", type=Path, default=REPORTS)
    args = ap.parse_args(argv)

    records = read_runs(args.runs)
    rows = rows_of(records)
    if not rows:
        raise SystemExit(f"error: no answered question in {args.runs} has a name, date or number candidate")
    fit_info = describe(records, rows, check_articles(records, args.split))
    fit_info["run_command"] = run_command(args.runs)
    x, y = np.array([r.features for r in rows]), np.array([r.exact for r in rows])
    fitted = fit_logistic(x, y, c=args.c)
    free_bias = fit_logistic(x, y, c=args.c, penalize_bias=False)
    fit_info["same_decisions_as_shipped"] = same_decisions(rows, fitted, span.CONFIDENCE_WEIGHTS)
    shipped = list(span.CONFIDENCE_WEIGHTS)
    command = f"python -m evals.fit_short --runs {args.runs}" + (
        f" --validation {args.validation}" if args.validation else ""
    )
    if args.c != 1.0:
        command += f" --c {args.c}"
    report: dict[str, Any] = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "C": args.c,
        "features": list(span.CONFIDENCE_FEATURES),
        "fitted_weights": [round(float(v), 3) for v in fitted],
        "shipped_weights": shipped,
        "max_abs_difference": round(float(np.abs(fitted - np.array(shipped)).max()), 3),
        "unpenalized_bias": {
            "weights": [round(float(v), 3) for v in free_bias],
            "max_abs_difference": round(float(np.abs(free_bias - np.array(shipped)).max()), 3),
        },
        "shipped_threshold": span.MIN_CONFIDENCE,
        "min_margin": span.MIN_MARGIN,
        "fit": fit_info,
        "tables": {"fit": {"shipped": table(rows, shipped, len(records)), "fitted": table(rows, fitted, len(records))}},
    }
    if args.validation:
        v_records = read_runs(args.validation)
        v_rows = rows_of(v_records)
        report["validation"] = describe(v_records, v_rows, check_articles(v_records, args.split))
        report["validation"]["run_command"] = run_command(args.validation)
        report["validation"]["same_decisions_as_shipped"] = same_decisions(v_rows, fitted, span.CONFIDENCE_WEIGHTS)
        report["tables"]["validation"] = {
            "shipped": table(v_rows, shipped, len(v_records)),
            "fitted": table(v_rows, fitted, len(v_records)),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "short_confidence.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = markdown(report)
    (args.out / "short_confidence.md").write_text(text, encoding="utf-8")
    print(text, end="")
    if not math.isfinite(report["max_abs_difference"]):
        raise SystemExit("error: the fit diverged")


if __name__ == "__main__":
    main()
