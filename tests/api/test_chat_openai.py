"""The OpenAI-compatible routes, driven by the official `openai` client against a real uvicorn
server on 127.0.0.1 (the model, FAISS and SQLite are real too)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

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
