"""`qa collection ...` and `--collection`, run as real subprocesses (the real model, FAISS, SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import qa

HR = "Parental leave policy. Employees receive sixteen weeks of paid parental leave after a birth or adoption."


def test_collection_commands_and_isolation(tmp_path: Path) -> None:
    docs = tmp_path / "hr"
    docs.mkdir()
    (docs / "leave.md").write_text(HR, "utf-8")
    r = qa(tmp_path, "collection", "create", "hr", "--chunk-tokens", "120", "--language", "en", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["overrides"] == {"chunk_tokens": 120, "language": "en"}

    # Indexed into hr with --collection, and through QA_COLLECTION: never in the default.
    r = qa(tmp_path, "--collection", "hr", "index", str(docs), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["added"] == 1, r.stderr
    ask = qa(tmp_path, "ask", "How many weeks of parental leave?", "--json", QA_COLLECTION="hr")
    assert ask.returncode == 0 and "sixteen weeks" in json.loads(ask.stdout)["answer"], ask.stderr
    found = qa(tmp_path, "--collection", "hr", "search", "parental leave", "--mode", "lexical", "--json")
    assert json.loads(found.stdout)["passages"][0]["doc_id"].endswith("leave.md")
    listed = json.loads(qa(tmp_path, "--collection", "hr", "list", "--json").stdout)
    assert listed["total"] == 1
    # ... and after the command, as a new user types it
    after = qa(tmp_path, "ask", "How many weeks of parental leave?", "--collection", "hr", "--json")
    assert after.returncode == 0 and "sixteen weeks" in json.loads(after.stdout)["answer"], after.stderr
    assert json.loads(qa(tmp_path, "list", "--json", "--collection", "hr").stdout)["total"] == 1
    r = qa(tmp_path, "index", str(docs), "--collection", "hr", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["unchanged"] == 1, r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert qa(tmp_path, "index", str(empty)).returncode == 0  # the default collection, made empty
    assert json.loads(qa(tmp_path, "list", "--json").stdout)["total"] == 0
    lexical = qa(tmp_path, "search", "parental leave", "--mode", "lexical", "--json")
    assert json.loads(lexical.stdout)["passages"] == []

    # list and show
    listed = json.loads(qa(tmp_path, "collection", "list", "--json").stdout)
    assert [(c["name"], c["documents"]) for c in listed] == [("default", 0), ("hr", 1)]
    shown = qa(tmp_path, "collection", "show", "hr")
    assert shown.returncode == 0 and "chunk_tokens = 120 (set)" in shown.stdout

    # export from hr, import into a new collection: created with hr's settings, no re-embedding
    dump = tmp_path / "hr.jsonl"
    assert qa(tmp_path, "--collection", "hr", "export", str(dump)).returncode == 0
    r = qa(tmp_path, "--collection", "hr2", "import", str(dump), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["documents"] == 1, r.stderr
    hr2 = json.loads(qa(tmp_path, "collection", "show", "hr2", "--json").stdout)
    assert hr2["overrides"]["chunk_tokens"] == 120 and hr2["documents"] == 1

    # delete needs --yes when not interactive; the default is never deleted
    r = qa(tmp_path, "collection", "delete", "hr2")
    assert r.returncode == 1 and "--yes" in r.stderr
    assert qa(tmp_path, "collection", "delete", "hr2", "--yes").returncode == 0
    assert not (tmp_path / "index" / "hr2").exists()
    r = qa(tmp_path, "collection", "delete", "default", "--yes")
    assert r.returncode == 1 and "cannot be deleted" in r.stderr


def test_bad_input_is_one_line_and_an_exit_code(tmp_path: Path) -> None:
    for args in (
        ("collection", "create", "../x"),
        ("collection", "create", "Bad Name"),
        ("collection", "create", "ok", "--chunk-tokens", "3"),
        ("collection", "create", "ok", "--set", "api_keys=x"),
        ("collection", "show", "nope"),
        ("collection", "delete", "nope", "--yes"),
        ("--collection", "nope", "ask", "anything?"),
        ("--collection", "nope", "serve"),
    ):
        r = qa(tmp_path, *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "index" / "ok").exists()
    r = qa(tmp_path, "collection", "create", "dup")
    assert r.returncode == 0, r.stderr
    r = qa(tmp_path, "collection", "create", "dup")
    assert r.returncode == 1 and "exists already" in r.stderr
