"""Short answers: the span of the cited sentence that answers the question's type."""

from __future__ import annotations

import pytest

from qa.span import answer_kind, shortest_span

PARIS = (
    "Last month, Syrian state media reported that Syrian Foreign Minister Assaad al-Shaibani and his Israeli "
    "counterpart Ron Dermer had met in Paris to discuss de-escalation and the situation in the Syrian province "
    "of Sweida."
)


def short(question: str, sentence: str) -> str | None:
    span = shortest_span(question, sentence)
    return None if span is None else sentence[span[0] : span[1]]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who met in Paris?", "name"),
        ("Where was the game played?", "name"),
        ("Which team won the AFC title?", "name"),
        ("When did the war end?", "date"),
        ("In what year was the treaty signed?", "date"),
        ("How many airstrikes were there?", "number"),
        ("What percentage of voters agreed?", "number"),
        ("Why did they meet?", None),
        ("What did they discuss?", None),
    ],
)
def test_answer_kind(question: str, kind: str | None) -> None:
    assert answer_kind(question) == kind


def test_who_gives_the_coordinated_names_and_skips_what_the_question_says() -> None:
    assert short("Who met in Paris?", PARIS) == (
        "Syrian Foreign Minister Assaad al-Shaibani and his Israeli counterpart Ron Dermer"
    )


def test_acronym_of_a_question_word_is_not_the_answer() -> None:
    sentence = (
        "The American Football Conference (AFC) champion Denver Broncos defeated the National Football "
        "Conference (NFC) champion Carolina Panthers 24–10."
    )
    assert short("Which NFL team represented the AFC at Super Bowl 50?", sentence) == "Denver Broncos"


def test_dates_and_numbers() -> None:
    s = "When forces toppled the regime on Dec. 8, Israel deployed troops in the buffer zone."
    assert short("When did Israel deploy troops?", s) == "Dec. 8"
    assert short("In what year did it open?", "The bridge opened to traffic in 1937 after four years.") == "1937"
    assert short("How many airstrikes has Israel carried out?", "Israel has carried out hundreds of airstrikes.") == (
        "hundreds"
    )
    got = short("How many people live there?", "About 3.5 million people live in the city.")
    assert got is not None and got.startswith("3.5 million")


def test_no_span_without_a_clear_type_or_a_candidate() -> None:
    assert short("Why did they meet?", PARIS) is None
    assert short("When did they meet?", "They met to discuss the border.") is None
    # Every name in the sentence is already in the question: nothing new to answer with.
    assert short("Who is Ron Dermer?", "Ron Dermer spoke.") is None


@pytest.mark.parametrize(
    ("question", "sentence", "span"),
    [
        (
            "Which function copies the permission bits?",
            "shutil.copymode() copies the permission bits.",
            "shutil.copymode()",
        ),
        ("Which option prints the version?", "Use -V to print the version and exit.", "-V"),
        ("What option makes the output verbose?", "The --verbose flag makes the output verbose.", "--verbose"),
        (
            "Which environment variable sets the search path?",
            "LD_LIBRARY_PATH augments the search path.",
            "LD_LIBRARY_PATH",
        ),
        (
            "Which class holds the counts?",
            "A Counter holds counts; see `collections.Counter`.",
            "`collections.Counter`",
        ),
        ("What is the default buffer size?", "The default is 8192 bytes, unless set.", "8192"),
        ("What is the default of strict?", "If strict is given, it defaults to True.", "True"),
    ],
)
def test_names_and_defaults_of_technical_questions(question: str, sentence: str, span: str) -> None:
    got = shortest_span(question, sentence)
    assert got is not None
    assert sentence[got[0] : got[1]] == span


def test_no_identifier_in_plain_prose() -> None:
    assert shortest_span("Which function copies files?", "It copies the files one by one.") is None


def test_identifiers_are_not_abbreviations_and_may_start_with_an_acronym() -> None:
    q = "What exception does json.loads raise?"
    s = "It is allowed (e.g. for surrogates), but a JSONDecodeError is raised by json.loads."
    got = shortest_span(q, s)
    assert got is not None and s[got[0] : got[1]] == "JSONDecodeError"
    assert shortest_span(q, "Use e.g. this one, i.e. the first.") is None


def test_a_short_answer_does_not_repeat_what_the_question_says() -> None:
    cases = [
        # the noun the question counts is not part of the count; a unit the question lacks is
        ("How many legions did the Romans keep?", "The Romans kept eight legions on the river.", "eight"),
        ("How many people were registered?", "By then 40,000 people had registered.", "40,000"),
        ("How long is the river?", "The river is 200 kilometres long.", "200 kilometres"),
        # a year the question gives is not the count it asks for
        ("By August 2010 how many schools were open?", "In August 2010, 1,548 schools were open.", "1,548"),
        # a name joined to the question's own words answers with the name alone
        (
            "Who is the current Premier of Victoria?",
            "The current Premier of Victoria is Daniel Andrews.",
            "Daniel Andrews",
        ),
        # a sentence's first word is capitalized for being first, not for being a name
        ("What city is the sporting capital?", "Culturally, Melbourne is the sporting capital.", "Melbourne"),
    ]
    for question, sentence, expected in cases:
        span = shortest_span(question, sentence)
        assert span is not None and sentence[span[0] : span[1]] == expected, (question, span)


def test_names_are_not_a_sentences_first_word_alone_nor_possessive() -> None:
    # capitalized for being first: "Based", "Many" are no names
    assert short("Who built the wall?", "Based on old plans, the wall was built by masons.") is None
    assert short("Whose theory was continental drift?", "It was Alfred Wegener's theory.") == "Alfred Wegener"
    # an adverb after a number is not its unit
    assert short("How many lines were government owned?", "There were five formerly government owned lines.") == "five"
