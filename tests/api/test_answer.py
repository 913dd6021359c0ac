"""The answerer's sentence-vector cache and feature rows, with the real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.answer import FEATURES, ExtractiveAnswerer, SentenceVectors
from qa.embed import Embedder
from qa.types import Passage


class Counting:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.texts = inner, 0
        self.dim, self.name, self.max_tokens = inner.dim, inner.name, inner.max_tokens

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def test_sentence_vectors_are_cached_and_equal_to_fresh_ones(embedder: Embedder) -> None:
    counting = Counting(embedder)
    cache = SentenceVectors(counting, size=3)  # type: ignore[arg-type]
    texts = ["Ron Dermer met al-Shaibani.", "They met in Paris.", "They met in Paris."]
    first = cache.embed(texts)
    assert counting.texts == 2  # the repeated sentence is embedded once
    again = cache.embed(texts[:2])
    assert counting.texts == 2 and np.allclose(again, first[:2])
    assert np.allclose(first, embedder.embed(texts), atol=1e-5)
    cache.embed(["a", "b", "c"])  # evicts the two oldest
    cache.embed(texts[:1])
    assert counting.texts == 6


def test_feature_rows_and_not_found(embedder: Embedder) -> None:
    text = "The kiln fires at 1200 degrees. Glaze melts into glass at that heat. Potters sell mugs."
    p = Passage(1, "kiln", "Kilns", text, 0, len(text), 1.0)
    answerer = ExtractiveAnswerer(embedder)
    cands, rows = answerer.score("At what temperature does the kiln fire?", [p])
    assert rows.shape == (3, len(FEATURES)) and len(cands) == 3
    assert rows[0, FEATURES.index("coverage")] > rows[2, FEATURES.index("coverage")]
    a = answerer.answer("At what temperature does the kiln fire?", [p])
    assert a.found and a.answer == "The kiln fires at 1200 degrees." and a.citations[0].quote == a.answer
    assert not answerer.answer("Who painted the Mona Lisa?", [p]).found


def test_the_sentence_under_a_signature_is_about_what_the_signature_names(make_service) -> None:  # type: ignore[no-untyped-def]
    from qa.types import Document

    text = (
        "# textwrap\n\nThe module provides some convenience functions.\n\n"
        "## textwrap.wrap(text, width=70)\n\nBreaks the single paragraph into lines of at most width "
        "characters, and returns a list of output lines.\n\nSee the TextWrapper.wrap() method for "
        "additional details on how wrap() behaves.\n\n## textwrap.dedent(text)\n\nRemove any common leading whitespace."
    )
    svc = make_service("signatures")
    svc.add_documents([Document(id="tw", title="textwrap", text=text)])
    ans = svc.ask("What does textwrap.wrap do?")
    assert ans.found
    assert ans.citations[0].quote.startswith("Breaks the single paragraph")
    c = ans.citations[0]
    assert text[c.start : c.end] == c.quote


def test_what_does_name_do_is_answered_under_that_names_own_signature(make_service) -> None:  # type: ignore[no-untyped-def]
    from qa.answer import defines
    from qa.types import Document

    assert defines("### bisect.bisect_left(a, x)", "What does bisect.bisect_left do?")
    assert not defines("### bisect.bisect_right(a, x)", "What does bisect.bisect_left do?")
    assert defines("#### format(format_string, /, *args)", "What does string.Formatter.format do?")
    assert defines("### textwrap.wrap(text)", "What does wrap() do?")
    assert not defines("## Introduction", "What does textwrap.wrap do?")
    assert not defines("### bisect.bisect_left(a, x)", "Who won the match?")

    text = (
        "## bisect.bisect_left(a, x)\n\nLocate the insertion point for x in a to maintain sorted order.\n\n"
        "## bisect.bisect_right(a, x)\n\nSimilar to bisect_left(), but returns an insertion point after "
        "any existing entries of x in a.\n\n## Notes\n\nRaises an auditing event bisect.bisect_left with a."
    )
    svc = make_service("own-signature")
    svc.add_documents([Document(id="bisect", title="bisect", text=text)])
    ans = svc.ask("What does bisect.bisect_left do?")
    assert ans.found and ans.citations[0].quote == "Locate the insertion point for x in a to maintain sorted order."
    # What a function returns is said in its own first sentence, not in a remark elsewhere.
    json_text = (
        "## json.dumps(obj, *, skipkeys=False)\n\nSerialize obj to a JSON formatted str using this conversion "
        "table.\n\n## Notes\n\nWhat json.dumps returns for a dict with non-string keys differs: loads(dumps(x)) "
        "!= x if x has non-string keys.\n\n## json.loads(s)\n\nDeserialize s to a Python object."
    )
    svc.add_documents([Document(id="json", title="json", text=json_text)])
    ans = svc.ask("What does json.dumps return?")
    assert ans.found and ans.citations[0].quote == "Serialize obj to a JSON formatted str using this conversion table."


def test_an_options_own_entry_answers_what_the_option_does(make_service) -> None:  # type: ignore[no-untyped-def]
    from qa.answer import is_option_entry

    assert is_option_entry("  -S     sort by file size", ["-S"])
    assert not is_option_entry("-s, --size  print the size", ["-S"])  # case matters
    assert not is_option_entry("--sort=WORD  sort by WORD", ["-s"])
    assert is_option_entry("-v, --invert-match\n   Invert the sense of matching.", ["-v"])

    text = (
        "LS(1)                      User Commands                      LS(1)\n\nSYNOPSIS\n       ls [OPTION]... "
        "[FILE]...\n\nDESCRIPTION\n       -a, --all\n              do not ignore entries starting with .\n\n"
        "       -S     sort by file size, largest first\n\n       -s, --size\n              print the "
        "allocated size of each file, in blocks\n\n       With -l, -S sorts by the size column as well.\n"
    )
    _answered_from_entries(
        make_service("options"), "ls", text, (("What does ls -S do?", "-S"), ("What does ls -s do?", "-s, --size"))
    )


def _answered_from_entries(svc, command: str, text: str, asked: tuple[tuple[str, str], ...]) -> None:  # type: ignore[no-untyped-def]
    """Each question of ``asked`` over ``command``'s page ``text`` cites a sentence that starts as given."""
    from qa.types import Document

    svc.add_documents([Document(id=f"{command}.1.txt", title=command, text=text)])
    for question, start in asked:
        ans = svc.ask(question)
        assert ans.found and ans.citations[0].quote.startswith(start), (question, ans.citations[0].quote)


