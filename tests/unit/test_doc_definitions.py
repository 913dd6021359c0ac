"""The definition questions are read from Sphinx markup: the signature's id and the first sentence
of its description."""

from __future__ import annotations

from pathlib import Path

from evals.doc_definitions import questions
from evals.generated import norm

PAGE = """<html><body><div class="body">
<dl class="py function"><dt class="sig sig-object py" id="textwrap.wrap"><span>textwrap.wrap(text)</span></dt>
<dd><p>Wraps the single paragraph in <em>text</em> (a string), so every line is short. More here.</p></dd></dl>
<dl class="py method"><dt class="sig sig-object py" id="A.b"><span>b()</span></dt><dd><p>Short.</p></dd></dl>
<dl class="py function"><dt>no id</dt><dd><p>Never asked about, as it has no id to name.</p></dd></dl>
</div></body></html>"""


def test_questions_and_gold_come_from_the_markup(tmp_path: Path) -> None:
    page = tmp_path / "textwrap.html"
    page.write_text(PAGE, encoding="utf-8")
    qs = questions(page, limit=10)
    assert [q["question"] for q in qs] == ["What does textwrap.wrap do?"]  # "Short." is too short to judge by
    assert qs[0]["gold"].startswith("Wraps the single paragraph in text") and qs[0]["file"] == "textwrap.html"
    assert norm("in text , and (a string)") == norm("in text, and (a string)")
