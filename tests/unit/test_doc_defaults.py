"""The default-value questions are read from Sphinx markup: an attribute's id, and the sentence after
the first that states its default; an entry whose first sentence states it is left out."""

from __future__ import annotations

from pathlib import Path

from evals.doc_defaults import pages_with_questions, questions

PAGE = """<html><body><div class="body">
<dl class="py attribute"><dt class="sig sig-object py" id="csv.Dialect.delimiter"><span>delimiter</span></dt>
<dd><p>A one-character string used to separate fields. It defaults to <code>','</code> .</p></dd></dl>
<dl class="py data"><dt class="sig sig-object py" id="mod.LIMIT"><span>LIMIT</span></dt>
<dd><p>The default limit is 8. It can be changed.</p></dd></dl>
<dl class="py attribute"><dt class="sig sig-object py" id="mod.A.mode"><span>mode</span></dt>
<dd><p>The file mode. It is used on open. This is relevant when the default opener is used.</p></dd></dl>
<dl class="py function"><dt class="sig sig-object py" id="mod.f"><span>f()</span></dt>
<dd><p>Does things. It defaults to 3.</p></dd></dl>
</div></body></html>"""


def test_questions_and_gold_come_from_the_markup(tmp_path: Path) -> None:
    page = tmp_path / "csv.html"
    page.write_text(PAGE, encoding="utf-8")
    assert questions(page) == [
        {
            "question": "What is the default value of csv.Dialect.delimiter?",
            "gold": "It defaults to ',' .",
            "file": "csv.html",
        }
    ]  # LIMIT states it first; mode's sentence mentions a default but states none; f is a function
    (tmp_path / "empty.html").write_text("<html><body></body></html>", encoding="utf-8")
    assert pages_with_questions(tmp_path) == ["csv"]
