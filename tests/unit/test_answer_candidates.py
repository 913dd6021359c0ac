"""Answer candidates: only prose, list items and table rows; a heading or signature is the context
of the sentence under it, never a candidate itself."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answer import FEATURES, candidates, features, passage_coverage, passage_gap
from qa.language import Analyser
from qa.types import Passage

TEXT = (
    "## os.path.basename(path)\n\nReturn the base name of pathname path. It is the tail.\n\n"
    "```python3\n>>> basename('/foo/bar')\n'bar'\n```\n\n- posixpath for UNIX-style paths\n\n"
    "json.loads(s)\nDeserialize s to a Python object.\n\n| JSON | Python |"
)


def passage(text: str, start: int = 0, chunk_id: int = 1) -> Passage:
    return Passage(chunk_id, "d", "T", text, start, start + len(text), 1.0)


def test_candidates_skip_headings_signatures_and_code_and_keep_their_lead() -> None:
    got = [(c.text, c.lead) for c in candidates([passage(TEXT)])]
    assert got == [
        ("Return the base name of pathname path.", "## os.path.basename(path)"),
        ("It is the tail.", ""),
        ("- posixpath for UNIX-style paths", ""),  # after code: no lead
        ("Deserialize s to a Python object.", "json.loads(s)"),
        ("| JSON | Python |", ""),
    ]


def test_overlapping_passages_give_each_sentence_once() -> None:
    cut = TEXT.index("Return")
    first, second = passage(TEXT[: cut + 60], 0, 1), passage(TEXT[cut:], cut, 2)
    texts = [c.text for c in candidates([first, second])]
    assert texts.count("Return the base name of pathname path.") == 1
    assert texts == [c.text for c in candidates([passage(TEXT)])]


def test_a_plain_text_heading_is_the_lead_of_the_sentence_under_it() -> None:
    text = "ÜBERSICHT\n       cp [OPTION] [-T] QUELLE ZIEL\n\nBESCHREIBUNG\n       Kopieren von QUELLE nach ZIEL."
    got = [(c.text, c.lead) for c in candidates([passage(text)])]
    assert got == [
        ("cp [OPTION] [-T] QUELLE ZIEL", "ÜBERSICHT"),
        ("Kopieren von QUELLE nach ZIEL.", "BESCHREIBUNG"),
    ]


def test_the_question_type_feature_reads_numbers_and_dates_in_other_languages() -> None:
    """ "Wie viele ...?" wants a number: a German sentence that holds one is typed (1), one that does
    not is not (0); a question with no such form stays neutral (0.5), as in English."""
    text = "Die Stadt hat 120.000 Einwohner. Sie liegt am Fluss und hat einen Hafen."
    cands = candidates([Passage(1, "d", "T", text, 0, len(text), 1.0)])
    german = Analyser.of("de")
    typed = FEATURES.index("typed")
    zeros = np.zeros(len(cands))
    rows = features("Wie viele Einwohner hat die Stadt?", cands, zeros, {}, {}, german)
    assert [r[typed] for r in rows] == [1.0, 0.0]
    rows = features("Woran liegt die Stadt?", cands, zeros, {}, {}, german)
    assert [r[typed] for r in rows] == [0.5, 0.5]


def test_passage_coverage_weighs_the_question_terms_the_passages_read_rarely_hold() -> None:
    """The share of the question's terms the chosen passage holds, a term weighted by how few of the
    passages read hold it: a term no passage holds (what an off-topic question is about) weighs most."""
    docs = [
        passage("The build tool creates a clean chroot for each package.", chunk_id=1),
        passage("Packages are uploaded with dput after the build.", chunk_id=2),
        passage("The chroot is updated before every build of a package.", chunk_id=3),
    ]
    on_topic = passage_coverage("Which build tool creates a chroot?", docs, docs[0])
    assert on_topic == 1.0  # every term there
    off_topic = passage_coverage("How tall is the Eiffel tower in the build?", docs, docs[0])
    # "build" is held by every passage and weighs least; "tall", "eiffel", "tower" by none.
    assert 0.0 < off_topic < 0.2
    # Partial: "dput" (one passage) is held only by the second passage.
    assert passage_coverage("When is dput run for a package?", docs, docs[1]) > passage_coverage(
        "When is dput run for a package?", docs, docs[2]
    )
    assert passage_coverage("the of and", docs, docs[0]) == 0.0  # no terms
    assert passage_coverage("Which chroot?", [], docs[0]) == 1.0  # the chosen passage alone


def test_passage_gap_is_how_far_the_closest_passage_stands_above_the_others() -> None:
    assert passage_gap([0.70, 0.90, 0.80]) == pytest.approx(0.90 - 0.75)  # in any order
    assert passage_gap([0.8, 0.8, 0.8]) == 0.0  # all as close: what a question they do not answer sees
    assert passage_gap([0.9]) == 0.0 and passage_gap([]) == 0.0
    # Against the next four closest only: what a k of 5 (the service's default) or 10 retrieves alike.
    assert passage_gap([0.9, 0.8, 0.8, 0.8, 0.8, 0.1, 0.1]) == pytest.approx(0.1)
