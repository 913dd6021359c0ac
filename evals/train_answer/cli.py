"""The answer model's recipe, step by step (each step reads the previous one's output):

python -m evals.train_answer split      # evals/answer_split.json from the shared datasets
python -m evals.train_answer prepare    # candidate groups through qa's own retrieval
python -m evals.train_answer train      # fine-tune; checkpoints, resumable
python -m evals.train_answer export     # int8 ONNX + tokenizer + model card into WORK/model
python -m evals.train_answer calibrate  # ranking weight and "not found" threshold, on validation
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
WORK = Path("index") / "answer-model"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.train_answer", description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["split", "prepare", "train", "export", "calibrate"])
    ap.add_argument("--squad", type=Path, default=SHARED / "squad_v1.1_dev")
    ap.add_argument("--xquad", type=Path, default=SHARED / "xquad" / "en")
    ap.add_argument("--work", type=Path, default=WORK, help="groups, checkpoints and logs (not committed)")
    ap.add_argument("--base", choices=["minilm", "e5"], default="minilm", help="train: the encoder fine-tuned")
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--group", type=int, default=5, help="sentences per question per step (1 positive)")
    ap.add_argument("--batch", type=int, default=8, help="questions per step")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--xquad-langs",
        default="",
        help="prepare/train: XQuAD languages (comma-separated) whose train-article questions train the model too",
    )
    ap.add_argument(
        "--no-validate",
        action="store_true",
        help="train: skip scoring every validation sentence at the end (slow with 12 layers)",
    )
    ap.add_argument("--out", type=Path, default=None, help="export/calibrate: the model folder (default WORK/model)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    from evals.train_answer.split import load_split, write_split

    if args.step == "split":
        split = write_split(args.squad, args.xquad)
        print(json.dumps({k: len(v) for k, v in split.items() if isinstance(v, list)}))
        return
    split = load_split()
    if args.step == "prepare":
        from evals.train_answer.data import prepare

        langs = [lang for lang in args.xquad_langs.split(",") if lang]
        stats = prepare(args.squad, split, args.work / "cache", args.work / "groups", args.xquad.parent, langs)
        (args.work / "prepare.json").write_text(json.dumps(stats, indent=2) + "\n")
        print(json.dumps(stats))
    elif args.step == "train":
        from evals.train_answer.train import Hyper, train

        train(
            args.work,
            Hyper(
                layers=args.layers,
                epochs=args.epochs,
                group=args.group,
                batch=args.batch,
                lr=args.lr,
                seed=args.seed,
                threads=args.threads,
                max_tokens=args.max_tokens,
                base=args.base,
                xquad_langs=args.xquad_langs,
            ),
            validate=not args.no_validate,
        )
    elif args.step == "export":
        from evals.train_answer.export import export

        export(args.work, args.out)
    elif args.step == "calibrate":
        from evals.train_answer.calibrate import calibrate

        calibrate(args.work, args.out)
