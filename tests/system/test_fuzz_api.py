"""schemathesis against the app's own OpenAPI schema: every operation, valid and invalid inputs,
at least 1,000 requests from a fixed seed. No 5xx, no status code the schema does not document,
and the declared content type.

The real app with the bundled model, on the sample documents; requests go through the ASGI
transport (no sockets), which is what the schema is fuzzed for.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from qa.api import create_app
from qa.service import QAService

from ..live_server import LOCAL

DOCS = Path(__file__).resolve().parents[2] / "examples" / "docs"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
# Valid examples per operation (and half as many invalid ones). An answer costs dozens of sentence
# embeddings, a listing almost nothing; operations without inputs have one possible request.
EXAMPLES = {
    "POST /v1/ask": 20,
    "POST /v1/chat": 24,
    "POST /v1/chat/completions": 60,
    "POST /v1/search": 110,
    "POST /v1/documents": 60,
    "POST /v1/documents/upload": 60,
    "GET /v1/documents": 170,
    "GET /v1/documents/{doc_id}": 170,
    "DELETE /v1/documents/{doc_id}": 120,
}
DEFAULT_EXAMPLES = 20
MIN_REQUESTS = 1000
# QA_FUZZ_SCALE=N makes N times as many requests (a longer run by hand; CI runs the default).
SCALE = max(1, int(os.environ.get("QA_FUZZ_SCALE", "1")))


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors_or_undocumented_statuses(
    make_service: Callable[..., QAService],
) -> None:
    # schemathesis names its in-process app `testserver`.
    svc = make_service("fuzz", allowed_hosts="testserver")
    svc.index_paths([DOCS])
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(svc.settings, service=svc))
    sent: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    no_negative: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    # Every route the schema lists is fuzzed, and the schema lists every route of the API.
    assert {"POST /v1/search", "POST /v1/ask", "POST /v1/documents", "GET /v1/documents/{doc_id}"} <= labels
    assert {"DELETE /v1/documents/{doc_id}", "POST /v1/chat", "POST /v1/chat/completions"} <= labels
    assert {"POST /v1/documents/upload", "GET /metrics", "POST /v1/embeddings", "POST /v1/responses"} <= labels

    def fuzz(op: APIOperation, mode: GenerationMode, examples: int) -> None:
        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            derandomize=True,  # a fixed seed: the same requests every run
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call()
            sent[op.label] += 1
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            # Negative mode on an operation whose inputs cannot be made invalid (a free-form path
            # string): schemathesis generates nothing, which is not a finding.
            assert mode is GenerationMode.NEGATIVE, op.label
            no_negative.append(op.label)

    paths = schema.raw_schema["paths"]
    for op in operations:
        examples = EXAMPLES.get(op.label, DEFAULT_EXAMPLES) * SCALE
        fuzz(op, GenerationMode.POSITIVE, examples)
        spec = paths[op.path][op.method.lower()]
        if spec.get("parameters") or spec.get("requestBody"):  # else there is nothing to make invalid
            fuzz(op, GenerationMode.NEGATIVE, examples // 2)

    total = sum(sent.values())
    print(f"schemathesis: {total} requests, statuses {dict(sorted(statuses.items()))}")
    assert total >= MIN_REQUESTS * SCALE, f"only {total} requests: {dict(sent)}"
    assert set(sent) == labels, f"operations never exercised: {labels - set(sent)}"
    assert len(no_negative) <= 2, f"no invalid requests could be made for {no_negative}"
    # Both valid and invalid requests were made and answered: successes and 4xx alike.
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses), statuses


def test_findings_stay_fixed(tmp_path: Path) -> None:
    """What the fuzzer found, pinned as plain regressions (fast: the hash embedder)."""
    from fastapi.testclient import TestClient

    from qa.config import Settings

    from ..fakes import HashEmbedder

    settings = Settings(index_dir=tmp_path)
    app = create_app(settings, service=QAService(settings, embedder=HashEmbedder()))
    with TestClient(app, base_url=LOCAL) as client:
        # An offset past SQLite's 64-bit integers was a 500 (OverflowError); now a 422 naming the bound.
        r = client.get("/v1/documents", params={"offset": 2**63, "limit": 1})
        assert r.status_code == 422 and r.json()["error"] == "invalid_input" and "offset" in r.json()["message"]
        assert client.get("/v1/documents", params={"offset": 2**63 - 1}).json()["documents"] == []
        # The OpenAI route's errors are documented (400, never 422, as OpenAI's), and its body
        # schema's references resolve.
        spec = client.get("/openapi.json").json()
        op = spec["paths"]["/v1/chat/completions"]["post"]
        assert {"400", "401", "404", "413"} <= set(op["responses"]) and "422" not in op["responses"]
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        message_ref = spec["components"]["schemas"][ref]["properties"]["messages"]["items"]["$ref"]
        assert message_ref.rsplit("/", 1)[1] in spec["components"]["schemas"]
