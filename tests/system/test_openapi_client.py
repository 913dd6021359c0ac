"""A client generated from the live ``/openapi.json`` by ``openapi-python-client`` imports, and
every operation it has works against a real server (uvicorn, the bundled model) with real data,
giving the typed models the schema promises.

The generator (pinned; `.ci/run` installs it) runs as its CLI does for a user:
``openapi-python-client generate --url <server>/openapi.json --meta none``.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService

from ..conftest import EXAMPLES
from ..live_server import live_server, upload_dir

KEY = "generated-client-key"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
KILN = "The kiln fires at 1240 degrees. Its shelves are checked for cracks before every firing."
GLAZE = "# Glazes\n\nCeladon glaze turns green in a reduction firing at cone 10.\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    # Keys set, reads open: writes need the key, as the schema's security says.
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("openapi"), api_keys=KEY), embedder=embedder)
    with live_server(svc) as base:
        upload_dir(base, EXAMPLES, key=KEY)
        yield base
    svc.close()


@pytest.fixture(scope="module")
def generated(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The package the generator writes from the live schema, imported."""
    if not GENERATOR.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{GENERATOR} is missing: .ci/run installs openapi-python-client")
        pytest.skip("openapi-python-client is not installed (see .ci/run)")
    out = tmp_path_factory.mktemp("generated")
    config = out / "config.json"
    # No post hooks: they run ruff from PATH, which formats the code and does not change what it does.
    config.write_text(json.dumps({"post_hooks": []}))
    run = subprocess.run(
        [str(GENERATOR), "generate", "--url", f"{server}/openapi.json", "--meta", "none"]
        + ["--output-path", str(out / "qa_client"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    # The generator says so when it had to leave a part of the schema out: nothing may be left out.
    assert "Warning" not in output and "Unable to" not in output, output
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    try:
        package = importlib.import_module("qa_client")
        # Every operation's module imports (the upload module did not: a JSON and a multipart body
        # on one operation).
        for info in pkgutil.walk_packages(package.__path__, "qa_client."):
            importlib.import_module(info.name)
        yield package
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == "qa_client" or m.startswith("qa_client.")]:
            del sys.modules[name]


def operations(package: ModuleType) -> set[str]:
    """The operation modules of a generated package: qa_client.api.<tag>.<operation id>."""
    api = importlib.import_module(f"{package.__name__}.api")
    names = set()
    for info in pkgutil.walk_packages(api.__path__, f"{api.__name__}."):
        if not info.ispkg:
            names.add(info.name.rsplit(".", 1)[1])
    return names


def events(response: httpx.Response) -> list[tuple[str, str]]:
    """The (event, data) pairs of a server-sent event stream."""
    out = []
    for block in response.text.split("\n\n"):
        name, data = "", []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        if data:
            out.append((name, "\n".join(data)))
    return out


def test_a_generated_client_imports_and_works_for_every_operation(server: str, generated: ModuleType) -> None:
    g = generated
    m = importlib.import_module("qa_client.models")
    types = importlib.import_module("qa_client.types")
    documents, questions, openai, service, jobs, collections = (
        importlib.import_module(f"qa_client.api.{tag}")
        for tag in ("documents", "questions", "openai", "service", "jobs", "collections")
    )
    called: set[str] = set()

    def op(tag: ModuleType, name: str) -> Any:
        called.add(name)
        return importlib.import_module(f"{tag.__name__}.{name}")

    client = g.AuthenticatedClient(base_url=server, token=KEY, timeout=httpx.Timeout(120.0))
    anonymous = g.Client(base_url=server, timeout=httpx.Timeout(120.0))

    # -- service --
    health = op(service, "health").sync(client=anonymous)
    assert isinstance(health, m.HealthOut) and health.status == m.HealthOutStatus.OK and health.documents >= 5
    stats = op(service, "stats").sync(client=client)
    assert isinstance(stats, m.StatsOut) and stats.store == "embedded" and stats.documents == health.documents
    assert stats.dim == 384 and "path" in stats.additional_properties  # the embedded store's own fields
    metrics = op(service, "metrics").sync(client=client)
    assert isinstance(metrics, str) and "qa_http_requests_total" in metrics

    # -- documents: JSON, one and several; a file; list, get, delete --
    add = op(documents, "add_documents")
    metadata = m.DocumentInMetadata.from_dict({"team": "ceramics"})
    one = m.DocumentIn(id="notes/kiln", title="Kiln", text=KILN, metadata=metadata)
    r = add.sync_detailed(client=client, body=one)
    assert r.status_code == 201 and isinstance(r.parsed, m.IngestResponse), r.content
    assert [(x.id, x.status) for x in r.parsed.results] == [("notes/kiln", "added")]
    batch = m.DocumentsIn(documents=[m.DocumentIn(text="Raku firing ends in a bin of sawdust.", id="notes/raku")])
    assert [x.id for x in add.sync(client=client, body=batch).results] == ["notes/raku"]
    # Writes need the key: a typed 401 without it.
    refused = add.sync_detailed(client=anonymous, body=one)
    assert refused.status_code == 401 and isinstance(refused.parsed, m.ErrorOut)
    assert refused.parsed.error == "unauthorized" and "QA_API_KEYS" in refused.parsed.message

    upload = m.DocumentUpload(
        file=types.File(payload=BytesIO(GLAZE.encode()), file_name="glaze.md", mime_type="text/markdown"),
        id="notes/glaze",
        metadata=json.dumps({"team": "ceramics"}),
    )
    r = op(documents, "upload_document").sync_detailed(client=client, body=upload)
    assert r.status_code == 201 and isinstance(r.parsed, m.IngestResponse), r.content
    assert r.parsed.results[0].id == "notes/glaze" and r.parsed.results[0].chunks >= 1
    # An access list set without re-embedding; null makes the document public again.
    patched = op(documents, "update_document").sync(
        "notes/raku", client=client, body=m.DocumentPatch(access=["group:kiln"])
    )
    assert isinstance(patched, m.DocumentOut) and patched.metadata.additional_properties["access"] == ["group:kiln"]
    public = op(documents, "update_document").sync("notes/raku", client=client, body=m.DocumentPatch(access=None))
    assert isinstance(public, m.DocumentOut) and "access" not in public.metadata.additional_properties

    # -- jobs: the same upload as a job (202), then its record, and the list --
    again = m.DocumentUpload(
        file=types.File(payload=BytesIO(GLAZE.encode()), file_name="glaze.md", mime_type="text/markdown"),
        id="notes/glaze",
        metadata=json.dumps({"team": "ceramics"}),
    )
    r = op(documents, "upload_document").sync_detailed(client=client, body=again, async_=True)
    assert r.status_code == 202 and isinstance(r.parsed, m.JobOut), r.content
    assert r.headers["location"] == f"/v1/jobs/{r.parsed.id}"
    get_job = op(jobs, "get_job")
    deadline = time.monotonic() + 120
    while (job := get_job.sync(r.parsed.id, client=anonymous)).status.value not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert isinstance(job, m.JobOut) and job.status.value == "succeeded" and job.progress.items == 1
    assert [(x.id, x.status) for x in job.items[0].results] == [("notes/glaze", "unchanged")]
    recent = op(jobs, "list_jobs").sync(client=client, offset=0, limit=10)
    assert isinstance(recent, m.JobList) and recent.total == 1 and recent.jobs[0].id == job.id
    missing = get_job.sync_detailed("no-such-job", client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, m.ErrorOut)

    listing = op(documents, "list_documents").sync(client=client, offset=0, limit=100)
    assert isinstance(listing, m.DocumentList) and listing.total == health.documents + 3
    ids = {d.id for d in listing.documents}
    assert {"notes/kiln", "notes/raku", "notes/glaze", "upload/paris-talks.md"} <= ids

    get = op(documents, "get_document")
    kiln = get.sync("notes/kiln", client=client, include_text=True)  # an id with a slash
    assert isinstance(kiln, m.DocumentOut) and kiln.text == KILN and kiln.title == "Kiln"
    assert kiln.metadata.additional_properties == {"team": "ceramics"}
    glaze = get.sync("notes/glaze", client=anonymous, include_text=True)  # reads are open here
    assert glaze.title == "Glazes" and glaze.metadata.additional_properties["team"] == "ceramics"

    # -- questions --
    found = op(questions, "search").sync(client=client, body=m.QuestionIn(question="How hot does the kiln fire?", k=3))
    assert isinstance(found, m.SearchOut) and found.passages[0].doc_id == "notes/kiln"
    best = found.passages[0]
    assert KILN[best.start : best.end] == best.text

    answer = op(questions, "ask").sync(client=client, body=m.QuestionIn(question="Who met in Paris?"))
    assert isinstance(answer, m.AskOut) and answer.found and "al-Shaibani" in answer.answer
    paris = get.sync(answer.citations[0].doc_id, client=client, include_text=True)
    assert all(paris.text[c.start : c.end] == c.quote for c in answer.citations)

    chat = op(questions, "chat")
    turns = [m.MessageIn(role=m.MessageInRole.USER, content="Who met in Paris?")]
    reply = chat.sync(client=client, body=m.ChatIn(messages=turns))
    assert isinstance(reply, m.ChatOut) and reply.found and reply.citations[0].quote in paris.text
    # The stream, through the generated client's own httpx client; each event's data parses as the
    # model the schema names for it (`x-events`).
    streamed = client.get_httpx_client().post("/v1/chat", json={**m.ChatIn(messages=turns).to_dict(), "stream": True})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    by_name = {
        "passages": m.ChatPassagesEvent,
        "delta": m.ChatDeltaEvent,
        "citations": m.ChatCitationsEvent,
        "done": m.ChatDoneEvent,
    }
    parsed = [(name, by_name[name].from_dict(json.loads(data))) for name, data in events(streamed)]
    assert [name for name, _ in parsed][0] == "passages" and parsed[-1][0] == "done"
    assert "".join(e.text for name, e in parsed if name == "delta") == reply.answer
    assert [c.to_dict() for c in next(e for n, e in parsed if n == "citations").citations] == [
        c.to_dict() for c in reply.citations
    ]

    # -- OpenAI-compatible --
    models = op(openai, "list_models").sync(client=client)
    assert isinstance(models, m.ModelList) and [x.id for x in models.data] == ["qa"]
    model = op(openai, "get_model")
    assert isinstance(model.sync("qa", client=client), m.ModelOut)
    unknown = model.sync_detailed("gpt-4o", client=client)
    assert unknown.status_code == 404 and isinstance(unknown.parsed, m.OpenAIErrorOut)
    assert unknown.parsed.error.code == "model_not_found"

    completions = op(openai, "chat_completions")
    body = m.OpenAIChatIn(model="qa", messages=[m.OpenAIMessage(role="user", content="Who met in Paris?")])
    completion = completions.sync(client=client, body=body)
    assert isinstance(completion, m.OpenAIChatOut) and completion.choices[0].message.content.startswith(reply.answer)
    cited = completion.choices[0].message.annotations[0].url_citation
    content = completion.choices[0].message.content
    assert content[cited.start_index : cited.end_index] == "[1]" and "/documents/" in cited.url
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    stream_body = {**body.to_dict(), "stream": True, "stream_options": {"include_usage": True}}
    streamed = client.get_httpx_client().post("/v1/chat/completions", json=stream_body)
    data = [d for _, d in events(streamed)]
    assert data[-1] == "[DONE]"
    chunks = [m.OpenAIChatChunk.from_dict(json.loads(d)) for d in data[:-1]]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == content and isinstance(chunks[-1].usage, m.Usage)

    responses = op(openai, "create_response")
    created = responses.sync(client=client, body=m.ResponsesIn(model="qa", input_="Who met in Paris?"))
    assert isinstance(created, m.ResponseOut) and created.status == "completed"
    part = created.output[0].content[0]
    assert part.text == content and part.annotations[0].url == cited.url
    assert content[part.annotations[0].start_index : part.annotations[0].end_index] == "[1]"
    assert created.usage.total_tokens == created.usage.input_tokens + created.usage.output_tokens
    streamed = client.get_httpx_client().post(
        "/v1/responses", json={"model": "qa", "input": "Who met in Paris?", "stream": True}
    )
    named = events(streamed)
    assert named[-1][0] == "response.completed"
    assert m.ResponseLifecycleEvent.from_dict(json.loads(named[-1][1])).response.output[0].content[0].text == content

    embedded = op(openai, "create_embeddings").sync(
        client=client, body=m.EmbeddingsIn(model="qa", input_=["kiln", "glaze"])
    )
    assert isinstance(embedded, m.EmbeddingsOut) and [e.index for e in embedded.data] == [0, 1]
    assert len(embedded.data[0].embedding) == stats.dim

    # -- collections: created (a write: the key), used through `collection`, listed, deleted --
    create = op(collections, "create_collection")
    refused = create.sync_detailed(client=anonymous, body=m.CollectionIn(name="studio"))
    assert refused.status_code == 401
    settings = m.CollectionInSettings.from_dict({"chunk_tokens": 100})
    made = create.sync(client=client, body=m.CollectionIn(name="studio", settings=settings))
    assert isinstance(made, m.CollectionOut) and made.model_id == "studio" and made.documents == 0
    assert add.sync(client=client, body=one, collection="studio").results[0].status == "added"
    here = op(questions, "search").sync(client=client, body=m.QuestionIn(question="kiln", k=3), collection="studio")
    assert [p.doc_id for p in here.passages] == ["notes/kiln"]
    listed = op(collections, "list_collections").sync(client=client)
    assert isinstance(listed, m.CollectionList) and [c.name for c in listed.collections] == ["default", "studio"]
    studio = op(collections, "get_collection").sync("studio", client=client)
    assert studio.overrides.additional_properties == {"chunk_tokens": 100} and studio.documents == 1
    gone_collection = op(collections, "delete_collection").sync("studio", client=client)
    assert isinstance(gone_collection, m.CollectionDeleted) and gone_collection.deleted == "studio"
    missing = get.sync_detailed("notes/kiln", client=client, collection="studio")
    assert missing.status_code == 404 and isinstance(missing.parsed, m.ErrorOut)

    # -- delete, last --
    delete = op(documents, "delete_document")
    deleted = delete.sync("notes/glaze", client=client)
    assert isinstance(deleted, m.DeletedOut) and deleted.deleted == "notes/glaze"
    gone = get.sync_detailed("notes/glaze", client=client)
    assert gone.status_code == 404 and isinstance(gone.parsed, m.ErrorOut) and gone.parsed.error == "not_found"
    assert delete.sync_detailed("notes/raku", client=anonymous).status_code == 401

    # Every operation of the generated client was called.
    assert called == operations(g), operations(g) - called
