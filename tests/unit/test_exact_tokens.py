"""Exact tokens (``qa.terms.exact_tokens``): the tokens whose case or leading punctuation carries
meaning, which the lower-casing analyser makes one word ("-v" and "-V"), and how the second stage
matches them (``qa.terms.case_checked``)."""

from __future__ import annotations

import pytest

from qa.rerank import SentenceEvidenceReranker, sentence_evidence
from qa.terms import case_checked, case_variants, confusable_tokens, exact_tokens, question_evidence
from qa.types import Passage


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("What does -V do?", ["-V"]),
        ("ls -l vs ls -L, and ls -1", ["-l", "-L", "-1"]),
        ("--color=auto --dry-run -Wall -O2 (-v) [-x] '-q'", ["--color", "--dry-run", "-Wall", "-O2", "-v", "-x", "-q"]),
        ("%d vs %D, %-5s %.2f %lu", ["%d", "%D", "%-5s", "%.2f", "%lu"]),
        ("vitamin C, option V and x = 3", ["C", "V", "x"]),
        ("PATH HashMap getElementById mRNA IgG DNA", ["PATH", "HashMap", "getElementById", "mRNA", "IgG", "DNA"]),
        # Not exact tokens: words inside hyphenated words, negative numbers, percentages, dashes,
        # the article, the pronoun, initials, abbreviations, contractions and capitalised words.
        ("x-ray well-known T-cell -5.2 -12 50% of -- --- a dog, A dog, How do I, J. M. Barrie", []),
        ("e.g. U.S. it's Paris The", []),
    ],
)
def test_exact_tokens(text: str, tokens: list[str]) -> None:
    assert exact_tokens(text) == tokens


def test_exact_tokens_keep_order_and_repeats() -> None:
    assert exact_tokens("-v then -V then -v") == ["-v", "-V", "-v"]


@pytest.mark.parametrize(
    ("token", "variants"),
    [("-V", ["-v"]), ("%D", ["%d"]), ("x", ["X"]), ("mRNA", ["MRNA"]), ("NFL", []), ("PATH", []), ("US", [])],
)
def test_case_variants_are_the_spellings_lower_casing_confuses(token: str, variants: list[str]) -> None:
    assert case_variants(token) == variants


def test_the_second_stage_matches_only_tokens_that_case_can_confuse() -> None:
    assert confusable_tokens("What does -V do with NFL and PATH?") == ["-V"]
    assert confusable_tokens("Who met in Paris?") == []
    # A stop word's option counts as written; other options through their word.
    assert question_evidence("What does grep -i do?", ["-i"]) == {"grep", "-i"}
    assert question_evidence("What does -V do?", ["-V"]) == {"v"}
    ((words, exact),) = sentence_evidence("The -v option prints names.")
    assert exact == {"-v"} and "v" in words
    assert "v" not in case_checked(words, exact, ["-V"])  # spelt another way: not the word asked about
    assert "v" in case_checked(words, exact, ["-v"]) and "v" in case_checked(words, exact, [])
    ((words, exact),) = sentence_evidence("Both -v and -V exist.")
    assert "v" in case_checked(words, exact, ["-V"])


def test_the_second_stage_prefers_the_sentence_with_the_token_as_written() -> None:
    ps = [
        Passage(1, "a", "arcs", "-v, --verbose: print the name of every file.", 0, 45, 1.0),
        Passage(2, "a", "arcs", "-V, --version: print the version number.", 100, 141, 0.9),
        Passage(3, "b", "other", "Nothing about options here.", 0, 27, 0.0),
    ]
    out = SentenceEvidenceReranker().rerank("What does -V do?", ps)
    assert [p.chunk_id for p in out] == [2, 1, 3]
    out = SentenceEvidenceReranker().rerank("What does -v do?", ps)
    assert [p.chunk_id for p in out] == [1, 2, 3]
