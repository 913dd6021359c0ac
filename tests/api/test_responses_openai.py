"""OpenAI's Responses API (``POST /v1/responses``), driven by the official `openai` client and by
LangChain's ``ChatOpenAI(use_responses_api=True)`` against a real uvicorn server on 127.0.0.1 (the
model, FAISS and SQLite are real too): the same answer and citations as Chat Completions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import Response, ResponseOutputText
from openai.types.responses.response_output_text import AnnotationURLCitation

from qa.chunk import tiktoken_counter
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService

from ..conftest import EXAMPLES
from ..live_server import live_server, upload_dir

QUESTION = "Who met in Paris?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("responses")), embedder=embedder)
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


def output_text(r: Response) -> ResponseOutputText:
    (message,) = r.output
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    (part,) = message.content
    assert isinstance(part, ResponseOutputText)
    return part


def check_annotations(server: str, text: str, annotations: list[Any], citations: list[dict[str, Any]]) -> None:
    """Each citation is one url_citation: its indexes are its marker's in the text, its URL opens
    qa's page at the cited characters, which are the quote."""
    assert citations and len(annotations) == len(citations)
    for a, c in zip(annotations, citations, strict=True):
        assert isinstance(a, AnnotationURLCitation)
        assert text[a.start_index : a.end_index] == f"[{c['n']}]"
        assert a.url == f"{server}/documents/{c['doc_id']}#{c['start']}-{c['end']}" and a.title == c["title"]
        assert document_text(server, c["doc_id"])[c["start"] : c["end"]] == c["quote"]
    page = httpx.get(annotations[0].url)
    assert page.status_code == 200 and '<script src="/web/app.js"' in page.text


def test_a_response_has_the_answer_annotations_and_usage(server: str, client: openai.OpenAI) -> None:
    r = client.responses.create(model="qa", input=QUESTION, metadata={"ticket": "T-1"})
    assert r.object == "response" and r.status == "completed" and r.model == "qa" and r.id.startswith("resp_")
    assert r.error is None and r.metadata == {"ticket": "T-1"}
    text = r.output_text
    assert "al-Shaibani" in text and "Dermer" in text
    answer, sources = text.split("\n\nSources:\n")
    assert answer.endswith("[1]") and sources.startswith("[1] Syrian and Israeli officials hold talks")
    citations = (r.model_extra or {})["citations"]
    assert citations[0]["doc_id"] == "upload/paris-talks.md"
    check_annotations(server, text, output_text(r).annotations, citations)
    # Tokens as Chat Completions counts them (tiktoken cl100k_base), and the same text.
    count = tiktoken_counter()
    assert r.usage is not None and r.usage.input_tokens == count(QUESTION) == 5
    assert r.usage.output_tokens == count(text) and r.usage.total_tokens == 5 + count(text)
    chat = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
    assert chat.choices[0].message.content == text
    assert [a.url_citation.url for a in chat.choices[0].message.annotations or []] == [
        a.url for a in output_text(r).annotations if isinstance(a, AnnotationURLCitation)
    ]


def test_a_streamed_response_sends_openai_events_in_order(server: str, client: openai.OpenAI) -> None:
    plain = client.responses.create(model="qa", input=QUESTION)
    events = list(client.responses.create(model="qa", input=QUESTION, stream=True))
    kinds = [e.type for e in events]
    n = len(output_text(plain).annotations)
    deltas = kinds.count("response.output_text.delta")
    assert deltas > 3 and kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        *["response.output_text.annotation.added"] * n,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == plain.output_text
    added = [e.annotation for e in events if e.type == "response.output_text.annotation.added"]
    assert [a.model_dump() for a in added if a] == [a.model_dump() for a in output_text(plain).annotations]
    done = events[-1]
    assert done.type == "response.completed" and done.response.output_text == text
    assert done.response.usage == plain.usage
    assert (done.response.model_extra or {})["citations"] == (plain.model_extra or {})["citations"]


def test_the_sdk_stream_helper_builds_the_final_response(server: str, client: openai.OpenAI) -> None:
    with client.responses.stream(model="qa", input=QUESTION) as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == final.output_text and "Dermer" in final.output_text
    check_annotations(server, final.output_text, output_text(final).annotations, (final.model_extra or {})["citations"])


def test_follow_ups_go_through_chat_resolution(client: openai.OpenAI) -> None:
    first = client.responses.create(model="qa", input=QUESTION)
    r = client.responses.create(
        model="qa",
        instructions="Answer from the documents.",
        input=[
            {"role": "user", "content": QUESTION},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": first.output_text}]},
            {"role": "user", "content": [{"type": "input_text", "text": "What did they discuss?"}]},
        ],
        temperature=0.2,
        max_output_tokens=200,
        store=False,
    )
    assert "de-escalation" in r.output_text and "Sweida" in r.output_text
    assert (r.model_extra or {})["query"].startswith("What did they discuss? (Who met in Paris?")
    assert r.instructions == "Answer from the documents."
    # The instructions are counted in the input tokens, as a chat's system message is.
    chat = client.chat.completions.create(
        model="qa",
        messages=[
            {"role": "developer", "content": "Answer from the documents."},
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": first.output_text},
            {"role": "user", "content": "What did they discuss?"},
        ],
    )
    assert r.output_text == chat.choices[0].message.content
    assert r.usage is not None and chat.usage is not None and r.usage.input_tokens == chat.usage.prompt_tokens


