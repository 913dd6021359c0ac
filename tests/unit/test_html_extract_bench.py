"""bench.html_extract's scoring: what counts as kept, dropped and code kept as lines."""

from __future__ import annotations

from bench.html_extract import markdown, score

PAGE = {
    "name": "p",
    "keep": ["Return the base name.", "os.path.basename(path)"],
    "code": [[">>> basename('/a/b')", "'b'"]],
    "drop": [{"text": "Previous topic"}, {"text": "basename", "max": 2}],
}
FAMILY = {"drop": [{"text": "¶"}]}


def test_score_counts_keep_drop_and_code_lines() -> None:
    text = "## os.path.basename(path)\n\nReturn the base\nname.\n\n```\n>>> basename('/a/b')\n'b'\n```"
    s = score(text, PAGE, FAMILY)
    assert (s["keep"], s["drop"], s["code"], s["missed"], s["left"]) == (1.0, 1.0, 1.0, [], [])
    # Code run into a paragraph is not kept as lines; navigation and a third "basename" are left.
    text = "os.path.basename(path)¶ Return the base name. >>> basename('/a/b') 'b' Previous topic basename"
    s = score(text, PAGE, FAMILY)
    assert (s["keep"], s["code"]) == (1.0, 0.0)
    assert s["left"] == ["¶", "Previous topic", "basename"] and s["drop"] == 0.0


def test_markdown_report_has_a_row_per_extractor() -> None:
    report = {
        "pages": ["p"],
        "machine": "m",
        "load_average_before": (1.0, 1.0, 1.0),
        "load_average_after": (2.0, 1.0, 1.0),
        "runs": 3,
        "extractors": {
            "qa": {
                "keep": 1.0,
                "drop": 0.5,
                "code": None,
                "pilcrows": 0,
                "pages_per_s": 9.75,
                "per_page": {"p": {"missed": [], "left": ["Previous topic"]}},
            }
        },
    }
    md = markdown(report)
    assert "| qa | 1.00 | 0.50 | - | 0 | 9.8 |" in md and "left `Previous topic`" in md
