"""Conversation: follow-up rewriting (pure logic), then POST /v1/chat as JSON and as server-sent
events, over the real model, index and HTTP semantics (TestClient)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from qa.api import create_app
from qa.api.sse import pieces
from qa.chat import Turn, answer_text, is_follow_up, names, resolve
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import IndexCorrupt, InvalidInput, TooLarge
from qa.retrieve import Retriever
from qa.service import QAService

from ..conftest import EXAMPLES
from ..live_server import LOCAL

PARIS = "Who met in Paris?"
PARIS_ANSWER = (
    "Syrian Foreign Minister Assaad al-Shaibani and Israeli minister Ron Dermer met in Paris in August 2025 "
    "to discuss de-escalation in southern Syria and the situation in the province of Sweida."
)
# Talks about "they" discussing things, so a follow-up searched as asked could land here.
DISTRACTOR = {
    "id": "garden-club.txt",
    "title": "Garden club minutes",
    "text": "Minutes of the garden club meeting. The members met on Tuesday. They discussed what they would "
    "plant in spring and the new compost bins, and they talked about the watering rota.",
}


def user(text: str) -> Turn:
    return Turn("user", text)


# -- rewriting: pure logic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "question", ["What did they discuss?", "And in 2024?", "Why?", "What about Sweida?", "Where is it?", "Tell me more"]
)
def test_follow_ups_are_recognised(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question", ["What is BM25?", "How does a sourdough starter work?", "Who met in Paris?", "Which planet is largest?"]
)
def test_standalone_questions_are_not_follow_ups(question: str) -> None:
    assert not is_follow_up(question)


FOLLOW_UPS = [
    ("de", "Und wann öffnet es?"),
    ("de", "Wie viel kostet sie?"),
    ("de", "Was ist mit dem Museum?"),
    ("es", "¿Y cuánto cuesta?"),
    ("es", "¿Dónde está ella?"),
    ("fr", "Et en 2024 ?"),
    ("fr", "Combien coûte-t-elle ?"),
    ("ru", "А когда он открылся?"),
    ("zh", "它是什么时候开放的？"),
    ("zh", "那德国呢？"),
    ("ar", "ماذا عن دمشق؟"),
    ("hi", "और उसका दाम क्या है?"),
]
STANDALONE = [
    ("de", "Wann wurde die Stadtbibliothek eröffnet?"),
    ("de", "Gibt es ein Café in der Bibliothek?"),
    ("es", "¿Cuánto cuesta la entrada al museo?"),
    ("fr", "Qu'est-ce que la photosynthèse ?"),
    ("ru", "Когда был основан Санкт-Петербург?"),
    ("zh", "加密文件系统的配置存放在哪里？"),
    ("ar", "ما هي عاصمة سوريا؟"),
    ("hi", "भारत की राजधानी क्या है?"),
]


@pytest.mark.parametrize(("language", "question"), FOLLOW_UPS)
def test_follow_ups_are_recognised_in_the_questions_language(language: str, question: str) -> None:
    assert is_follow_up(question, language)


@pytest.mark.parametrize(("language", "question"), STANDALONE)
def test_standalone_questions_in_other_languages_are_not_follow_ups(language: str, question: str) -> None:
    assert not is_follow_up(question, language)


def test_a_language_without_lists_is_read_with_englishs() -> None:
    assert is_follow_up("What about it?", "th") and not is_follow_up("What is BM25?", "th")


def test_the_conversations_language_names_the_lists_a_follow_up_is_read_with() -> None:
    from qa.langid import conversation_language

    german = ["Wann wurde die Stadtbibliothek am Hafen eröffnet?", "Und wie viele Bücher besitzt sie heute?"]
    assert conversation_language(german, "de") == "de"
    assert conversation_language(german, "multilingual") == "de"
    assert conversation_language(german, "en") == "de"  # German questions of an English collection
    assert conversation_language(["Und dort?"], "de") == "de"  # too short to tell: the collection's
    assert conversation_language([], "multilingual") == "en"


def test_first_question_is_searched_as_asked() -> None:
    r = resolve([user("  What did they discuss? ")], max_chars=2000)
    assert (r.question, r.query, r.rewritten) == ("What did they discuss?", "What did they discuss?", False)


def test_follow_up_is_rewritten_with_topic_and_names_from_the_answer() -> None:
    turns = [user(PARIS), Turn("assistant", PARIS_ANSWER), user("What did they discuss?")]
    r = resolve(turns, max_chars=2000)
    assert r.rewritten and r.question == "What did they discuss?"
    assert r.query.startswith("What did they discuss? (Who met in Paris?")
    for name in ("al-Shaibani", "Dermer", "Paris", "2025"):
        assert name in r.query


def test_topic_is_the_last_standalone_question() -> None:
    turns = [
        user(PARIS),
        Turn("assistant", PARIS_ANSWER),
        user("What did they discuss?"),
        Turn("assistant", "They discussed de-escalation [1]"),
        user("Did they sign an agreement?"),
    ]
    assert "(Who met in Paris?" in resolve(turns, 2000).query
    switched = [*turns[:2], user("How does a sourdough starter work?"), Turn("assistant", "It ferments."), user("Why?")]
    r = resolve(switched, 2000)
    assert r.query.startswith("Why? (How does a sourdough starter work?")


def test_new_topic_is_not_rewritten() -> None:
    r = resolve([user(PARIS), Turn("assistant", PARIS_ANSWER), user("What is BM25?")], 2000)
    assert not r.rewritten and r.query == "What is BM25?"


def test_markers_and_sources_are_not_names() -> None:
    content = "Ron Dermer met him. [1]\n\nSources:\n[1] Secret Title (doc.md, characters 1-9)"
    assert answer_text(content) == "Ron Dermer met him."
    assert names(answer_text(content)) == ["Ron", "Dermer"]
    assert names("I could not find an answer to that in the indexed documents.") == []


def test_rewritten_query_fits_the_question_limit() -> None:
    turns = [user("x" * 50), Turn("assistant", "Long " * 200), user("What did they say?")]
    r = resolve(turns, max_chars=80)
    assert r.rewritten and len(r.query) <= 80


@pytest.mark.parametrize(
    ("turns", "error", "needle"),
    [
        ([], InvalidInput, "messages is empty"),
        ([user(PARIS), Turn("assistant", "x")], InvalidInput, "role 'user'"),
        ([user("   ")], InvalidInput, "empty"),
        ([user("x" * 21)], TooLarge, "21 characters"),
    ],
)
def test_resolve_refuses_bad_conversations(turns: list[Turn], error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle):
        resolve(turns, max_chars=20)


@given(st.text())
def test_pieces_join_back_to_the_text(text: str) -> None:
    assert "".join(pieces(text)) == text


# -- POST /v1/chat ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[TestClient]:
    settings = Settings(index_dir=tmp_path_factory.mktemp("chat"))
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        for path in sorted(EXAMPLES.iterdir()):
            assert c.post("/v1/documents", files={"file": (path.name, path.read_bytes())}).status_code == 201
        assert c.post("/v1/documents", json=DISTRACTOR).status_code == 201
        yield c
    svc.close()


def chat(client: TestClient, *contents: str, **extra: Any) -> dict[str, Any]:
    roles = ["user", "assistant"]
    messages = [{"role": roles[i % 2], "content": c} for i, c in enumerate(contents)]
    r = client.post("/v1/chat", json={"messages": messages, **extra})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def events(client: TestClient, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    with client.stream("POST", "/v1/chat", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def check_quotes(client: TestClient, citations: list[dict[str, Any]]) -> None:
    for c in citations:
        text = client.get(f"/v1/documents/{c['doc_id']}", params={"include_text": True}).json()["text"]
        assert text[c["start"] : c["end"]] == c["quote"]


def test_chat_answers_a_question_with_citations(client: TestClient) -> None:
    a = chat(client, PARIS)
    assert a["question"] == a["query"] == PARIS and not a["rewritten"]
    assert a["found"] and "al-Shaibani" in a["answer"] and "Dermer" in a["answer"]
    assert a["citations"] and a["citations"][0]["n"] == 1 and a["passages"]
    check_quotes(client, a["citations"])
    # The shortest span that answers, as /v1/ask gives it, exactly the document's characters.
    short = a["short_answer"]
    assert short == client.post("/v1/ask", json={"question": PARIS}).json()["short_answer"]
    assert short["text"] == "Syrian Foreign Minister Assaad al-Shaibani and Israeli minister Ron Dermer"
    doc = client.get(f"/v1/documents/{short['doc_id']}", params={"include_text": True}).json()
    assert doc["text"][short["start"] : short["end"]] == short["text"]


def test_follow_up_retrieves_the_de_escalation_and_sweida_passage(client: TestClient) -> None:
    first = chat(client, PARIS)
    a = chat(client, PARIS, first["answer"], "What did they discuss?")
    assert a["rewritten"] and a["query"].startswith("What did they discuss? (Who met in Paris?")
    top = a["passages"][0]
    assert top["doc_id"] == "upload/paris-talks.md" and "de-escalation" in top["text"] and "Sweida" in top["text"]
    assert a["found"] and "de-escalation" in a["answer"] and "Sweida" in a["answer"]
    assert a["citations"][0]["doc_id"] == "upload/paris-talks.md"
    check_quotes(client, a["citations"])


def test_follow_up_answer_is_chosen_by_the_users_own_words(client: TestClient) -> None:
    a = chat(client, PARIS, PARIS_ANSWER, "Did they sign an agreement?")
    assert a["rewritten"] and "agreement" in a["answer"] and a["answer"] != PARIS_ANSWER


def test_stream_sends_passages_deltas_citations_done(client: TestClient) -> None:
    body = {"messages": [{"role": "user", "content": PARIS}], "stream": True}
    evs = events(client, body)
    names_ = [name for name, _ in evs]
    assert names_[0] == "passages" and names_[-2:] == ["citations", "done"]
    assert set(names_[1:-2]) == {"delta"} and len(names_) > 4
    passages = evs[0][1]
    assert passages["query"] == PARIS and passages["rewritten"] is False and passages["passages"]
    text = "".join(data["text"] for name, data in evs if name == "delta")
    plain = chat(client, PARIS)
    assert text == plain["answer"] and evs[-2][1]["citations"] == plain["citations"]
    assert evs[-1][1]["found"] is True
    assert plain["short_answer"] is not None and evs[-1][1]["short_answer"] == plain["short_answer"]


def test_stream_follow_up_reports_its_rewritten_query(client: TestClient) -> None:
    messages = [
        {"role": "user", "content": PARIS},
        {"role": "assistant", "content": PARIS_ANSWER},
        {"role": "user", "content": "What did they discuss?"},
    ]
    evs = events(client, {"messages": messages, "stream": True})
    assert evs[0][1]["rewritten"] is True and "Who met in Paris?" in evs[0][1]["query"]
    assert "Sweida" in evs[0][1]["passages"][0]["text"]


def test_stream_failure_arrives_as_an_error_event(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # A bad filter is refused before the stream starts (a 422, like a bad k); a failure once it
    # has started (here, retrieval) arrives as an event.
    def fail(*args: object) -> None:
        raise InvalidInput("retrieval failed: 'bad'key' is broken")

    monkeypatch.setattr(client.app.state.service.retriever, "retrieve", fail)  # type: ignore[attr-defined]
    body = {"messages": [{"role": "user", "content": PARIS}], "stream": True}
    evs = events(client, body)
    assert [name for name, _ in evs] == ["error"]
    assert evs[0][1]["error"] == "invalid_input" and "bad'key" in evs[0][1]["message"]
    monkeypatch.undo()
    r = client.post("/v1/chat", json={**body, "filters": {"bad'key": "x"}})
    assert r.status_code == 422 and "bad'key" in r.json()["message"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("payload", "status", "needle"),
    [
        ({"messages": []}, 422, "messages"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, 422, "role 'user'"),
        ({"messages": [{"role": "user", "content": "  "}]}, 422, "empty"),
        ({"messages": [{"role": "user", "content": "x" * 2001}]}, 413, "2001 characters"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, 422, "role"),
        ({"messages": [{"role": "user", "content": "hi"}], "k": 0}, 422, "k must be between"),
        ({"messages": [{"role": "user", "content": "hi"}], "surprise": 1}, 422, "surprise"),
        ({"question": "hi"}, 422, "messages"),
    ],
)
def test_bad_chat_requests_get_json_4xx(
    client: TestClient, payload: dict[str, Any], status: int, needle: str, stream: bool
) -> None:
    r = client.post("/v1/chat", json={**payload, "stream": stream})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error", "message"} and needle in body["message"]


# -- the page and the OpenAI-compatible routes' shapes (the real clients are in other files) ---


def test_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    # Trusted Types with no policy: an HTML sink in the page throws (tests/system/test_web_page.py).
    assert "require-trusted-types-for 'script'" in csp and "trusted-types 'none'" in csp
    assert '<script src="/web/app.js"' in r.text and '<script src="/web/markdown.js"' in r.text
    for name in ("app.js", "markdown.js"):
        js = client.get(f"/web/{name}")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert js.headers["content-security-policy"] == csp
        # Server text is put in the page as text only (Markdown too: markdown.js builds DOM nodes).
        assert "innerHTML" not in js.text and "insertAdjacentHTML" not in js.text and "document.write" not in js.text
    assert client.get("/web/style.css").status_code == 200
    missing = client.get("/web/secrets.txt")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_models_and_completion_errors_have_openai_shapes(client: TestClient) -> None:
    assert client.get("/v1/models").json()["data"][0]["id"] == "qa"
    r = client.post("/v1/chat/completions", json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404 and "'qa'" in r.json()["error"]["message"]
    r = client.post("/v1/chat/completions", json={"model": "qa", "messages": [{"role": "assistant", "content": "x"}]})
    assert r.status_code == 400 and "role 'user'" in r.json()["error"]["message"]
    r = client.post("/v1/chat/completions", content=b"{oops", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["message"]
    assert "/v1/chat/completions" in client.get("/openapi.json").json()["paths"]


class BrokenIndexService(QAService):
    """A service whose index fails at search time, as a damaged one would."""

    @cached_property
    def retriever(self) -> Retriever:
        class Broken(Retriever):
            def first_stage(self, *args: Any, **kwargs: Any) -> Any:
                raise IndexCorrupt("index files unreadable; rebuild the index with `qa index`")

        real = super().retriever
        return Broken(real.store, real.embedder, real.reranker, real.options)


def test_failures_mid_stream_are_reported_in_the_stream(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> None:
    settings = Settings(index_dir=tmp_path_factory.mktemp("broken"))
    svc = BrokenIndexService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        evs = events(c, {"messages": [{"role": "user", "content": PARIS}], "stream": True})
        assert evs == [
            ("error", {"error": "unavailable", "message": "index files unreadable; rebuild the index with `qa index`"})
        ]
        body = {"model": "qa", "messages": [{"role": "user", "content": PARIS}], "stream": True}
        with c.stream("POST", "/v1/chat/completions", json=body) as r:
            lines = [line for line in r.read().decode().split("\n") if line]
        assert json.loads(lines[0].removeprefix("data: "))["choices"][0]["delta"]["role"] == "assistant"
        assert json.loads(lines[1].removeprefix("data: "))["error"]["message"].startswith("index files unreadable")
        assert lines[2:] == ["data: [DONE]"]
        plain = c.post("/v1/chat/completions", json={**body, "stream": False})
        assert plain.status_code == 503 and plain.json()["error"]["type"] == "server_error"
    svc.close()
