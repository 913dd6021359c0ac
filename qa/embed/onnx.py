"""The ONNX backends (``QA_EMBED_BACKEND=onnx`` / ``onnx-int8``): the same model, run by onnxruntime.

On first use the sentence-transformers model is exported once (``torch.onnx.export``, opset 17)
into a cache directory, with its tokenizer and pooling settings; ``onnx-int8`` also quantizes the
weights to int8 per output channel (onnxruntime ``quantize_dynamic``; per-tensor int8 loses too
much: cosine 0.91 with fp32 against 0.993). Later loads read only the cached files, with
onnxruntime and tokenizers: torch is not imported at all.

The export traces the model's plain ("eager") attention, not PyTorch's fused
``scaled_dot_product_attention``: exported, the latter becomes masking operators (``Where``,
``IsNaN``) over every head's score matrix, 13% of an int8 run's time, and the eager graph runs
1.2 to 1.3 times faster with the same vectors. The int8 weights use 7 bits (``reduce_range``):
on AVX2 the u8 x s8 multiply-add saturates 16-bit sums with full-range weights, so the reduced
range is both faster and closer to fp32 (cosine 0.993 vs 0.992 mean, 0.990 vs 0.984 worst, on
150 SciFact abstracts).

Each text is tokenized once per ``embed``; texts are sorted by token count and batched, so a
batch pads to the length of its own longest text, not of the longest text overall (``onnx-int8``
runs one text at a time: see ``OnnxEmbedder``). Vectors are
the model's pooling (mean or CLS) of the last hidden state, L2-normalized, like
sentence-transformers'.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import threading
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.embed.base import ONNX_GRAPH_VERSION, SMALL_INPUT_CHARS, resolve_model, usable_cores
from qa.errors import InvalidInput

FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "qa-onnx.json"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


# The libraries that export, quantize and run the graph: another version of any may export another
# graph, so an export is reused only while all of them are the versions that made it.
EXPORTERS = ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime")


def export_key(name: str) -> str:
    """Cache directory name for a model: its name, and a hash of where it is, its files' sizes and
    times, the graph's version and opset, and the exporting libraries' versions, so a changed model
    on disk or an upgraded exporter is exported again."""
    location = resolve_model(name)
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{location}\0graph {ONNX_GRAPH_VERSION}\0opset {OPSET}".encode())
    for dist in EXPORTERS:
        h.update(f"\0{dist}=={importlib.metadata.version(dist)}".encode())
    path = Path(location)
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                st = f.stat()
                h.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[-60:] or "model"
    return f"{slug}-{h.hexdigest()}"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (workers started together export only once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def export(name: str, target: Path) -> None:
    """Export the sentence-transformers model ``name`` to ONNX in directory ``target``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    location = resolve_model(name)
    if Path(location).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        st = SentenceTransformer(location, device="cpu", model_kwargs={"attn_implementation": "eager"})
    except Exception as exc:  # the library raises many types
        raise InvalidInput(f"cannot load embedding model {name!r} to export it to ONNX: {exc}") from exc
    transformer, pooling = st[0], st[1] if len(st) > 1 else None
    mode = str(pooling.get_config_dict().get("pooling_mode", "mean")) if pooling is not None else "mean"
    if mode not in ("mean", "cls"):
        raise InvalidInput(f"model {name!r} pools by {mode!r}; the ONNX backends support mean and cls pooling")
    auto, tokenizer = transformer.auto_model, transformer.tokenizer
    auto.eval()
    sample = tokenizer(
        ["an example sentence", "and a second, longer example sentence"], padding=True, return_tensors="pt"
    )
    names = [n for n in INPUTS if n in sample]

    class LastHidden(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: Any) -> Any:
            return self.model(**dict(zip(names, args, strict=True))).last_hidden_state

    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    # The tracer warns about Python conditions in the model code it freezes; the shapes that
    # matter (batch, tokens) are dynamic axes, and the tests check the vectors against torch.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHidden(auto),
            tuple(sample[n] for n in names),
            str(tmp / FP32_FILE),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(tmp / TOKENIZER_FILE))
    dim = st.get_embedding_dimension()
    meta = {"model": name, "dim": dim, "max_seq_length": st.max_seq_length, "pooling": mode, "opset": OPSET}
    (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, target)


def quantize(fp32: Path, int8: Path) -> None:
    """int8 weights (7-bit range), one scale per output channel; activations quantized at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = int8.with_name(f"{int8.name}.{os.getpid()}.tmp")
    # It logs a suggestion to pre-process the model first; measured without it: cosine 0.993.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(fp32), str(tmp), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
    os.replace(tmp, int8)


def user_cache_dir() -> Path:
    """The user's ONNX cache (platformdirs' cache directory: ``~/.cache/qa/onnx`` on Linux): one export
    per model, exporter and onnxruntime version for every index on the machine."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("qa", appauthor=False)) / "onnx"


def export_needed(name: str, cache_dir: Path, quantized: bool) -> bool:
    """Whether ``prepare`` would export (or quantize) ``name`` first."""
    return not (Path(cache_dir) / export_key(name) / (INT8_FILE if quantized else FP32_FILE)).exists()


def prepare(name: str, cache_dir: Path, quantized: bool) -> Path:
    """The cache directory of ``name``'s ONNX files, exporting (and quantizing) them if needed."""
    target = Path(cache_dir) / export_key(name)
    wanted = target / (INT8_FILE if quantized else FP32_FILE)
    if wanted.exists():
        return target
    with _file_lock(Path(cache_dir) / f"{target.name}.lock"):
        if not (target / FP32_FILE).exists():
            export(name, target)
        if quantized and not (target / INT8_FILE).exists():
            quantize(target / FP32_FILE, target / INT8_FILE)
    return target


