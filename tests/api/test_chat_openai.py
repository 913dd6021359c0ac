"""The OpenAI-compatible routes, driven by the official `openai` client against a real uvicorn
server on 127.0.0.1 (the model, FAISS and SQLite are real too), and LangChain's `ChatOpenAI` likewise."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from openai.types.chat.chat_completion_message import Annotation

from qa.chunk import tiktoken_counter
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService

from ..conftest import EXAMPLES
from ..live_server import live_server, upload_dir


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("openai")), embedder=embedder)
    with live_server(svc) as base:
        upload_dir(base, EXAMPLES)
        yield base
    svc.close()


@pytest.fixture
def client(server: str) -> Iterator[openai.OpenAI]:
    # Any key: the service does not check it, but the client insists on one.
    with openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=120) as c:
        yield c


def document_text(server: str, doc_id: str) -> str:
    r = httpx.get(f"{server}/v1/documents/{doc_id}", params={"include_text": True})
    return str(r.json()["text"])


def check_citations(server: str, citations: list[dict[str, Any]]) -> None:
    assert citations
    for c in citations:
        assert document_text(server, c["doc_id"])[c["start"] : c["end"]] == c["quote"]


def test_models_lists_qa(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["qa"]


def test_completion_has_markers_sources_and_citations(server: str, client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": "Who met in Paris?"}])
    content = r.choices[0].message.content or ""
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.role == "assistant"
    assert "al-Shaibani" in content and "Dermer" in content
    answer, sources = content.split("\n\nSources:\n")
    assert answer.endswith("[1]") and sources.startswith("[1] Syrian and Israeli officials hold talks")
    citations = (r.model_extra or {})["citations"]
    assert citations[0]["n"] == 1 and citations[0]["doc_id"] == "upload/paris-talks.md"
    check_citations(server, citations)


def test_streamed_completion_matches_the_plain_one(server: str, client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Who met in Paris?"}]
    plain = client.chat.completions.create(model="qa", messages=messages).choices[0].message.content
    chunks = list(client.chat.completions.create(model="qa", messages=messages, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain
    assert len(chunks) > 3 and chunks[-1].choices[0].finish_reason == "stop"
    check_citations(server, (chunks[-1].model_extra or {})["citations"])


def test_follow_up_through_the_openai_client(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": "Who met in Paris?"}])
    messages: Any = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Who met in Paris?"},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": "What did they discuss?"}]},
    ]
    r = client.chat.completions.create(model="qa", messages=messages, temperature=0.2, max_tokens=200)
    content = r.choices[0].message.content or ""
    assert "de-escalation" in content and "Sweida" in content
    assert (r.model_extra or {})["query"].startswith("What did they discuss? (Who met in Paris?")


def test_errors_reach_the_client_with_their_message(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="use 'qa'"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="empty"):
        client.chat.completions.create(model="qa", messages=[{"role": "user", "content": "   "}])
    with pytest.raises(openai.BadRequestError, match="role 'user'"):
        client.chat.completions.create(
            model="qa",
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            stream=True,
        )


def test_a_several_sentence_answer_marks_each_sentence(server: str, client: openai.OpenAI) -> None:
    text = (
        "# Packing\n\nThe packer accepts three archive formats:\n\n- zip, the default on Windows\n\n"
        "- tar, with optional gzip compression\n\n- 7z, when the 7z binary is installed\n"
    )
    r = httpx.post(f"{server}/v1/documents", json={"documents": [{"id": "packer", "title": "Packer", "text": text}]})
    assert r.status_code == 201, r.text
    out = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": "Which archive formats does the packer accept?"}]
    )
    content = out.choices[0].message.content or ""
    assert content.startswith(
        "The packer accepts three archive formats: [1]\n- zip, the default on Windows [2]\n"
        "- tar, with optional gzip compression [3]\n- 7z, when the 7z binary is installed [4]"
    ), content


# -- citations in OpenAI's fields, usage, options (issue 19) --------------------------------------


def check_annotations(
    server: str, content: str, annotations: list[Annotation], citations: list[dict[str, Any]]
) -> None:
    """Each citation is one url_citation: its indexes are its marker's in the content, its URL
    opens qa's page at the cited characters."""
    assert [a.type for a in annotations] == ["url_citation"] * len(citations) and citations
    for a, c in zip(annotations, citations, strict=True):
        u = a.url_citation
        assert content[u.start_index : u.end_index] == f"[{c['n']}]"
        assert u.url == f"{server}/documents/{c['doc_id']}#{c['start']}-{c['end']}" and u.title == c["title"]
        page = httpx.get(u.url)
        assert page.status_code == 200 and '<script src="/web/app.js"' in page.text


