"""bench/ocr.py's scoring: its vectorised edit distance is Levenshtein's, on any strings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bench.ocr import edit_distance, score


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i]
        for j, cb in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@given(st.text(alphabet="ab é\u00ad", max_size=14), st.text(alphabet="ab é\u00ad", max_size=14))
def test_edit_distance_is_levenshtein(a: str, b: str) -> None:
    assert edit_distance(a, b) == levenshtein(a, b)


def test_score_ignores_layout_and_ligatures() -> None:
    s = score("The ﬁrst  line\nand the\n\nsecond.", "The first line and the second.")
    assert s["char_accuracy"] == 1.0 and s["word_recall"] == 1.0
    assert score("", "something")["char_accuracy"] == 0.0
