"""`python -m evals.calibrate`: pick the "not found" threshold on one run's records, score others at it.

A `qa eval --abstention` report calibrates on its own questions. To calibrate honestly, run it on
questions no reported eval uses (e.g. `--articles evals/answer_split.json:validation_articles`),
then give that run's directory as ``--train`` and the reported runs as ``--apply``: the threshold
is the highest one that still answers ``--min-answered`` (0.95) of the training side's answerable
questions (``evals.metrics.calibrate``), and each applied run is scored at it from its records
(an answer is found when its score reaches the threshold), so nothing is asked again.

    python -m evals.calibrate --train evals/reports/squad_v1.1_dev-validation-abstention \\
        --apply evals/reports/squad_v1.1_dev-n2000-abstention --apply evals/reports/hotpotqa_500-abstention \\
        --out evals/reports/abstention-calibration

Writes ``calibration.json`` and ``calibration.md`` in ``--out``.
"""

from __future__ import annotations

import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from evals import abstention as abst
from evals import metrics as m
from evals.report import share

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_run(run: Path, config: str = "default") -> dict[str, Any]:
    """A ``--abstention`` run's report and records: answerable (those asked gold-removed too),
    gold-removed and off-topic.

    Raises:
        ValueError: ``run`` holds no such run for ``config``.
    """
    files = [run / f"{kind}.{config}.jsonl" for kind in ("queries", "abstention", "offtopic")]
    missing = [f.name for f in [run / "report.json", *files] if not f.is_file()]
    if missing:
        raise ValueError(f"{run} has no {', '.join(missing)}: run `qa eval --abstention --config {config} --out {run}`")
    report = json.loads((run / "report.json").read_text())
    answerable, removed, offtopic = (_jsonl(f) for f in files)
    return {
        "dir": str(run),
        "dataset": report["dataset"],
        "command": report.get("command", ""),
        "threshold": report["configs"][config]["settings"]["min_answer_score"]
        if report["configs"][config]["settings"]["min_answer_score"] is not None
        else report["configs"][config]["abstention"]["threshold"],
        "answerable": [r for r in answerable if r["gold"]],
        "removed": removed,
        "offtopic": offtopic,
    }


def scores(run: dict[str, Any]) -> tuple[list[float], list[float], list[float]]:
    return tuple([float(r["answer_score"]) for r in run[k]] for k in ("answerable", "removed", "offtopic"))  # type: ignore[return-value]


def at(run: dict[str, Any], threshold: float) -> dict[str, Any]:
    """The run's shares at ``threshold``, read off its recorded scores."""
    ans, rem, off = scores(run)
    return m.sweep(ans, rem, off, [threshold])[0]


def calibrate_runs(
    train: Path,
    apply: list[Path],
    config: str = "default",
    min_answered: float = abst.MIN_ANSWERED,
    min_not_found: float = abst.MIN_NOT_FOUND,
) -> dict[str, Any]:
    """The threshold calibrated on ``train``'s records, and every run scored at it and at its own."""
    t = load_run(train, config)
    ans, rem, _ = scores(t)
    cal = m.calibrate(ans, rem, min_answered)
    if cal is None:
        raise ValueError(f"{train} has no answerable or no gold-removed records to calibrate on")
    runs = []
    for run_dir in [train, *apply]:
        r = load_run(run_dir, config)
        runs.append(
            {
                "dir": r["dir"],
                "dataset": r["dataset"],
                "command": r["command"],
                "questions": len(r["answerable"]),
                "offtopic": len(r["offtopic"]),
                "role": "train" if run_dir == train else "apply",
                "current": {"threshold": r["threshold"], **at(r, r["threshold"])},
                "calibrated": at(r, cal["threshold"]),
            }
        )
    for r in runs:
        c = r["calibrated"]
        r["target_met"] = bool(
            c["answered"] is not None
            and c["answered"] >= min_answered
            and c["not_found"] is not None
            and c["not_found"] >= min_not_found
        )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config,
        "threshold": cal["threshold"],
        "min_answered": min_answered,
        "min_not_found": min_not_found,
        "train": str(train),
        "runs": runs,
    }


def write_markdown(result: dict[str, Any], path: Path, command: str = "") -> None:
    lines = [
        f'# The "not found" threshold, calibrated on `{result["train"]}`',
        "",
        f"- command: `{command}`" if command else "- command: (library call)",
        f"- date: {result['date']}; configuration `{result['config']}`",
        f"- calibrated threshold **{result['threshold']}**: the highest threshold on the answer score that still "
        f"answers >= {result['min_answered']:.0%} of the training run's answerable questions; target: >= "
        f'{result["min_not_found"]:.0%} "not found" gold-removed at >= {result["min_answered"]:.0%} answered',
        "",
        "| run | dataset | questions | threshold | answered (answerable) | not found (gold removed) |"
        " not found (off-topic) | precision of found | F1 | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        for label, row in (("current", r["current"]), ("calibrated", r["calibrated"])):
            target = ("met" if r["target_met"] else "not met") if label == "calibrated" else ""
            lines.append(
                f"| `{Path(r['dir']).name}` ({r['role']}) | {r['dataset']} | {r['questions']} | "
                f"{row['threshold']} ({label}) | {share(row['answered'])} | {share(row['not_found'])} | "
                f"{share(row['offtopic_not_found'])} ({r['offtopic']}) | {share(row['precision'])} | "
                f"{share(row['f1'])} | {target} |"
            )
    lines += ["", "Runs:", ""] + [f"- `{Path(r['dir']).name}`: `{r['command']}`" for r in result["runs"]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@app.command()
def main(
    train: Annotated[Path, typer.Option(help="Report directory of a --abstention run on training questions.")],
    apply: Annotated[
        list[Path] | None, typer.Option(help="Report directory of a --abstention run to score at it (repeatable).")
    ] = None,
    config: Annotated[str, typer.Option(help="Configuration whose records to read.")] = "default",
    min_answered: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Share of answerable questions still answered.")
    ] = abst.MIN_ANSWERED,
    out: Annotated[Path | None, typer.Option(help="Where to write calibration.json and .md.")] = None,
) -> None:
    """Pick the "not found" threshold on a training run's records; score other runs at it (evals/README.md)."""
    try:
        result = calibrate_runs(train, apply or [], config, min_answered)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    command = shlex.join(["python", "-m", "evals.calibrate", *sys.argv[1:]])
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "calibration.json").write_text(json.dumps({**result, "command": command}, indent=2) + "\n")
        write_markdown(result, out / "calibration.md", command)
    print(f"threshold {result['threshold']} (>= {min_answered:.0%} answered on {train})")
    for r in result["runs"]:
        c = r["calibrated"]
        print(
            f"  {Path(r['dir']).name}: answered {share(c['answered'])}, not found {share(c['not_found'])} "
            f"gold-removed, {share(c['offtopic_not_found'])} off-topic "
            f"(at {r['current']['threshold']}: {share(r['current']['answered'])}, {share(r['current']['not_found'])})"
        )


if __name__ == "__main__":
    app(prog_name="python -m evals.calibrate")
