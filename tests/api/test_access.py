"""Access control on the embedded store: keys with scopes (QA_KEYS_FILE), per-document access
lists, and the isolation suite (tests/isolation.py) over every read route and stream."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.access import Caller, Keyring, add_key, check_access, read_keys_file, remove_key
from qa.api import create_app
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import Forbidden, InvalidInput, Unauthorized
from qa.service import QAService

from ..isolation import HR_DOCS, auth, check_isolation, make_keys, seed
from ..live_server import LOCAL


@pytest.fixture
def keyed(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[TestClient, dict[str, str]]]:
    keys_file = tmp_path / "keys.json"
    keys = make_keys(keys_file)
    settings = Settings(index_dir=tmp_path / "index", keys_file=str(keys_file), api_keys="plain-admin-key")
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as client:
        seed(client, keys["admin"])
        yield client, keys
    svc.close()


def test_a_finance_key_never_reaches_hr_documents(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    check_isolation(client, keys)


def test_keys_file_stores_digests_and_keys_stay_out_of_logs(
    keyed: tuple[TestClient, dict[str, str]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client, keys = keyed
    caplog.set_level(logging.DEBUG)
    stored = (tmp_path / "keys.json").read_text()
    assert all(key not in stored for key in keys.values())
    assert {e.principal for e in read_keys_file(tmp_path / "keys.json")} == {"root", "hana", "fred", "fiona"}
    client.post("/v1/search", json={"question": "salary"}, headers=auth(keys["finance"]))
    client.post("/v1/documents", json={"text": "x"}, headers=auth(keys["finance"]))
    assert all(key not in caplog.text for key in keys.values())


def test_wrong_or_missing_key_and_missing_scope(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    doc = {"id": "new", "text": "Quarterly numbers.", "access": ["group:finance"]}
    r = client.post("/v1/documents", json=doc)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = client.post("/v1/documents", json=doc, headers=auth("not-a-key"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = client.post("/v1/search", json={"question": "x"}, headers=auth("not-a-key"))
    assert r.status_code == 403  # a mistyped key is told so, not served as no key
    r = client.post("/v1/chat/completions", json={"model": "qa", "messages": []}, headers=auth("nope"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    # A read-only key cannot write, delete or change access.
    r = client.post("/v1/documents", json=doc, headers=auth(keys["finance"]))
    assert r.status_code == 403 and "'write' scope" in r.json()["message"]
    assert client.delete("/v1/documents/fin-budget", headers=auth(keys["finance"])).status_code == 403
    r = client.patch("/v1/documents/fin-budget", json={"access": None}, headers=auth(keys["finance"]))
    assert r.status_code == 403
    # A writer can, within what it sees; the plain QA_API_KEYS key is an admin.
    assert client.post("/v1/documents", json=doc, headers=auth(keys["finance_writer"])).status_code == 201
    assert client.get("/v1/stats", headers=auth("plain-admin-key")).status_code == 200
    # Counts of everything are for admins: /healthz leaves them out for others.
    assert "documents" not in client.get("/healthz", headers=auth(keys["finance"])).json()
    assert client.get("/healthz", headers=auth(keys["admin"])).json()["documents"] == 7  # 6 seeded + "new"
    # Without a key, reads see the public documents only.
    r = client.get("/v1/documents")
    assert r.status_code == 200 and [d["id"] for d in r.json()["documents"]] == ["handbook"]


def test_access_changes_without_reembedding(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    fin, admin = auth(keys["finance"]), auth(keys["admin"])
    assert client.get("/v1/documents/hr-reviews", headers=fin).status_code == 404
    r = client.patch("/v1/documents/hr-reviews", json={"access": ["group:hr", "group:finance"]}, headers=admin)
    assert r.status_code == 200 and r.json()["metadata"]["access"] == ["group:finance", "group:hr"]
    assert client.get("/v1/documents/hr-reviews", headers=fin).status_code == 200
    r = client.post("/v1/search", json={"question": "performance reviews in March", "k": 1}, headers=fin)
    assert r.json()["passages"][0]["doc_id"] == "hr-reviews"
    # Sending the document again as it was is a change (its access list differs), not "unchanged".
    again = {"id": "hr-reviews", "title": "hr-reviews", "text": HR_DOCS["hr-reviews"], "access": ["group:hr"]}
    r = client.post("/v1/documents", json=again, headers=admin)
    assert r.json()["results"][0]["status"] == "updated"
    assert client.get("/v1/documents/hr-reviews", headers=fin).status_code == 404
    bad = client.patch("/v1/documents/hr-reviews", json={"access": ["hr"]}, headers=admin)
    assert bad.status_code == 422 and "group:<name>" in bad.json()["message"]


def test_upload_form_takes_an_access_list(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    files = {"file": ("pay.txt", b"Payroll closes on the 20th.", "text/plain")}
    r = client.post("/v1/documents/upload", files=files, data={"access": "group:hr"}, headers=auth(keys["admin"]))
    assert r.status_code == 201, r.text
    doc_id = r.json()["results"][0]["id"]
    assert client.get(f"/v1/documents/{doc_id}", headers=auth(keys["hr"])).status_code == 200
    assert client.get(f"/v1/documents/{doc_id}", headers=auth(keys["finance"])).status_code == 404


def test_jobs_are_seen_by_their_owner_and_admins(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    doc = {"id": "fin-q3", "text": "Q3 closes in October.", "access": ["group:finance"]}
    r = client.post("/v1/documents?async=true", json=doc, headers=auth(keys["finance_writer"]))
    assert r.status_code == 202
    job_id = r.json()["id"]
    assert client.get(f"/v1/jobs/{job_id}", headers=auth(keys["finance_writer"])).status_code == 200
    assert client.get(f"/v1/jobs/{job_id}", headers=auth(keys["admin"])).status_code == 200
    assert client.get(f"/v1/jobs/{job_id}", headers=auth(keys["finance"])).status_code == 404
    assert client.get("/v1/jobs", headers=auth(keys["finance"])).json()["total"] == 0


def test_caller_scopes_and_visibility() -> None:
    reader = Caller("fred", ("finance",), {"default": frozenset({"read"})})
    assert reader.can("read") and not reader.can("write") and not reader.can("read", "other")
    assert reader.identities() == ("user:fred", "group:finance")
    assert reader.sees(None) and reader.sees(["group:finance"]) and not reader.sees(["group:hr"])
    assert not reader.sees([])  # an empty list: admins only
    admin = Caller(scopes={"*": frozenset({"admin"})})
    assert admin.can("write", "any") and admin.sees(["group:hr"]) and admin.visibility() is None
    assert check_access("user:alice, group:hr") == ["group:hr", "user:alice"]
    with pytest.raises(InvalidInput, match="group:<name>"):
        check_access(["hr"])


def test_keyring_compares_digests(tmp_path: Path) -> None:
    ring = Keyring(plain=["k1"])
    assert ring.caller("Bearer k1").can("admin")
    with pytest.raises(Unauthorized):
        ring.caller(None)
    with pytest.raises(Forbidden):
        ring.caller("Bearer k2")


def test_keyring_reads_the_keys_file_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    keys_file = tmp_path / "keys.json"
    first, _ = add_key(keys_file, "default:read", "alice")
    ring = Keyring.load(keys_file, ["plain"])
    second, entry = add_key(keys_file, "default:write", "bob")
    # Looked at once a second at most: not yet.
    with pytest.raises(Forbidden):
        ring.caller(f"Bearer {second}")
    monkeypatch.setattr(Keyring, "RELOAD_SECONDS", 0.0)
    assert ring.caller(f"Bearer {second}").can("write") and ring.caller(f"Bearer {first}").principal == "alice"
    # Removed: refused at once; the plain keys stay.
    remove_key(keys_file, entry.id)
    with pytest.raises(Forbidden):
        ring.caller(f"Bearer {second}")
    assert ring.caller("Bearer plain").can("admin")
    # A file that cannot be read keeps the keys read before, and says so.
    keys_file.write_text("{not json")
    assert ring.caller(f"Bearer {first}").principal == "alice"
    assert "cannot be read" in caplog.text
    # A keys file removed leaves keys required, with none of its keys valid: never an open server.
    keys_file.unlink()
    only_file = Keyring.load(tmp_path / "other.json")
    assert not only_file  # no keys at all: open, as before
    third, _ = add_key(tmp_path / "other.json", "default:read", "carol")
    assert only_file and only_file.caller(f"Bearer {third}").principal == "carol"
    (tmp_path / "other.json").unlink()
    assert only_file
    with pytest.raises(Forbidden):
        only_file.caller(f"Bearer {third}")


def test_a_key_added_while_the_server_runs_works_without_a_restart(
    keyed: tuple[TestClient, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from qa.cli import app

    client, keys = keyed
    monkeypatch.setattr(Keyring, "RELOAD_SECONDS", 0.0)
    added = CliRunner().invoke(
        app,
        ["keys", "add", "--file", str(tmp_path / "keys.json"), "--scope", "default:read", "--principal", "gus"],
    )
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[0]
    r = client.post("/v1/search", json={"question": "salary", "k": 3}, headers=auth(key))
    assert r.status_code == 200, r.text
    assert all(p["doc_id"] not in HR_DOCS for p in r.json()["passages"])
    listed = CliRunner().invoke(app, ["keys", "list", "--file", str(tmp_path / "keys.json")])
    key_id = next(line.split()[0] for line in listed.stdout.splitlines() if "gus" in line)
    assert CliRunner().invoke(app, ["keys", "remove", "--file", str(tmp_path / "keys.json"), key_id]).exit_code == 0
    assert client.post("/v1/search", json={"question": "salary"}, headers=auth(key)).status_code == 403


def test_cli_adds_lists_and_removes_keys(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qa.cli import app

    keys_file = str(tmp_path / "keys.json")
    runner = CliRunner()
    added = runner.invoke(
        app, ["keys", "add", "--file", keys_file, "--scope", "default:read", "--principal", "alice", "--group", "hr"]
    )
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[0]
    assert key.startswith("qa_") and key not in (tmp_path / "keys.json").read_text()
    caller = Keyring.load(keys_file).caller(f"Bearer {key}")
    assert caller.principal == "alice" and caller.groups == ("hr",) and not caller.can("write")
    listed = runner.invoke(app, ["keys", "list", "--file", keys_file])
    assert "alice" in listed.stdout and key not in listed.stdout
    key_id = listed.stdout.split()[0]
    assert runner.invoke(app, ["keys", "remove", "--file", keys_file, key_id]).exit_code == 0
    assert read_keys_file(tmp_path / "keys.json") == []


def test_folder_sidecar_sets_access(tmp_path: Path, make_service: Callable[..., QAService]) -> None:
    folder = tmp_path / "docs"
    (folder / "hr").mkdir(parents=True)
    (folder / "hr" / ".qa-meta.json").write_text('{"access": ["group:hr"]}')
    (folder / "hr" / "pay.md").write_text("Payroll runs on the 25th.")
    (folder / "open.md").write_text("The office opens at nine.")
    svc = make_service()
    svc.index_paths([folder])
    fred = Caller("fred", ("finance",), {"default": frozenset({"read"})})
    hana = Caller("hana", ("hr",), {"default": frozenset({"read"})})
    assert [d.path for d in svc.list_documents(caller=fred)[0]] == ["open.md"]
    assert {d.path for d in svc.list_documents(caller=hana)[0]} == {"open.md", "hr/pay.md"}
    assert {p.doc_id for p in svc.search("When does payroll run?", 5, caller=fred)} == {str(folder / "open.md")}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / ".qa-meta.json").write_text('{"access": "hr"}')
    (bad / "x.md").write_text("Text.")
    assert svc.index_paths([bad]).failed  # refused with the reason, not indexed public


def test_scopes_are_per_collection_on_every_route(tmp_path: Path, embedder: Embedder) -> None:
    """A key with read on ``hr`` only reads ``hr`` (by ``?collection=``, by the OpenAI ``model``,
    over MCP) and nothing of ``default``; collections are created and deleted by their admins, and
    their counts are shown to admins only."""
    keys_file = tmp_path / "keys.json"
    admin = add_key(keys_file, "*:admin", principal="root")[0]
    hr_reader = add_key(keys_file, "hr:read", principal="hana", groups=["hr"])[0]
    hr_admin = add_key(keys_file, "hr:admin", principal="hal")[0]
    settings = Settings(index_dir=tmp_path / "index", keys_file=str(keys_file))
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as client:
        r = client.post("/v1/collections", json={"name": "hr"}, headers=auth(hr_reader))
        assert r.status_code == 403 and "'admin' scope on collection 'hr'" in r.json()["message"]
        assert client.post("/v1/collections", json={"name": "ops"}, headers=auth(hr_admin)).status_code == 403
        assert client.post("/v1/collections", json={"name": "hr"}, headers=auth(hr_admin)).status_code == 201
        doc = {"id": "leave", "text": "Parental leave lasts sixteen weeks at full pay."}
        assert client.post("/v1/documents?collection=hr", json=doc, headers=auth(hr_admin)).status_code == 201
        secret = {"id": "plan", "text": "The default collection holds the merger plan for March."}
        assert client.post("/v1/documents", json=secret, headers=auth(admin)).status_code == 201

        ask = {"question": "How long does parental leave last?"}
        r = client.post("/v1/ask?collection=hr", json=ask, headers=auth(hr_reader))
        assert r.status_code == 200 and r.json()["citations"][0]["doc_id"] == "leave"
        for path in ("/v1/ask", "/v1/ask?collection=default"):
            r = client.post(path, json={"question": "What does the merger plan say?"}, headers=auth(hr_reader))
            assert r.status_code == 403 and "merger" not in r.text
        assert client.get("/v1/documents", headers=auth(hr_reader)).status_code == 403
        # The OpenAI routes: the models listed are the collections the key reads; `model` is checked.
        models = client.get("/v1/models", headers=auth(hr_reader)).json()["data"]
        assert [m["id"] for m in models] == ["hr"]
        assert client.get("/v1/models/qa", headers=auth(hr_reader)).status_code == 404
        chat = {"messages": [{"role": "user", "content": "How long does parental leave last?"}]}
        r = client.post("/v1/chat/completions", json={**chat, "model": "hr"}, headers=auth(hr_reader))
        assert r.status_code == 200 and "sixteen weeks" in r.json()["choices"][0]["message"]["content"]
        r = client.post("/v1/chat/completions", json={**chat, "model": "qa"}, headers=auth(hr_reader))
        assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
        r = client.post("/v1/responses", json={"model": "qa", "input": "merger plan"}, headers=auth(hr_reader))
        assert r.status_code == 403 and "merger" not in r.text
        r = client.post("/v1/embeddings", json={"model": "qa", "input": "x"}, headers=auth(hr_reader))
        assert r.status_code == 403
        # Collections: listed when readable; counts for admins only.
        listed = client.get("/v1/collections", headers=auth(hr_reader)).json()["collections"]
        assert [(c["name"], c["documents"]) for c in listed] == [("hr", None)]
        assert client.get("/v1/collections/hr", headers=auth(hr_admin)).json()["documents"] == 1
        assert client.get("/v1/collections/default", headers=auth(hr_reader)).status_code == 403
        assert client.delete("/v1/collections/hr", headers=auth(hr_reader)).status_code == 403
        assert client.delete("/v1/collections/hr", headers=auth(hr_admin)).status_code == 200
    svc.close()