def test_a_format_conversions_own_entry_answers_what_it_does(make_service) -> None:  # type: ignore[no-untyped-def]
    from qa.answer import is_option_entry

    assert is_option_entry("%K     the kettle's temperature", ["%K"])
    assert not is_option_entry("%k     the kettle's name", ["%K"])  # case matters
    assert not is_option_entry("%Kx    the kettle's temperature in the unit x", ["%K"])

    text = (
        "BREW(1)                    User Commands                    BREW(1)\n\nDESCRIPTION\n       Print "
        "what the kettle reports, in the given FORMAT.\n\n       The valid format sequences are:\n\n"
        "       %k     the kettle's name as set by the owner\n\n       %K     the water temperature in "
        "degrees Celsius\n\n       %t     the time the tea has steeped, in seconds\n\n       A sequence "
        "such as %K or %k is replaced by the kettle's report, and %t counts from the moment the tea goes in.\n"
    )
    asked = (("What does brew %K do?", "%K"), ("What does brew %k do?", "%k"), ("What does %t mean?", "%t"))
    _answered_from_entries(make_service("conversions"), "brew", text, asked)


def test_a_terms_own_entry_in_a_definition_list_answers_what_it_is(make_service) -> None:  # type: ignore[no-untyped-def]
    from qa.answer import is_term_entry

    assert is_term_entry("steep_time - How long the tea steeps, in seconds.", "What is steep_time?")
    assert is_term_entry("'boil' - Heats the water to 100 degrees.", "What does the boil action do?")
    assert is_term_entry("kettle ( str ) – The kettle's name.", "What is kettle?")  # a parameter's type
    assert is_term_entry("greentea 'Green tea mode': Stops at 80 degrees.", "What does the greentea option do?")
    assert not is_term_entry("steep_time is read at the start.", "What is steep_time?")  # prose, no entry
    assert not is_term_entry("Steep_time - How long.", "What is steep_time?")  # as the question writes it
    assert not is_term_entry("What - a question word.", "What is What?")  # not a question word
    assert not is_term_entry("boil - Heats the water.", "What does steep_time do?")  # another term
    # A PDF's description list, its bold lost: a lowercase term, then the description's capital.
    assert is_term_entry("hold (default) Keep the peak temperature.", "What does the hold option do?")
    assert is_term_entry("vent Open the vent when it cools.", "What is vent?")
    assert not is_term_entry("Victoria Beckham sang.", "What is Victoria?")  # a name, not an entry

    text = (
        "Brewing settings\n\nThe kettle reads these settings when it starts. A long steep_time makes strong "
        "tea, and the boil action is how every brew begins.\n\n"
        "- steep_time - How long the tea steeps, in seconds (default: 180).\n"
        "- boil - Heats the water to the temperature the tea needs.\n"
        "- quiet - Turns the whistle off.\n"
        "- volume - How loud the whistle is. (default: 5)\n\n"
        "When steep_time ends, the kettle whistles unless quiet is set.\n"
    )
    asked = (
        ("What is steep_time?", "- steep_time - How long"),
        ("What does the boil action do?", "- boil - Heats"),
        ("What is the default value of steep_time?", "- steep_time - How long"),
    )
    svc = make_service("term-entries")
    _answered_from_entries(svc, "brewing", text, asked)
    # A default stated after the entry's description is cited with it.
    ans = svc.ask("What is the default value of volume?")
    assert [c.quote for c in ans.citations] == ["- volume - How loud the whistle is.", "(default: 5)"]
    # A question about an option is answered from the option's entry, not from the command's own line.
    page = (
        "BREW(1)\n\nNAME\n       brew - make tea from the command line\n\nOPTIONS\n"
        "       -q     quiet: do not whistle when the tea is ready\n\n       -s     strong: steep twice as long\n"
    )
    _answered_from_entries(svc, "brew", page, (("What does brew -q do?", "-q"), ("What is brew?", "brew - make")))