def test_citations_are_annotations_the_sdk_parses(server: str, client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": "Who met in Paris?"}])
    message = r.choices[0].message
    citations = (r.model_extra or {})["citations"]
    assert message.annotations is not None and isinstance(message.annotations[0], Annotation)
    check_annotations(server, message.content or "", message.annotations, citations)
    check_citations(server, citations)


def test_streamed_annotations_and_open_webui_source_events(server: str, client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Who met in Paris?"}]
    chunks = list(client.chat.completions.create(model="qa", messages=messages, stream=True))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # The SDK keeps a delta's annotations (not a field of its ChoiceDelta) as extra data; they parse
    # as the same Annotation its non-streamed message has.
    raw = [a for c in chunks if c.choices for a in (c.choices[0].delta.model_extra or {}).get("annotations", [])]
    annotations = [Annotation.model_validate(a) for a in raw]
    citations = (chunks[-1].model_extra or {})["citations"]
    check_annotations(server, content, annotations, citations)
    # Open WebUI's source event rides in the chunk of each annotation, with the exact quote, and is
    # keyed by the annotation's URL so Open WebUI counts the two as one source.
    events = [(c.model_extra or {})["event"] for c in chunks if "event" in (c.model_extra or {})]
    assert len(events) == len(citations)
    for event, c, a in zip(events, citations, annotations, strict=True):
        assert event["type"] == "source"
        data = event["data"]
        assert data["document"] == [c["quote"]] and data["source"] == {
            "name": c["title"],
            "id": c["doc_id"],
            "url": a.url_citation.url,
        }
        meta = data["metadata"][0]
        assert meta["source"] == a.url_citation.url and (meta["doc_id"], meta["start"], meta["end"]) == (
            c["doc_id"],
            c["start"],
            c["end"],
        )
        assert "page" in meta


def test_usage_is_counted_in_tokens_and_streamed_when_asked(client: openai.OpenAI) -> None:
    count = tiktoken_counter()
    question = "Who met in Paris?"
    r = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": question}])
    assert r.usage is not None and r.usage.prompt_tokens == count(question) == 5  # tokens: 4 words
    assert r.usage.completion_tokens == count(r.choices[0].message.content or "")
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    chunks = list(
        client.chat.completions.create(
            model="qa",
            messages=[{"role": "user", "content": question}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}) == r.usage.model_dump(
        include={"prompt_tokens", "completion_tokens", "total_tokens"}
    )
    assert chunks[-2].choices[0].finish_reason == "stop"
    # Not asked for: no usage chunk.
    plain = list(
        client.chat.completions.create(model="qa", messages=[{"role": "user", "content": question}], stream=True)
    )
    assert all(c.choices for c in plain) and plain[-1].usage is None


def test_options_that_would_change_the_answer_are_refused(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Who met in Paris?"}]
    tool: Any = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    forced: Any = {"type": "function", "function": {"name": "lookup"}}
    for kwargs, param, words in (
        ({"n": 2}, "n", "one answer per question"),
        ({"tools": [tool], "tool_choice": "required"}, "tool_choice", "calls no functions"),
        ({"tools": [tool], "tool_choice": forced}, "tool_choice", "calls no functions"),
        ({"extra_body": {"function_call": {"name": "lookup"}}}, "function_call", "calls no functions"),
        ({"response_format": {"type": "json_object"}}, "response_format", "'json_object'"),
    ):
        with pytest.raises(openai.BadRequestError, match=words) as info:
            client.chat.completions.create(model="qa", messages=messages, **kwargs)
        assert info.value.param == param and info.value.code == "unsupported_parameter"
    # What changes nothing is accepted: n=1, text, no tools.
    r = client.chat.completions.create(
        model="qa", messages=messages, n=1, response_format={"type": "text"}, tool_choice="none"
    )
    assert "Dermer" in (r.choices[0].message.content or "")
    # Tools offered without forcing a call (Open WebUI 0.12 offers its built-in ones on every chat
    # request) are never called: the answer is text, as a model answering under "auto" may give.
    for kwargs in ({"tools": [tool]}, {"tools": [tool], "tool_choice": "auto"}):
        r = client.chat.completions.create(model="qa", messages=messages, **kwargs)
        m = r.choices[0].message
        assert "Dermer" in (m.content or "") and not m.tool_calls and r.choices[0].finish_reason == "stop"


def test_models_are_retrieved_and_unknown_ones_are_404(client: openai.OpenAI) -> None:
    m = client.models.retrieve("qa")
    assert (m.id, m.object, m.owned_by) == ("qa", "model", "qa")
    with pytest.raises(openai.NotFoundError, match="use 'qa'") as info:
        client.models.retrieve("gpt-4o")
    assert info.value.code == "model_not_found"


def test_every_v1_error_an_openai_client_can_meet_has_its_shape(server: str, client: openai.OpenAI) -> None:
    def shape(r: httpx.Response, status: int) -> dict[str, Any]:
        assert r.status_code == status, r.text
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"], error
        return dict(error)

    # A route no one serves here (LlamaIndex's OpenAILike without is_chat_model calls /v1/completions).
    assert "no route POST /v1/completions" in shape(httpx.post(f"{server}/v1/completions", json={}), 404)["message"]
    assert shape(httpx.post(f"{server}/v1/models"), 405)["code"] == "method_not_allowed"
    bad = shape(httpx.post(f"{server}/v1/chat/completions", json={"model": "qa"}), 400)  # was 422-style
    assert "messages" in bad["message"]
    with pytest.raises(openai.NotFoundError, match="no route"):
        client.completions.create(model="qa", prompt="Who met in Paris?")


def test_embeddings_by_the_index_model(server: str, client: openai.OpenAI, embedder: Embedder) -> None:
    texts = ["Who met in Paris?", "Bread needs flour, water, salt and yeast."]
    expected = embedder.embed(texts)
    # Without encoding_format the SDK asks for base64 and decodes it; with "float" the server sends
    # numbers; with "base64" the SDK hands over the server's base64 of little-endian float32.
    for kwargs in ({}, {"encoding_format": "float"}, {"encoding_format": "base64"}):
        r = client.embeddings.create(model="qa", input=texts, **kwargs)  # type: ignore[arg-type]
        assert r.model == embedder.name and [d.index for d in r.data] == [0, 1]
        vectors = [
            np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") if isinstance(d.embedding, str) else d.embedding
            for d in r.data
        ]
        got = np.array(vectors, dtype=np.float32)
        assert got.shape == (2, embedder.dim) and np.allclose(got, expected, atol=1e-5)
        assert r.usage.prompt_tokens == r.usage.total_tokens == sum(tiktoken_counter()(t) for t in texts)
    one = client.embeddings.create(model=embedder.name, input="Who met in Paris?")
    assert len(one.data) == 1 and np.allclose(one.data[0].embedding, got[0], atol=1e-5)
    # The question's vector finds the Paris passage first, as the index's dense search does.
    hits = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": texts[0]}])
    assert "Dermer" in (hits.choices[0].message.content or "")


def test_embeddings_refusals(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="token arrays") as info:
        client.embeddings.create(model="qa", input=[[9906, 1917]])
    assert info.value.param == "input"
    with pytest.raises(openai.BadRequestError, match="token arrays"):
        client.embeddings.create(model="qa", input=[9906, 1917])
    with pytest.raises(openai.NotFoundError, match="index's model"):
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    with pytest.raises(openai.BadRequestError, match="blank"):
        client.embeddings.create(model="qa", input=["ok", "  "])
    with pytest.raises(openai.BadRequestError, match="384-dim"):
        client.embeddings.create(model="qa", input="hi", dimensions=256)
    with pytest.raises(openai.BadRequestError, match="over the 254 it reads"):
        client.embeddings.create(model="qa", input="word " * 400)
    with pytest.raises(openai.BadRequestError, match="input"):
        client.embeddings.create(model="qa", input=[])


def test_a_wrong_or_missing_key_is_openai_401(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path_factory.mktemp("keys"), api_keys="k1", require_key_for_read=True)
    svc = QAService(settings, embedder=embedder)
    with live_server(svc) as base:
        for key in ("wrong", ""):
            with openai.OpenAI(base_url=f"{base}/v1", api_key=key or "x", max_retries=0) as c:
                headers = {} if key else {"Authorization": ""}
                with pytest.raises(openai.AuthenticationError, match="API key") as info:
                    c.with_options(default_headers=headers).models.list()
                assert info.value.status_code == 401 and info.value.code == "invalid_api_key"
        with openai.OpenAI(base_url=f"{base}/v1", api_key="k1", max_retries=0) as c:
            assert [m.id for m in c.models.list()] == ["qa"]
        # qa's own routes keep qa's shape (403 for a wrong key).
        r = httpx.get(f"{base}/v1/documents", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
    svc.close()


# -- Open WebUI's background task prompts -------------------------------------------------------

# The structure of Open WebUI's default task prompts (its config.py): a "### Task:" block asking for
# a JSON object, and the history as "USER: ..." / "ASSISTANT: ..." lines between chat_history tags.
TASK = (
    "### Task:\n{task}\n### Output:\nJSON format: {output}\n"
    "### Chat History:\n<chat_history>\n{history}\n</chat_history>"
)


def task_reply(client: openai.OpenAI, task: str, output: str, history: str) -> Any:
    prompt = TASK.format(task=task, output=output, history=history)
    r = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": prompt}])
    content = r.choices[0].message.content or ""
    assert r.choices[0].message.annotations == [] and r.usage is not None and r.usage.completion_tokens > 0
    return json.loads(content)  # the whole content is the JSON object Open WebUI parses


def test_open_webui_task_prompts_get_json_from_the_conversation(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": "Who met in Paris?"}])
    answer = first.choices[0].message.content or ""
    history = "USER: Who met in Paris?\nASSISTANT: " + answer
    assert task_reply(client, "Write a short title for the chat.", '{ "title": "..." }', history) == {
        "title": "Met in Paris"
    }
    tags = task_reply(client, "Tag the chat's themes.", '{ "tags": ["tag1", "tag2"] }', history)["tags"]
    assert tags == ["Syrian and Israeli officials hold talks in Paris on southern Syria"]
    follow = task_reply(client, "Suggest follow-up questions.", '{ "follow_ups": ["Question 1?"] }', history)
    suggestions = follow["follow_ups"]
    assert 1 <= len(suggestions) <= 5 and all(s.startswith("What about ") and s.endswith("?") for s in suggestions)
    assert not any("Paris" in s for s in suggestions)  # what was already said is not suggested
    # A suggestion is a question qa answers from the same document, as a follow-up.
    messages: Any = [
        {"role": "user", "content": "Who met in Paris?"},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": suggestions[0]},
    ]
    r = client.chat.completions.create(model="qa", messages=messages)
    assert (r.model_extra or {})["citations"][0]["doc_id"] == "upload/paris-talks.md"
    # Every suggestion is one qa answers (one that led to "not found" would not be suggested).
    for s in suggestions[1:]:
        r = client.chat.completions.create(model="qa", messages=[*messages[:2], {"role": "user", "content": s}])
        assert (r.model_extra or {})["citations"], s
    # Streamed (as a client may ask), the same JSON arrives.
    prompt = TASK.format(task="Write a short title.", output='{ "title": "..." }', history=history)
    chunks = list(
        client.chat.completions.create(model="qa", messages=[{"role": "user", "content": prompt}], stream=True)
    )
    assert json.loads("".join(c.choices[0].delta.content or "" for c in chunks)) == {"title": "Met in Paris"}


# -- LangChain's ChatOpenAI ---------------------------------------------------------------------


def test_langchain_chat_openai_gets_the_answer_usage_and_sources(server: str) -> None:
    from langchain_openai import ChatOpenAI

    count = tiktoken_counter()
    llm = ChatOpenAI(model="qa", base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=120)  # type: ignore[arg-type]
    msg = llm.invoke("Who met in Paris?")
    content = str(msg.content)
    assert "Dermer" in content and "\n\nSources:\n[1] Syrian and Israeli officials" in content
    # What LangChain exposes of the response: the token usage (tiktoken's count), model and finish.
    meta = msg.response_metadata
    assert meta["token_usage"]["prompt_tokens"] == count("Who met in Paris?")
    assert meta["token_usage"]["completion_tokens"] == count(content)
    assert meta["model_name"] == "qa" and meta["finish_reason"] == "stop"
    assert msg.usage_metadata is not None and msg.usage_metadata["output_tokens"] == count(content)
    # ChatOpenAI's Chat Completions path keeps no annotations (only function_call, tool_calls,
    # audio and refusal reach additional_kwargs): the citations reach LangChain as the content's
    # markers and sources list. A stream with usage gets the same text and the usage chunk.
    assert "annotations" not in msg.additional_kwargs
    streamed = None
    for chunk in llm.stream("Who met in Paris?", stream_usage=True):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed is not None and streamed.content == content
    assert streamed.usage_metadata is not None and streamed.usage_metadata["output_tokens"] == count(content)


def test_open_webui_source_pages_count_from_zero() -> None:
    """Open WebUI shows a source's ``page + 1`` (its PDF loader's pages start at 0): qa's page 3 is
    sent as 2 so that its panel says page 3; the annotation and qa's own fields keep page 3."""
    from qa.api.routes.openai import source_event
    from qa.types import Citation

    c = Citation(1, "manual.pdf", "Manual", 10, 40, "The kiln fires at 1240 degrees.", page=3)
    assert source_event(c, "http://x/documents/manual.pdf#10-40")["data"]["metadata"][0]["page"] == 2
    no_pages = Citation(1, "notes.txt", "Notes", 0, 5, "Hello", page=None)
    assert source_event(no_pages, "http://x/documents/notes.txt#0-5")["data"]["metadata"][0]["page"] is None
