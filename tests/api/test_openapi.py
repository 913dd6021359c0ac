"""The OpenAPI schema as client generators read it, and the docs pages that show it offline.

What a generated client is made of: one body type per operation, a response schema for every
operation, streams declared beside the JSON they replace, readable operation ids, and the API
key as a security scheme. tests/system/test_openapi_client.py generates the client and calls it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.service import QAService

from ..fakes import HashEmbedder
from ..live_server import LOCAL

OPERATION_IDS = {
    ("get", "/healthz"): "health",
    ("get", "/metrics"): "metrics",
    ("get", "/v1/stats"): "stats",
    ("post", "/v1/search"): "search",
    ("post", "/v1/ask"): "ask",
    ("post", "/v1/chat"): "chat",
    ("get", "/v1/documents"): "list_documents",
    ("post", "/v1/documents"): "add_documents",
    ("post", "/v1/documents/upload"): "upload_document",
    ("get", "/v1/documents/{doc_id}"): "get_document",
    ("delete", "/v1/documents/{doc_id}"): "delete_document",
    ("patch", "/v1/documents/{doc_id}"): "update_document",
    ("post", "/v1/chat/completions"): "chat_completions",
    ("post", "/v1/responses"): "create_response",
    ("get", "/v1/models"): "list_models",
    ("get", "/v1/models/{model_id}"): "get_model",
    ("post", "/v1/embeddings"): "create_embeddings",
    ("get", "/v1/jobs"): "list_jobs",
    ("get", "/v1/jobs/{job_id}"): "get_job",
    ("get", "/v1/collections"): "list_collections",
    ("post", "/v1/collections"): "create_collection",
    ("get", "/v1/collections/{name}"): "get_collection",
    ("delete", "/v1/collections/{name}"): "delete_collection",
}
# Ingestion answers 201 when done, or 202 with a job (qa.jobs): both declared, each with its model.
ACCEPTED = {("post", "/v1/documents"): "IngestResponse", ("post", "/v1/documents/upload"): "IngestResponse"}
WRITES = {
    ("post", "/v1/documents"),
    ("post", "/v1/documents/upload"),
    ("delete", "/v1/documents/{doc_id}"),
    ("post", "/v1/collections"),
    ("delete", "/v1/collections/{name}"),
    ("patch", "/v1/documents/{doc_id}"),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(index_dir=tmp_path_factory.mktemp("openapi"))
    with TestClient(create_app(settings, service=QAService(settings, embedder=HashEmbedder())), base_url=LOCAL) as c:
        yield c


@pytest.fixture(scope="module")
def spec(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()  # type: ignore[no-any-return]


def resolve(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_operation_has_a_readable_id(spec: dict[str, Any]) -> None:
    ids = {(method, path): op["operationId"] for path, ops in spec["paths"].items() for method, op in ops.items()}
    assert ids == OPERATION_IDS  # was FastAPI's `ask_v1_ask_post`...


def test_every_operation_has_one_body_type_and_a_success_schema(spec: dict[str, Any]) -> None:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                assert len(op["requestBody"]["content"]) == 1, (method, path)
            success = [code for code in op["responses"] if code.startswith("2")]
            if (method, path) in ACCEPTED:
                assert success == ["201", "202"], (method, path)
                job = op["responses"]["202"]["content"]["application/json"]["schema"]["$ref"]
                assert job.endswith("/JobOut") and "Location" in op["responses"]["202"]["description"]
            else:
                assert len(success) == 1, (method, path)
            content = op["responses"][success[0]]["content"]
            # The first media type is what a generated client parses: JSON, or /metrics' text.
            first, media = next(iter(content.items()))
            assert first == ("text/plain" if path == "/metrics" else "application/json"), (method, path)
            schema = media["schema"]
            assert schema.get("$ref") or schema.get("type") == "string", (method, path)
            # No anonymous `dict[str, Any]` responses (`delete_document_v1_..._response`).
            if "$ref" in schema:
                assert resolve(spec, schema["$ref"]).get("properties"), (method, path)
    # Every reference resolves (the bodies and events registered by hand included).
    for ref in refs(spec):
        resolve(spec, ref)


def test_documents_json_and_upload_are_separate_operations(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/v1/documents"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {resolve(spec, r["$ref"])["title"] for r in body["oneOf"]} == {"DocumentIn", "DocumentsIn"}
    upload = spec["paths"]["/v1/documents/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]
    form = resolve(spec, upload["schema"]["$ref"])
    assert form["required"] == ["file"] and form["properties"]["file"]["format"] == "binary"
    # Optional fields, never null: a generated client would send the string "None".
    for field in ("id", "title", "metadata"):
        assert form["properties"][field]["type"] == "string"
        assert "null" not in str(form["properties"][field]) and "default" not in form["properties"][field]
    # The old multipart form on /v1/documents is described, not declared.
    assert "/v1/documents/upload" in spec["paths"]["/v1/documents"]["post"]["description"]


@pytest.mark.parametrize(
    ("path", "json_model", "events"),
    [
        ("/v1/chat", "ChatOut", {"passages", "delta", "answer", "citations", "done", "error"}),
        ("/v1/chat/completions", "OpenAIChatOut", {""}),
        (
            "/v1/responses",
            "ResponseOut",
            {
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.annotation.added",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
                "error",
                "response.failed",
            },
        ),
    ],
)
def test_streams_are_declared_beside_the_json(spec: dict[str, Any], path: str, json_model: str, events: set) -> None:
    content = spec["paths"][path]["post"]["responses"]["200"]["content"]
    assert list(content) == ["application/json", "text/event-stream"]
    assert content["application/json"]["schema"]["$ref"].endswith("/" + json_model)
    stream = content["text/event-stream"]
    assert stream["schema"]["type"] == "string" and "event" in stream["schema"]["description"]
    assert set(stream["x-events"]) == events
    for ref in stream["x-events"].values():
        assert resolve(spec, ref["$ref"])["properties"]


def test_the_api_key_is_a_bearer_scheme_required_for_writes_optional_for_reads(spec: dict[str, Any]) -> None:
    (name, scheme), *_ = spec["components"]["securitySchemes"].items()
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "QA_REQUIRE_KEY_FOR_READ" in scheme["description"]
    for method, path in OPERATION_IDS:
        security = spec["paths"][path][method]["security"]
        if (method, path) in WRITES or path == "/metrics":  # the metrics count every document
            assert security == [{name: []}], (method, path)
        elif path == "/healthz":
            assert security == [], (method, path)  # always open
        else:
            assert security == [{}, {name: []}], (method, path)  # `{}`: no key is fine too


def test_responses_match_their_models(client: TestClient, spec: dict[str, Any]) -> None:
    """The routes that returned plain dicts send what their new models say."""
    schemas = spec["components"]["schemas"]
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and "problems" not in health  # unchanged: no null fields added
    assert set(schemas["HealthOut"]["required"]) <= set(health)
    stats = client.get("/v1/stats").json()
    assert set(schemas["StatsOut"]["required"]) <= set(stats) and "path" in stats
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain") and "qa_http_requests_total" in metrics.text


# -- the docs pages, offline --------------------------------------------------------------------

SCRIPT = re.compile(r"<script[^>]*>(.*?)</script>", re.S)


@pytest.mark.parametrize(("page", "assets"), [("/docs", 3), ("/redoc", 2)])
def test_docs_pages_load_only_this_servers_files_under_a_csp(client: TestClient, page: str, assets: int) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self'" in csp and "unsafe-eval" not in csp
    html = r.text
    # Nothing from a CDN, and no inline script (the CSP would block it).
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert all(body.strip() == "" for body in SCRIPT.findall(html))
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len([u for u in urls if u.endswith((".js", ".css"))]) == assets, urls
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200 and asset.content, url
        assert asset.headers["x-content-type-options"] == "nosniff"
    assert 'data-openapi-url="/openapi.json"' in html


def test_docs_assets_are_the_bundled_files_and_nothing_else(client: TestClient) -> None:
    js = client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.headers["content-type"].startswith("text/javascript") and len(js.content) > 500_000
    assert client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    # Swagger UI's online validator badge would load from the network: turned off.
    assert "validatorUrl: null" in client.get("/docs/assets/swagger-init.js").text
    for name in ("../app.py", "..%2Fapp.py", "missing.js", "%2e%2e%2fschemas.py"):
        assert client.get(f"/docs/assets/{name}").status_code == 404, name


def test_docs_pages_behind_a_path_prefix(tmp_path: Path) -> None:
    """Behind a proxy that mounts qa under a prefix (`--root-path`), the pages point under it."""
    settings = Settings(index_dir=tmp_path)
    app = create_app(settings, service=QAService(settings, embedder=HashEmbedder()))
    with TestClient(app, base_url=LOCAL, root_path="/qa") as c:
        html = c.get("/docs").text
    assert 'data-openapi-url="/qa/openapi.json"' in html and 'src="/qa/docs/assets/swagger-ui-bundle.js"' in html