def test_only_a_question_of_what_something_is_or_does_goes_to_its_definition() -> None:
    from qa.answer import asks_definition

    for q in (
        "What does textwrap.wrap do?",
        "What does ls -S do?",
        "What is shutil.rmtree?",
        "What does -V mean?",
        "What does the function textwrap.wrap do?",
        "What is heapq.heappush for?",
        "What does json.dumps return?",
    ):
        assert asks_definition(q), q
    for q in (
        "What exception does json.loads raise?",
        "What is the default maxsize of functools.lru_cache?",
        "What does the indent parameter of json.dump do?",
        "Which option makes grep stop?",
        "What does json.loads return for a JSON array?",
    ):
        assert not asks_definition(q), q


def test_only_the_best_sentences_under_the_other_features_are_embedded(embedder: Embedder) -> None:
    """``embed_sentences`` reads the candidates the other features rank first; the chosen sentence's
    evidence is always its own cosine (re-read when an estimate won), never an estimate."""
    text = (Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "paris_article.txt").read_text()
    passages = [
        Passage(i, f"d{i}", "Paris", text[s : s + 900], s, min(s + 900, len(text)), 1.0 - i / 10)
        for i, s in enumerate(range(0, min(len(text), 4500), 900))
    ]
    questions = ["Who met in Paris?", "What did the talks aim at?", "Where did the meeting take place?"]
    everything, few = Counting(embedder), Counting(embedder)
    full = ExtractiveAnswerer(everything, cache_size=0)  # type: ignore[arg-type]
    pruned = ExtractiveAnswerer(few, cache_size=0, embed_sentences=2)  # type: ignore[arg-type]
    stored = dict(zip((p.chunk_id for p in passages), embedder.embed([p.text for p in passages]), strict=True))
    checked = 0
    for q in questions:
        cands, rows = full.score(q, passages, None, stored)
        assert len(cands) > 2
        a = pruned.answer(q, passages, None, stored)
        chosen = (
            next(i for i, c in enumerate(cands) if c.passage.start + c.start == a.citations[0].start)
            if a.found
            else None
        )
        if chosen is not None:
            exact = (rows[chosen, 0] + rows[chosen, 1]) / 2
            assert a.signals is not None and abs(a.signals.evidence - exact) < 1e-5
            # No calibration given: the score is the evidence itself.
            assert a.score == a.signals.evidence
            checked += 1
    assert checked >= 2 and 0 < few.texts < everything.texts
