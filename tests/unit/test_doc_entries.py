"""evals.doc_entries' questions: one per term with a single entry among the pages, its gold the
entry's first sentence; tables of contents and prose are not entries (the harness run:
evals/reports/doc-entries.md)."""

from __future__ import annotations

from pathlib import Path

from evals.doc_entries import entries, questions

PAGE = """<html><body><div class="body">
<ul><li><a href="#a">kettle — Boiling water</a><ul><li>boil()</li></ul></li></ul>
<p>The kettle takes these settings:</p>
<ul>
<li><p><strong>steep_time</strong> - How long the tea steeps. In seconds (default: 180).</p></li>
<li><p><code>'boil'</code> - Heats the water to the temperature the tea needs.</p></li>
<li><p>quiet ( bool ) – Turns the whistle off.</p></li>
<li><p>short - Too short.</p></li>
<li><p>A list item that is prose, not an entry of a term.</p></li>
</ul></div></body></html>"""

OTHER = """<html><body><div class="body"><ul>
<li><p>quiet - Turns the alarm off on this page too.</p></li>
<li><p>volume - How loud the whistle is, from 0 to 10.</p></li>
</ul></div></body></html>"""


def test_entries_are_list_items_of_one_term_with_their_first_sentence(tmp_path: Path) -> None:
    page = tmp_path / "kettle.html"
    page.write_text(PAGE, encoding="utf-8")
    assert entries(page) == [
        ("steep_time", "steep_time - How long the tea steeps."),
        ("boil", "'boil' - Heats the water to the temperature the tea needs."),
        ("quiet", "quiet ( bool ) – Turns the whistle off."),
    ]


def test_a_term_with_entries_on_two_pages_is_not_asked(tmp_path: Path) -> None:
    (tmp_path / "kettle.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "alarm.html").write_text(OTHER, encoding="utf-8")
    qs = questions([tmp_path / "kettle.html", tmp_path / "alarm.html"], limit=2)
    assert [(q["question"], q["file"]) for q in qs] == [
        ("What is steep_time?", "kettle.html"),
        ("What is boil?", "kettle.html"),
        ("What is volume?", "alarm.html"),
    ]
    assert qs[2]["gold"] == "volume - How loud the whistle is, from 0 to 10."