def session(ort: Any, model: Path, threads: int) -> Any:
    """An onnxruntime CPU session for ``model`` with ``threads`` intra-op threads that sleep when idle."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: on a small shared machine spinning only takes
    # cores from the server's other threads.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


class OnnxEmbedder:
    """A sentence-transformers model exported to ONNX and run with onnxruntime."""

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        quantized: bool = False,
        cache_dir: Path | None = None,
        batch_size: int = 32,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.backend = "onnx-int8" if quantized else "onnx"
        # Dynamic int8 quantizes activations with one scale per tensor, so in a batch a text's
        # vector would depend on the other texts (cosine 0.993 with itself alone, measured). One
        # text per run keeps vectors deterministic (the embedding cache relies on it), and was no
        # slower here: sorted, unpadded single runs vs batches of 32 (7.7 vs 6.8 passages/s).
        self.batch_size = 1 if quantized else batch_size
        # So concurrent questions gain nothing from being micro-batched (qa/embed/queries.py): each
        # runs on its own thread instead.
        self.batching_helps = not quantized
        # Bulk int8 embedding: this many one-thread runs at once (0: one per core). A server sets
        # it to 1 for its requests (``QAService.serving``), and ``embed_with`` takes another count.
        self.parallel = (threads or usable_cores()) if quantized else 1
        self._cores = max(self.parallel, usable_cores()) if quantized else 1
        self._executor: ThreadPoolExecutor | None = None
        self.files = prepare(name, cache_dir or user_cache_dir(), quantized)
        meta = json.loads((self.files / META_FILE).read_text())
        self.dim = int(meta["dim"])
        self.pooling = str(meta["pooling"])
        seq = int(meta["max_seq_length"])
        self._tok = Tokenizer.from_file(str(self.files / TOKENIZER_FILE))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=seq)
        # Counting and cutting see the whole text: no truncation, no special tokens.
        self._count = Tokenizer.from_file(str(self.files / TOKENIZER_FILE))
        self._count.no_padding()
        self._count.no_truncation()
        self.max_tokens: int | None = seq - self._tok.num_special_tokens_to_add(False)

        model = self.files / (INT8_FILE if quantized else FP32_FILE)
        self.session = session(ort, model, threads)
        # Small inputs (questions) run on a second session with one thread and no lock: a short
        # text gains nothing from a second thread (5.5 vs 7.7 ms p50 per question at load 4.5),
        # and onnxruntime runs one session from several threads at once, so concurrent questions
        # use every core instead of queueing behind each other.
        self.small_session = session(ort, model, 1)
        self._inputs = [i.name for i in self.session.get_inputs()]
        # One bulk embed at a time: concurrent runs would split the same cores between them.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_with(texts, self.parallel)

    def embed_with(self, texts: Sequence[str], parallel: int) -> np.ndarray:
        """``embed``, int8 bulk embedding with ``parallel`` one-thread runs at once (0: one per
        core). One (``parallel`` 1) runs on the calling thread and takes no lock, like a question:
        a server's requests and its ingestion worker each keep to their own thread."""
        parallel = min(parallel or self._cores, self._cores)
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if not n:
            return out
        encodings = self._tok.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=n)
        order = np.argsort(lengths, kind="stable")
        small = sum(len(t) for t in texts) <= SMALL_INPUT_CHARS
        if small or (self.batch_size == 1 and parallel == 1):
            self._run(self.small_session, order, encodings, lengths, out)
        elif self.batch_size == 1 and n > 1:
            # One text per run (int8): as many one-thread runs at once as there are cores, rather
            # than one run whose two threads meet after every operator (21.4 vs 17.0 passages/s
            # on 2 cores, measured in one process). Each text's vector is the same either way.
            with self._lock:
                pool = self._pool_executor()
                parts = [order[i::parallel] for i in range(parallel)]
                list(pool.map(lambda part: self._run(self.small_session, part, encodings, lengths, out), parts))
        else:
            with self._lock:
                self._run(self.session, order, encodings, lengths, out)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    def _run(self, session: Any, order: np.ndarray, encodings: list[Any], lengths: np.ndarray, out: np.ndarray) -> None:
        """Embed the texts at ``order`` (sorted by length) in batches of ``batch_size`` into ``out``."""
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            width = int(lengths[idx].max())
            feeds = {name: np.zeros((len(idx), width), dtype=np.int64) for name in INPUTS}
            for row, j in enumerate(idx):
                e, m = encodings[j], int(lengths[j])
                feeds["input_ids"][row, :m] = e.ids
                feeds["attention_mask"][row, :m] = e.attention_mask
                feeds["token_type_ids"][row, :m] = e.type_ids
            hidden = session.run(["last_hidden_state"], {k: feeds[k] for k in self._inputs})[0]
            out[idx] = self._pool(hidden, feeds["attention_mask"])

    def _pool_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._cores, thread_name_prefix="qa-embed")
        return self._executor

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pooling == "cls":
            return np.asarray(hidden[:, 0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        return np.asarray((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self._count.encode(text, add_special_tokens=False).ids)

    def truncate(self, text: str, max_tokens: int) -> str:
        offsets = self._count.encode(text, add_special_tokens=False).offsets
        if len(offsets) <= max_tokens:
            return text
        return text[: offsets[max_tokens - 1][1]] if max_tokens > 0 else ""
