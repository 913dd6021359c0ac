"""The access isolation suite, shared by the embedded store (tests/api/test_access.py, in-process)
and PostgreSQL (tests/system/test_access_pg.py, a live server): documents for group ``hr``, group
``finance`` and everyone; a finance key must never read, find, be answered from, be cited by, list,
count or fetch an hr document, through any route or stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from qa.access import add_key

# Written in every hr document: no response to a finance key may ever contain it.
HR_MARK = "Zorblax"
HR_DOCS = {
    "hr-salaries": "Salary review 2026. The salary bands for engineers rise by four percent. "
    f"Alice's salary is 91,000 euros. Codename {HR_MARK}.",
    "hr-reviews": "Performance reviews happen each March. A salary raise follows a strong review. "
    f"The HR team keeps review notes private. Codename {HR_MARK}.",
}
FINANCE_DOCS = {
    "fin-budget": "The 2026 budget plans salary costs of 12 million euros and travel costs of one million.",
    "fin-invoices": "Invoices are paid within thirty days. Salary payments run on the 25th of each month.",
    "fin-audit": "The annual audit checks the budget, the invoices and the salary ledger in April.",
}
PUBLIC_DOCS = {"handbook": "The employee handbook explains holidays, salary days and the office opening hours."}
VISIBLE_TO_FINANCE = set(FINANCE_DOCS) | set(PUBLIC_DOCS)


class Client(Protocol):
    def get(self, url: str, **kw: Any) -> Any: ...
    def post(self, url: str, **kw: Any) -> Any: ...
    def patch(self, url: str, **kw: Any) -> Any: ...
    def delete(self, url: str, **kw: Any) -> Any: ...


def make_keys(path: Path) -> dict[str, str]:
    """A keys file with an admin, an hr reader, a finance reader and a finance writer."""
    keys = {
        "admin": add_key(path, "*:admin", principal="root")[0],
        "hr": add_key(path, "default:read", principal="hana", groups=["hr"])[0],
        "finance": add_key(path, "default:read", principal="fred", groups=["finance"])[0],
        "finance_writer": add_key(path, "default:read,write", principal="fiona", groups=["finance"])[0],
    }
    return keys


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def seed(client: Client, admin_key: str) -> None:
    docs = [{"id": i, "title": i, "text": t, "access": ["group:hr"]} for i, t in HR_DOCS.items()]
    docs += [{"id": i, "title": i, "text": t, "access": ["group:finance"]} for i, t in FINANCE_DOCS.items()]
    docs += [{"id": i, "title": i, "text": t} for i, t in PUBLIC_DOCS.items()]
    r = client.post("/v1/documents", json={"documents": docs}, headers=auth(admin_key))
    assert r.status_code == 201, r.text


def clean(text: str) -> None:
    """A finance key's response: nothing of an hr document in it."""
    assert HR_MARK not in text, text[:2000]
    for doc_id in HR_DOCS:
        assert doc_id not in text, (doc_id, text[:2000])


