"""Option questions are read from a formatted man page: the option line and the description."""

from __future__ import annotations

from evals.man_options import questions

PAGE = """SORT(1)                          User Commands                         SORT(1)

DESCRIPTION
       -b, --ignore-leading-blanks
              ignore leading blanks

       -n     compare according to string numerical value

       -x
              short
"""


def test_questions_and_gold_come_from_the_page() -> None:
    qs = questions("sort", PAGE, limit=10)
    assert [(q["question"], q["gold"]) for q in qs] == [
        ("What does sort -b do?", "ignore leading blanks"),
        ("What does sort -n do?", "compare according to string numerical value"),
    ]


CONVERSIONS = """STAT(1)                          User Commands                         STAT(1)

       The valid format sequences for files:

       %a     permission bits in octal

       -printf format
              %b     the amount of disk space used, in blocks
              %Ak    the access time in the format given by k
       %z     short
"""


def test_conversion_questions_and_gold_come_from_the_page() -> None:
    from evals.man_options import CONVERSION_LINE

    qs = questions("stat", CONVERSIONS, limit=10, entry=CONVERSION_LINE)
    assert [(q["question"], q["gold"]) for q in qs] == [
        ("What does stat %a do?", "permission bits in octal"),
        ("What does stat %b do?", "the amount of disk space used, in blocks"),
    ]
    assert questions("stat", CONVERSIONS, limit=10) == []  # no option lines
