"""Short answers: the span of the cited sentence that answers the question's type."""

from __future__ import annotations

import math

import pytest

from qa.span import (
    CONFIDENCE_FEATURES,
    CONFIDENCE_WEIGHTS,
    MIN_CONFIDENCE,
    MIN_MARGIN,
    answer_kind,
    choose_span,
    confidence,
    confidence_features,
    holds_typed_span,
    near_tie,
    short_answer,
    short_candidate,
    shortest_span,
)

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
        ("Which constant selects ZIP compression?", "identifier"),
        ("Which context manager suppresses exceptions?", "identifier"),
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


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # a year is not the tail of a longer number, nor the whole part of a decimal
        ("When did the glacial end?", "It ended about 13,000 BP, as the ice thawed.", "13,000 BP"),
        ("When was the Holocene?", "At the start of the Holocene (~11,700 years ago), it rose.", "11,700 years ago"),
        ("When was the record set?", "It reached 48.8 °C (119.8 °F) on 7 February 2009.", "7 February 2009"),
        # an era stays with its century
        (
            "What century did the name come from?",
            "It was adapted in Roman-era geography (1st century BC).",
            "1st century BC",
        ),
        # a number glued to letters by a hyphen is a code, not a year
        ("When did the launches occur?", "Five launches (AS-101 through AS-105) went up in 1964.", "1964"),
        # a range is one answer
        ("When did Watt develop his engine?", "James Watt developed (1763–1775) an improved engine.", "1763–1775"),
        ("How many species have been validated?", "Only 100–150 species have been validated.", "100–150"),
        # "what year" is answered by the year alone, "when" by the whole date
        ("What year was the bus station opened?", "The new bus station was opened in March 2007.", "2007"),
        ("When was the bus station opened?", "The new bus station was opened in March 2007.", "March 2007"),
    ],
)
def test_date_and_range_boundaries(question: str, sentence: str, expected: str) -> None:
    assert short(question, sentence) == expected


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # an amount with its suffix and its unit, however short the unit
        ("How much did BSkyB pay?", "BSkyB paid £304m for the rights.", "£304m"),
        ("How high is the peak?", "The peak rises to 1,986 m (6,516 ft) above the sea.", "1,986 m"),
        ("How much water does the Aare give?", "It gives an average of 1,000 m3/s to the river.", "1,000 m3/s"),
        # "how many" counts: the number alone, not the adjective that follows it
        ("How many academic units make up the school?", "It has eleven separate academic units.", "eleven"),
        # a conversion in parentheses is not the answer the sentence gives first
        ("How far did the sea level drop?", "The sea level dropped 120 m (390 ft) then.", "120 m"),
    ],
)
def test_number_boundaries(question: str, sentence: str, expected: str) -> None:
    assert short(question, sentence) == expected


def test_names_start_at_the_name() -> None:
    # no leading space, year or preposition before the name; an era or an ordinal is no name
    assert short("Who stated the length?", "In 1932 the encyclopedia Knaurs Lexikon stated the length.") == (
        "Knaurs Lexikon"
    )
    got = short(
        "Which country had a northern fortress?", "Throughout the Middle Ages, it was England's northern fortress."
    )
    assert got == "England"
    sentence = "Diocles of Carystus (4th century BC) was one of several men studying medicinal plants."
    assert short("Who studied medicinal plants?", sentence) == "Diocles of Carystus"


def test_the_candidate_nearest_most_of_the_question_wins() -> None:
    # each candidate is as near one of the question's words ("seats"); the others decide
    sentence = "By 1900 the club had 37 members in London, and 12 members in the Paris branch it had opened."
    assert short("How many members did the club have in London by 1900?", sentence) == "37"
    assert short("How many members were in the Paris branch?", sentence) == "12"


SURE = (
    "In what year did the bridge open to traffic?",
    "The bridge opened to traffic in 1937 after four years of work.",
)
TIED = (
    "How many seats does Victoria have in the Senate?",
    "Victoria has 37 seats in the House of Representatives and 12 seats in the Senate.",
)