def test_bad_requests_are_openai_errors(server: str, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="use 'qa'") as missing:
        client.responses.create(model="gpt-4o", input="hi")
    assert missing.value.code == "model_not_found" and missing.value.param == "model"
    with pytest.raises(openai.BadRequestError, match="empty"):
        client.responses.create(model="qa", input="   ")
    with pytest.raises(openai.BadRequestError, match="input"):
        client.responses.create(model="qa", input=[])
    with pytest.raises(openai.BadRequestError, match="role 'user'"):
        client.responses.create(model="qa", input=[{"role": "assistant", "content": "yo"}], stream=True)
    tool: Any = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    for kwargs, param, words in (
        ({"previous_response_id": "resp_1"}, "previous_response_id", "not stored"),
        ({"conversation": "conv_1"}, "conversation", "not stored"),
        ({"background": True}, "background", "not stored"),
        ({"tools": [tool], "tool_choice": "required"}, "tool_choice", "calls no functions"),
        ({"text": {"format": {"type": "json_object"}}}, "text.format", "'json_object'"),
        ({"extra_body": {"n": 2}}, "n", "one answer per question"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x/a.png"}]}]},
            "input[0].content[0]",
            "input_image",
        ),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "1"}]}, "input[0]", "function_call"),
    ):
        with pytest.raises(openai.BadRequestError, match=words) as info:
            client.responses.create(**{"model": "qa", "input": QUESTION, **kwargs})
        assert info.value.param == param and info.value.code == "unsupported_parameter"
    # Tools offered and never forced are accepted, never called: the answer is text.
    r = client.responses.create(model="qa", input=QUESTION, tools=[tool], tool_choice="auto", reasoning={})
    assert "Dermer" in r.output_text and r.tools == []

    # Wrong types, with any client: OpenAI's shape, 400.
    def shape(r: httpx.Response) -> dict[str, Any]:
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"], error
        return dict(error)

    assert "input" in shape(httpx.post(f"{server}/v1/responses", json={"model": "qa"}))["message"]
    assert "input" in shape(httpx.post(f"{server}/v1/responses", json={"model": "qa", "input": 3}))["message"]
    assert (
        "role"
        in shape(
            httpx.post(f"{server}/v1/responses", json={"model": "qa", "input": [{"role": "robot", "content": "hi"}]})
        )["message"]
    )
    assert "JSON" in shape(httpx.post(f"{server}/v1/responses", content=b"{"))["message"]


# -- LangChain's ChatOpenAI on the Responses API ---------------------------------------------------


def test_langchain_chat_openai_responses_api_keeps_the_annotations(server: str) -> None:
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_openai import ChatOpenAI

    count = tiktoken_counter()
    llm = ChatOpenAI(  # type: ignore[call-arg]
        model="qa", base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=120, use_responses_api=True
    )
    msg = llm.invoke(QUESTION)
    # On the Responses API the AIMessage's content is a list of blocks: the text block carries the
    # url_citation annotations as they came (what the Chat Completions path drops).
    (block,) = msg.content
    assert isinstance(block, dict) and block["type"] == "text" and "Dermer" in block["text"]
    text = block["text"]
    (annotation,) = block["annotations"]
    assert annotation["type"] == "url_citation" and text[annotation["start_index"] : annotation["end_index"]] == "[1]"
    assert annotation["url"].startswith(f"{server}/documents/upload/paris-talks.md#")
    assert msg.text == text
    meta = msg.response_metadata
    assert meta["model_name"] == "qa" and meta["status"] == "completed" and meta["id"].startswith("resp_")
    assert msg.usage_metadata is not None and msg.usage_metadata["input_tokens"] == count(QUESTION)
    assert msg.usage_metadata["output_tokens"] == count(text)
    # Streamed: the same text, and the annotation arrives as its own content block.
    streamed = None
    for chunk in llm.stream(QUESTION):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed is not None and streamed.text == text
    blocks = [b for b in streamed.content if isinstance(b, dict)]
    assert [a for b in blocks for a in b.get("annotations", [])] == [annotation]
    # A follow-up sends the history back as Responses items (the AIMessage's blocks, annotations and all).
    follow = llm.invoke([HumanMessage(QUESTION), msg, HumanMessage("What did they discuss?")])
    assert isinstance(follow, AIMessage) and "Sweida" in follow.text


def test_refusals_before_the_route_are_in_openai_shape(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A wrong key (401) and an oversized body (413) under /v1/responses reach an OpenAI client with
    their message, as under /v1/chat/completions."""
    from fastapi.testclient import TestClient

    from qa.api import create_app

    from ..fakes import HashEmbedder
    from ..live_server import LOCAL

    settings = Settings(
        index_dir=tmp_path_factory.mktemp("keys"), api_keys="k1", require_key_for_read=True, max_request_bytes=2000
    )
    with TestClient(create_app(settings, service=QAService(settings, embedder=HashEmbedder())), base_url=LOCAL) as c:
        r = c.post("/v1/responses", json={"model": "qa", "input": "hi"}, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        big = {"model": "qa", "input": "word " * 1000}
        r = c.post("/v1/responses", json=big, headers={"Authorization": "Bearer k1"})
        assert r.status_code == 413 and set(r.json()["error"]) == {"message", "type", "param", "code"}