def mcp_call(client: Client, key: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One MCP tool call over streamable HTTP (stateless, JSON responses), as a client sends it."""
    headers = {**auth(key), "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    r = client.post("/mcp", json=body, headers=headers)
    assert r.status_code == 200, r.text
    # The id asked for is echoed back by the refusal; nothing else of the document may be.
    clean(r.text.replace(f"'{arguments.get('doc_id')}'", ""))
    return r.json()["result"]  # type: ignore[no-any-return]


def check_isolation(client: Client, keys: dict[str, str], k: int = 3) -> None:
    """Every read route, with and without streams, for the finance key; the hr key as a control."""
    fin = auth(keys["finance"])
    question = "What is Alice's salary in the salary review?"

    # The control: the same question finds hr's documents for hr, so what follows is not vacuous.
    r = client.post("/v1/search", json={"question": question, "k": k}, headers=auth(keys["hr"]))
    assert r.status_code == 200 and {p["doc_id"] for p in r.json()["passages"]} & set(HR_DOCS), r.text

    for mode in ("hybrid", "dense", "lexical"):
        r = client.post("/v1/search", json={"question": question, "k": k, "mode": mode}, headers=fin)
        assert r.status_code == 200, r.text
        clean(r.text)
        passages = r.json()["passages"]
        assert len(passages) == k, (mode, passages)  # k honoured from the visible documents
        assert {p["doc_id"] for p in passages} <= VISIBLE_TO_FINANCE
    # A filter naming an hr document finds nothing, rather than the document.
    r = client.post("/v1/search", json={"question": question, "filters": {"doc_id": "hr-salaries"}}, headers=fin)
    assert r.status_code == 200 and r.json()["passages"] == []

    r = client.post("/v1/ask", json={"question": question, "k": k}, headers=fin)
    assert r.status_code == 200, r.text
    clean(r.text)
    assert {c["doc_id"] for c in r.json()["citations"]} <= VISIBLE_TO_FINANCE

    turns = [
        {"role": "user", "content": "Who keeps the review notes?"},
        {"role": "assistant", "content": "I could not find that."},
        {"role": "user", "content": "And what is Alice's salary?"},
    ]
    for stream in (False, True):
        r = client.post("/v1/chat", json={"messages": turns, "stream": stream}, headers=fin)
        assert r.status_code == 200, r.text
        clean(r.text)
        body = {"model": "qa", "messages": turns, "stream": stream}
        r = client.post("/v1/chat/completions", json=body, headers=fin)
        assert r.status_code == 200, r.text
        clean(r.text)
        r = client.post("/v1/responses", json={"model": "qa", "input": question, "stream": stream}, headers=fin)
        assert r.status_code == 200, r.text
        clean(r.text)

    # Documents: listed, counted and fetched as if hr's did not exist.
    r = client.get("/v1/documents", headers=fin)
    assert r.status_code == 200
    clean(r.text)
    assert r.json()["total"] == len(VISIBLE_TO_FINANCE)
    assert {d["id"] for d in r.json()["documents"]} == VISIBLE_TO_FINANCE
    for doc_id in HR_DOCS:
        for url in (f"/v1/documents/{doc_id}", f"/v1/documents/{doc_id}?include_text=true"):
            r = client.get(url, headers=fin)
            assert r.status_code == 404 and r.json()["error"] == "not_found", r.text
    assert client.get("/v1/documents/fin-budget?include_text=true", headers=fin).status_code == 200
    assert client.get("/v1/stats", headers=fin).status_code == 403  # counts of everything: admins only
    # Was: /metrics open to every key and to none, its qa_index_documents counting hr's documents too.
    for headers in (fin, {}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code in (401, 403) and "qa_index_documents" not in r.text, headers
    assert "qa_index_documents" in client.get("/metrics", headers=auth(keys["admin"])).text

    # MCP over HTTP: the same caller, the same view.
    found = mcp_call(client, keys["finance"], "search", {"query": question, "k": k})
    assert {p["doc_id"] for p in found["structuredContent"]["passages"]} <= VISIBLE_TO_FINANCE
    assert len(found["structuredContent"]["passages"]) == k
    mcp_call(client, keys["finance"], "ask", {"question": question})
    listed = mcp_call(client, keys["finance"], "list_documents", {})
    assert listed["structuredContent"]["total"] == len(VISIBLE_TO_FINANCE)
    fetched = mcp_call(client, keys["finance"], "get_document", {"doc_id": "hr-salaries"})
    assert fetched["isError"] is True

    # Writers cannot reach past what they see either.
    w = auth(keys["finance_writer"])
    assert client.delete("/v1/documents/hr-salaries", headers=w).status_code == 404
    assert client.patch("/v1/documents/hr-salaries", json={"access": None}, headers=w).status_code == 404
    r = client.post("/v1/documents", json={"id": "hr-salaries", "text": "overwritten"}, headers=w)
    assert r.status_code == 403, r.text
    # The admin still sees every document.
    r = client.get("/v1/documents", headers=auth(keys["admin"]))
    assert r.json()["total"] == len(HR_DOCS) + len(VISIBLE_TO_FINANCE)


def sse_text(text: str) -> list[dict[str, Any]]:
    """The JSON data of a server-sent event stream."""
    out = []
    for line in text.splitlines():
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            out.append(json.loads(line[5:]))
    return out