def test_a_sure_short_answer_is_shown() -> None:
    question, sentence = SURE
    choice = choose_span(question, sentence)
    assert choice is not None and choice.rivals == 0
    assert confidence(choice, 0.6) >= MIN_CONFIDENCE
    got = short_answer(question, sentence, 0.6)
    assert got is not None and sentence[got[0] : got[1]] == "1937"


def test_confidence_grows_with_the_sentences_evidence() -> None:
    choice = choose_span(*SURE)
    assert choice is not None
    assert confidence(choice, 0.3) < confidence(choice, 0.6) < confidence(choice, 0.9) < 1.0


def test_a_near_tie_between_candidates_is_not_shown() -> None:
    question, sentence = TIED
    choice = choose_span(question, sentence)
    # a span is found (and the sentence still counts as holding one), but the question's words are
    # about as near another number: no short answer rather than a guess
    assert choice is not None and choice.rivals == 1 and choice.margin < MIN_MARGIN
    assert holds_typed_span(question, sentence)
    assert short_answer(question, sentence, 0.9) is None


def test_a_weakly_supported_ambiguous_span_is_not_shown() -> None:
    question = "Who founded the school?"
    sentence = "Founded in Boston, the school was later moved by John Smith to New York City by Mary Jones."
    choice = choose_span(question, sentence)
    assert choice is not None and choice.rivals >= 1
    # a sentence that barely answers the question, with other names in it: its name is a guess
    assert confidence(choice, 0.2) < MIN_CONFIDENCE
    assert short_answer(question, sentence, 0.2) is None


def test_code_names_and_defaults_are_shown_whatever_the_evidence() -> None:
    question, sentence = "Which option prints the version?", "Use -V to print the version and exit."
    got = short_answer(question, sentence, 0.0)
    assert got is not None and sentence[got[0] : got[1]] == "-V"
    assert short_answer("Why did they meet?", PARIS, 1.0) is None


def test_the_answer_sentence_feature_keeps_the_rules_it_was_fitted_with() -> None:
    # "000" of "74,000" was a date to the rules the answer weights were fitted with; the short answer
    # no longer takes it, but the feature that chooses the sentence still counts it, so that better
    # short answers move no answer sentence.
    question, sentence = "When did the glacial start?", "The glacial ran from ~74,000 (before present)."
    assert shortest_span(question, sentence) is None
    assert holds_typed_span(question, sentence)
    assert not holds_typed_span("Why did it start?", sentence)


def test_short_candidate_gives_the_span_and_what_its_confidence_weighs() -> None:
    question, sentence = SURE
    got = short_candidate(question, sentence, 0.6)
    assert got is not None
    choice, features = got
    assert (choice.start, choice.end) == short_answer(question, sentence, 0.6)
    assert len(features) == len(CONFIDENCE_FEATURES) and features[:2] == (1.0, 0.6)
    assert features == confidence_features(choice, 0.6)
    z = sum(w * v for w, v in zip(CONFIDENCE_WEIGHTS, features, strict=True))
    assert confidence(choice, 0.6) == pytest.approx(1 / (1 + math.exp(-z)))
    tied = short_candidate(*TIED, 0.9)
    assert tied is not None and near_tie(tied[0]) and not near_tie(choice)
    # code names and defaults are not gated, so they have no candidate to weigh
    assert short_candidate("Which option prints the version?", "Use -V to print the version and exit.", 0.5) is None


@pytest.mark.parametrize(
    ("sentence", "value"),
    [
        ("The default is (', ', ': ') if indent is None and (',', ': ') otherwise.", "(', ', ': ')"),
        ("It defaults to [1, 2] when nothing is given.", "[1, 2]"),
        ("The default is 70.", "70"),
        ("The default is ( or so.", None),  # punctuation alone is no value
        ("None (the default) selects the most compact representation.", "None"),
        ("Use strict=True (default) to refuse it; the default is 3 retries.", "True"),
    ],
)
def test_a_default_value_is_taken_whole_and_is_never_punctuation_alone(sentence: str, value: str | None) -> None:
    got = shortest_span("What is the default value of it?", sentence)
    assert (sentence[got[0] : got[1]] if got else None) == value
