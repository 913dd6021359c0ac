"""The `qa` command, run as a real subprocess: a round trip and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..conftest import EXAMPLES


def qa(tmp_path: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index"), "HF_HUB_OFFLINE": "1", **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def empty_index(tmp_path: Path) -> None:
    """An index with no documents where `qa(tmp_path, ...)` looks (read commands refuse a missing one)."""
    from qa.config import DEFAULT_MODEL
    from qa.store.embedded import EmbeddedStore

    EmbeddedStore(tmp_path / "index" / "default", model=DEFAULT_MODEL, dim=384).close()


def test_round_trip(tmp_path: Path, seed_article: Path) -> None:
    r = qa(tmp_path, "index", str(EXAMPLES), str(seed_article), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["added"] == 9 and summary["failed"] == []

    again = qa(tmp_path, "index", str(EXAMPLES), "--json")
    assert json.loads(again.stdout)["unchanged"] == 8 and json.loads(again.stdout)["chunks_written"] == 0

    ask = qa(tmp_path, "ask", "Who met in Paris?", "--json")
    assert ask.returncode == 0, ask.stderr
    a = json.loads(ask.stdout)
    assert "al-Shaibani" in a["answer"] and "Dermer" in a["answer"] and a["citations"]

    # Lexical search needs no model: the CLI does not load it (keeps this test fast).
    found = qa(tmp_path, "search", "sourdough starter", "-k", "2", "--mode", "lexical", "--json")
    # A directory's documents have ids source/path, the source being its absolute path.
    assert json.loads(found.stdout)["passages"][0]["doc_id"] == str(EXAMPLES / "bread-baking.txt")
    # At most one passage per document, for this search.
    words = "sourdough starter faiss vectors planets orbit bm25 ranking paris talks"
    spread = qa(tmp_path, "search", words, "-k", "5", "--mode", "lexical", "--max-per-doc", "1", "--json")
    ids = [p["doc_id"] for p in json.loads(spread.stdout)["passages"]]
    assert len(ids) == len(set(ids)) == 5, spread.stderr

    assert qa(tmp_path, "delete", str(seed_article), str(EXAMPLES / "paris-talks.md")).returncode == 0
    stats = json.loads(qa(tmp_path, "stats", "--json").stdout)
    assert stats["documents"] == 7
    listed = json.loads(qa(tmp_path, "list", "--json", "--limit", "2").stdout)
    assert listed["total"] == 7 and len(listed["documents"]) == 2
    gone = qa(tmp_path, "search", "Shaibani Dermer Paris", "--mode", "lexical")
    assert gone.returncode == 0 and "Dermer" not in gone.stdout and "paris" not in gone.stdout.lower()


def test_errors_are_one_line_with_exit_code(tmp_path: Path) -> None:
    empty_index(tmp_path)
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK junk")
    cases = [
        (("delete", "nope"), "no document with id 'nope'"),
        (("ask", "   "), "question is empty"),
        (("search", "x", "-k", "1000"), "k must be between"),
        (("index", str(tmp_path / "missing")), "does not exist"),
        (("index", str(bad)), ".docx"),
        (("search", "x", "--filter", "novalue"), "field=value"),
        (("index", str(tmp_path), "--meta", "novalue"), "key=value"),
        (("index", str(tmp_path), "--source", "a/b"), "must not contain '/'"),
        (("--index", "typo", "ask", "Who met in Paris?"), "no index 'typo'"),
    ]
    for args, needle in cases:
        r = qa(tmp_path, *args)
        assert r.returncode != 0, args
        assert "Traceback" not in r.stderr, (args, r.stderr)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert any(needle in line for line in lines), (args, r.stderr)
        assert len([line for line in lines if line.startswith(("error", "skipped"))]) == 1, (args, r.stderr)


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    """A QA_* variable out of range or of the wrong type: one line naming it and the value, exit 2
    (it was a multi-line pydantic error reported as an internal one, exit 70)."""
    r = qa(tmp_path, "ask", "Who met in Paris?", QA_ANSWER_SHORTLIST="0", QA_DEFAULT_K="abc")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "QA_ANSWER_SHORTLIST: Input should be greater than or equal to 1 (got '0')" in lines[0]
    assert "QA_DEFAULT_K:" in lines[0] and "(got 'abc')" in lines[0]


def test_read_commands_never_create_an_index(tmp_path: Path) -> None:
    """A read command where no index is (another directory, a typo in --index) fails with one line and
    a non-zero exit, naming where it looked, instead of answering "not found" from a new empty index."""
    for args in (
        ("ask", "Who met in Paris?"),
        ("search", "x"),
        ("list",),
        ("stats",),
        ("delete", "a.txt"),
        ("export", str(tmp_path / "out.jsonl")),
    ):
        r = qa(tmp_path, *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: no index 'default' at "), (args, r.stderr)
        assert str(tmp_path / "index" / "default") in lines[0] and "qa index" in lines[0]
    assert not (tmp_path / "index").exists()


def test_the_index_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    """With no QA_INDEX_DIR, `index/` is looked for in the working directory and then its parents."""
    from qa.config import DEFAULT_MODEL
    from qa.store.embedded import EmbeddedStore

    EmbeddedStore(tmp_path / "project" / "index" / "default", model=DEFAULT_MODEL, dim=384).close()
    deep = tmp_path / "project" / "notes" / "2026"
    deep.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "QA_INDEX_DIR"}
    r = subprocess.run(
        [sys.executable, "-m", "qa", "stats", "--json"],
        cwd=deep,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["documents"] == 0
    assert not (deep / "index").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "qa", "list"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 1 and "no index 'default'" in r.stderr and str(elsewhere / "index") in r.stderr


def test_index_built_with_another_model_is_refused(tmp_path: Path) -> None:
    from qa.config import DEFAULT_MODEL
    from qa.store.embedded import EmbeddedStore

    EmbeddedStore(tmp_path / "index" / "default", model=DEFAULT_MODEL, dim=384).close()
    r = qa(tmp_path, "stats", QA_MODEL="some-org/another-model")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"was built with model {DEFAULT_MODEL!r}" in r.stderr and "QA_MODEL" in r.stderr


def test_help_for_every_command(tmp_path: Path) -> None:
    for cmd in ("index", "watch", "search", "ask", "serve", "mcp", "delete", "stats", "list"):
        r = qa(tmp_path, cmd, "--help")
        assert r.returncode == 0 and "--help" in r.stdout, cmd
    for cmd in ("index", "search", "ask", "delete", "stats", "list"):
        assert "--json" in qa(tmp_path, cmd, "--help").stdout, cmd


def test_sync_with_a_source_metadata_and_deletes(tmp_path: Path) -> None:
    """`qa index DIR --source NAME --meta k=v` mirrors the folder; filters work from the CLI."""
    docs = tmp_path / "docs"
    (docs / "legal").mkdir(parents=True)
    (docs / "kiln.txt").write_text("The kiln room is open on Mondays.")
    (docs / "legal" / "contracts.txt").write_text("Contracts are signed in the office on Fridays.")
    (docs / "legal" / ".qa-meta.json").write_text('{"team": "legal"}')
    r = qa(tmp_path, "index", str(docs), "--source", "studio", "--meta", "team=studio", "--meta", "year=2024", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added"] == 2
    listed = {d["id"]: d for d in json.loads(qa(tmp_path, "list", "--json").stdout)["documents"]}
    assert set(listed) == {"studio/kiln.txt", "studio/legal/contracts.txt"}
    assert listed["studio/kiln.txt"]["metadata"]["year"] == "2024"
    assert listed["studio/legal/contracts.txt"]["metadata"]["team"] == "legal"
    found = qa(tmp_path, "search", "signed on Fridays", "--mode", "lexical", "--filter", "team=legal", "--json")
    assert [p["doc_id"] for p in json.loads(found.stdout)["passages"]] == ["studio/legal/contracts.txt"]

    (docs / "kiln.txt").unlink()
    kept = qa(tmp_path, "index", str(docs), "--source", "studio", "--no-delete", "--json")
    assert json.loads(kept.stdout)["deleted"] == 0
    r = qa(tmp_path, "index", str(docs), "--source", "studio")
    assert r.returncode == 0 and "1 deleted" in r.stdout, r.stdout
    assert json.loads(qa(tmp_path, "stats", "--json").stdout)["documents"] == 1


def test_index_with_access_sets_who_sees_the_files(tmp_path: Path) -> None:
    from qa.config import DEFAULT_MODEL
    from qa.store.embedded import EmbeddedStore
    from qa.store.filters import Filters

    docs = tmp_path / "docs"
    (docs / "finance").mkdir(parents=True)
    (docs / "pay.md").write_text("Payroll runs on the 25th of each month.")
    (docs / "finance" / "budget.md").write_text("The payroll budget grows by four percent.")
    (docs / "finance" / ".qa-meta.json").write_text('{"access": ["group:finance"]}')
    bad = qa(tmp_path, "index", str(docs), "--access", "hr")
    assert bad.returncode != 0 and "group:<name>" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    r = qa(tmp_path, "index", str(docs), "--source", "notes", "--access", "group:hr, user:alice", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added"] == 2
    store = EmbeddedStore(tmp_path / "index" / "default", model=DEFAULT_MODEL, dim=384)
    try:
        # The folder's .qa-meta.json overrides --access for the files below it.
        assert store.get("notes/pay.md").metadata["access"] == ["group:hr", "user:alice"]  # type: ignore[union-attr]
        assert store.get("notes/finance/budget.md").metadata["access"] == ["group:finance"]  # type: ignore[union-attr]

        def visible(*identities: str) -> set[str]:
            return {p.doc_id for p in store.lexical_search(["payroll"], 5, Filters(access=identities))}

        assert visible("group:hr") == visible("user:alice") == {"notes/pay.md"}
        assert visible("group:finance") == {"notes/finance/budget.md"}
        assert visible("group:sales") == set()
    finally:
        store.close()
