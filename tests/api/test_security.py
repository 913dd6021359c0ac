"""API keys, CORS and the refusal to serve an open index on a public address."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.access import add_key
from qa.api import create_app
from qa.config import Settings
from qa.security import allowed_hosts, check_key, is_loopback, needs_key
from qa.service import QAService

from ..fakes import HashEmbedder
from ..live_server import LOCAL

KEY = "s3cret-key-1"


def make_client(tmp_path: Path, **overrides: object) -> TestClient:
    settings = Settings(index_dir=tmp_path, **overrides)  # type: ignore[arg-type]
    return TestClient(create_app(settings, service=QAService(settings, embedder=HashEmbedder())), base_url=LOCAL)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path, api_keys=f"{KEY}, other-key") as c:
        yield c


def test_writes_need_a_valid_key(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    doc = {"id": "a", "text": "Otters hold hands."}
    r = client.post("/v1/documents", json=doc)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
    r = client.post("/v1/documents", json=doc, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = client.post("/v1/documents", json=doc, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 201
    assert client.delete("/v1/documents/a").status_code == 401
    assert client.delete("/v1/documents/a", headers={"Authorization": "Bearer other-key"}).status_code == 200
    # Reads stay open by default; keys never reach the logs.
    assert client.post("/v1/search", json={"question": "otters"}).status_code == 200
    assert client.get("/v1/documents").status_code == 200
    assert KEY not in caplog.text and "other-key" not in caplog.text
    assert KEY not in repr(Settings(api_keys=KEY))


def test_reads_need_a_key_when_configured(tmp_path: Path) -> None:
    with make_client(tmp_path, api_keys=KEY, require_key_for_read=True) as c:
        assert c.post("/v1/search", json={"question": "x"}).status_code == 401
        assert c.get("/v1/documents").status_code == 401
        assert c.get("/v1/documents", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert c.get("/healthz").status_code == 200  # health checks need no key


def test_openai_routes_answer_a_missing_or_wrong_key_with_openai_401(tmp_path: Path) -> None:
    # Was: 403 in qa's shape for a wrong key (the openai SDK's PermissionDeniedError, no message).
    with make_client(tmp_path, api_keys=KEY, require_key_for_read=True) as c:
        for path in ("/v1/models", "/v1/models/qa"):
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                r = c.get(path, headers=headers)
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (path, headers)
                error = r.json()["error"]
                assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
                assert "API key" in error["message"]
        r = c.post("/v1/embeddings", json={"model": "qa", "input": "x"}, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        # qa's own routes keep qa's shape and statuses.
        r = c.get("/v1/documents", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden"


DOCS_AND_METRICS = ("/metrics", "/openapi.json", "/docs", "/redoc")


def test_docs_and_metrics_need_a_key_when_reads_do(tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    with make_client(tmp_path / "a", api_keys=KEY, require_key_for_read=True) as c:
        for path in DOCS_AND_METRICS:
            # Was: open (200) while every /v1/ route needed a key.
            r = c.get(path)
            assert r.status_code == 401 and r.json()["error"] == "unauthorized", path
            assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 403, path
            assert c.get(path, headers=auth).status_code == 200, path
        assert c.get("/healthz").status_code == 200
    # Opened on purpose (e.g. a Prometheus without credentials), or open when reads are.
    with make_client(tmp_path / "b", api_keys=KEY, require_key_for_read=True, open_docs_and_metrics=True) as c:
        assert all(c.get(path).status_code == 200 for path in DOCS_AND_METRICS)
        assert c.get("/v1/documents").status_code == 401
    with make_client(tmp_path / "c", api_keys=KEY) as c:
        assert all(c.get(path).status_code == 200 for path in DOCS_AND_METRICS if path != "/metrics")
        # The metrics count every document, those an access list hides too: admins of every
        # collection only (a QA_API_KEYS key is one), whenever keys are set.
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers=auth).status_code == 200
    with make_client(tmp_path / "d", api_keys=KEY, open_docs_and_metrics=True) as c:
        assert c.get("/metrics").status_code == 200


def test_metrics_need_a_key_that_is_admin_of_every_collection(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    reader = add_key(keys_file, "default:read", principal="fred", groups=["finance"])[0]
    one_admin = add_key(keys_file, "default:admin", principal="ada")[0]
    everywhere = add_key(keys_file, "*:admin", principal="root")[0]
    with make_client(tmp_path / "i", keys_file=str(keys_file)) as c:
        for key in (reader, one_admin):
            r = c.get("/metrics", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 403 and "'admin' scope on collection '*'" in r.json()["message"], r.text
        r = c.get("/metrics", headers={"Authorization": f"Bearer {everywhere}"})
        assert r.status_code == 200 and "qa_index_documents" in r.text


EVIL = "https://evil.example"


def test_pages_on_other_origins_cannot_write(tmp_path: Path) -> None:
    """A page on another site posting documents into a server without keys (a plain `fetch` of
    multipart/form-data needs no preflight), as the attack did; answers then came from them."""
    upload = {"file": ("planted.txt", b"The kiln fires at 9999 degrees.")}
    with make_client(tmp_path, cors_origins="https://app.example") as c:
        for headers in (
            {"Origin": EVIL},  # older browsers: Origin only
            {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame
            {"Origin": "null"},
            {"Origin": "https://other.localhost", "Sec-Fetch-Site": "same-site"},
        ):
            r = c.post("/v1/documents", files=upload, headers=headers)
            # Was: 201, and the planted document answered the next question.
            assert r.status_code == 403, (headers, r.text)
            assert r.json()["error"] == "forbidden" and "QA_CORS_ORIGINS" in r.json()["message"]
        r = c.post("/v1/documents", json={"id": "a", "text": "x y z"}, headers={"Origin": EVIL})
        assert r.status_code == 403
        assert c.delete("/v1/documents/a", headers={"Origin": EVIL}).status_code == 403
        r = c.post("/v1/chat/completions", json={"model": "qa", "messages": []}, headers={"Origin": EVIL})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"  # OpenAI's shape there
        assert c.get("/v1/documents").json()["total"] == 0

        # Allowed: curl and SDKs (no Origin), this server's own page (its Origin, or `null` under a
        # no-referrer policy, with Sec-Fetch-Site: same-origin), the origins of QA_CORS_ORIGINS.
        for i, headers in enumerate(
            (
                {},
                {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
                {"Origin": "http://localhost"},
                {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
                {"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site"},
            )
        ):
            r = c.post("/v1/documents", json={"id": f"d{i}", "text": "Otters hold hands."}, headers=headers)
            assert r.status_code == 201, (headers, r.text)
        messages = [{"role": "user", "content": "Do otters hold hands?"}]
        assert c.post("/v1/chat/completions", json={"model": "qa", "messages": messages}).status_code == 200
        # Reads are CORS' business: the browser keeps their answer from the page.
        assert c.get("/v1/documents", headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_only_configured_host_names_are_answered(tmp_path: Path) -> None:
    """DNS rebinding: a name the attacker controls, resolving to this server, arrives as Host."""
    with make_client(tmp_path / "a") as c:
        r = c.get("/v1/documents", headers={"Host": "rebind.evil.example:8000"})
        # Was: 200, whatever the Host.
        assert r.status_code == 400 and r.json()["error"] == "bad_request" and "QA_ALLOWED_HOSTS" in r.json()["message"]
        assert c.post("/v1/search", json={"question": "x"}, headers={"Host": "evil.example"}).status_code == 400
        for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST."):
            assert c.get("/v1/documents", headers={"Host": host}).status_code == 200, host
        assert c.get("/healthz", headers={"Host": "10.0.0.7:8000"}).status_code == 200  # probes name the pod
    with make_client(tmp_path / "b", allowed_hosts="qa.example.com, 10.0.0.7") as c:
        assert c.get("/v1/documents", headers={"Host": "qa.example.com"}).status_code == 200
        assert c.get("/v1/documents", headers={"Host": "10.0.0.7:8000"}).status_code == 200
        assert c.get("/v1/documents").status_code == 400  # the list replaces the defaults
    with make_client(tmp_path / "c", allowed_hosts="*") as c:
        assert c.get("/v1/documents", headers={"Host": "anything.example"}).status_code == 200
    with make_client(tmp_path / "d", host="192.0.2.5") as c:  # the bind address is answered
        assert c.get("/v1/documents", headers={"Host": "192.0.2.5:8000"}).status_code == 200
    assert allowed_hosts("", "0.0.0.0") == frozenset({"localhost", "127.0.0.1", "::1"})
    assert allowed_hosts("a.example, *", "127.0.0.1") is None


def test_no_keys_means_open(tmp_path: Path) -> None:
    with make_client(tmp_path) as c:
        assert c.post("/v1/documents", json={"id": "a", "text": "hi there"}).status_code == 201


def test_cors_is_closed_by_default_and_configurable(tmp_path: Path) -> None:
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with make_client(tmp_path / "a") as c:
        assert "access-control-allow-origin" not in c.options("/v1/search", headers=pre).headers
    with make_client(tmp_path / "b", cors_origins="https://app.example") as c:
        r = c.options("/v1/search", headers=pre)
        assert r.headers["access-control-allow-origin"] == "https://app.example"


def test_key_check_and_route_rules() -> None:
    with pytest.raises(Exception, match="needs an API key"):
        check_key(None, (KEY,))
    with pytest.raises(Exception, match="needs an API key"):
        check_key(f"Basic {KEY}", (KEY,))
    check_key(f"bearer {KEY}", (KEY,))
    assert needs_key("POST", "/v1/documents", (KEY,), False)
    assert not needs_key("POST", "/v1/search", (KEY,), False)
    assert needs_key("POST", "/v1/search", (KEY,), True)
    assert not needs_key("DELETE", "/v1/documents/x", (), True)
    # /mcp: every call is a POST; it needs a key where reads do (add_document checks its own, qa.api.mcp).
    assert not needs_key("POST", "/mcp", (KEY,), False)
    assert needs_key("POST", "/mcp", (KEY,), True) and needs_key("GET", "/mcp/", (KEY,), True)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


def test_serve_refuses_public_address_without_keys(tmp_path: Path) -> None:
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path)}
    env.pop("QA_API_KEYS", None)
    r = subprocess.run(
        [sys.executable, "-m", "qa", "serve", "--host", "0.0.0.0", "--port", "8999"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert r.returncode == 1 and "refusing to serve on 0.0.0.0" in r.stderr and "Traceback" not in r.stderr
