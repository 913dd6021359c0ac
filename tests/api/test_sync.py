"""`qa index DIR` as a sync (qa/sync.py): sources and stable ids, deletes, unread skips, metadata,
and the same index as a fresh build after any edits (a property test), with the real model."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.api import create_app
from qa.errors import InvalidInput
from qa.service import QAService
from qa.sources import document_id
from qa.sync import SIDECAR, SyncOptions, parse_meta

from ..live_server import LOCAL

Make = Callable[..., QAService]


def write(path: Path, text: str, age: float = 3600.0) -> Path:
    """Write ``text`` and date the file ``age`` seconds back (past the racy window, as files
    that were not written a moment ago are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def ids(svc: QAService) -> set[str]:
    return {d.id for d in svc.list_documents(0, 1000)[0]}


def test_same_named_files_in_two_folders_are_two_documents(tmp_path: Path, make_service: Make) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write(a / "README.md", "# A\nOtters hold hands while they sleep.")
    write(b / "README.md", "# B\nBeavers build dams from branches and mud.")
    svc = make_service()
    assert svc.index_paths([a]).added == 1
    assert svc.index_paths([b]).added == 1
    assert ids(svc) == {str(a / "README.md"), str(b / "README.md")}
    info = svc.get(str(a / "README.md"))
    assert (info.source, info.path, info.metadata["filename"]) == (str(a), "README.md", "README.md")
    # A named source: ids NAME/path, whatever the folder is called.
    summary = svc.index_paths([b], options=SyncOptions(source="notes"))
    assert summary.added == 1 and "notes/README.md" in ids(svc)


def test_sync_adds_updates_deletes_and_skips_unread(tmp_path: Path, make_service: Make) -> None:
    root = tmp_path / "docs"
    write(root / "keep.txt", "The kiln room is open on Mondays.")
    write(root / "edit.txt", "The pottery wheel needs oil every week.")
    write(root / "sub" / "gone.txt", "Glazes are mixed in the back room.")
    svc = make_service()
    first = svc.index_paths([root]).as_dict()
    assert (first["added"], first["deleted"], first["files_unread"]) == (3, 0, 0)

    again = svc.index_paths([root]).as_dict()
    assert (again["unchanged"], again["files_unread"], again["chunks_written"]) == (3, 3, 0)

    write(root / "edit.txt", "The pottery wheel needs oil every month.")
    (root / "sub" / "gone.txt").unlink()
    write(root / "new.txt", "Clay is stored in sealed bins.")
    third = svc.index_paths([root]).as_dict()
    assert (third["added"], third["updated"], third["unchanged"], third["deleted"]) == (1, 1, 1, 1)
    assert ids(svc) == {str(root / n) for n in ("keep.txt", "edit.txt", "new.txt")}
    assert "month" in svc.get_text(str(root / "edit.txt"))

    # --no-delete keeps a gone file's document.
    (root / "new.txt").unlink()
    kept = svc.index_paths([root], options=SyncOptions(delete=False))
    assert kept.deleted == 0 and str(root / "new.txt") in ids(svc)
    assert svc.index_paths([root]).deleted == 1


def test_a_touched_file_is_hashed_not_parsed(tmp_path: Path, make_service: Make) -> None:
    root = tmp_path / "docs"
    f = write(root / "a.txt", "Otters hold hands while they sleep.")
    svc = make_service()
    svc.index_paths([root])
    before = svc.get(str(f))
    stamp = time.time() - 60
    os.utime(f, (stamp, stamp))  # touched: new times, same bytes
    touched = svc.index_paths([root])
    assert (touched.unchanged, touched.unread) == (1, 0)
    assert svc.get(str(f)).updated_at == before.updated_at  # not written again
    assert svc.index_paths([root]).unread == 1  # the new times are recorded


def test_a_file_changed_just_now_is_read_again(tmp_path: Path, make_service: Make) -> None:
    """Racily clean: a file written within the racy window is not trusted by its times."""
    root = tmp_path / "docs"
    write(root / "a.txt", "Version one of the notes.", age=0)
    svc = make_service()
    svc.index_paths([root])
    assert svc.index_paths([root]).unread == 0


def test_deleting_a_document_makes_the_next_sync_read_its_file(tmp_path: Path, make_service: Make) -> None:
    root = tmp_path / "docs"
    f = write(root / "a.txt", "Otters hold hands while they sleep.")
    svc = make_service()
    svc.index_paths([root])
    svc.delete(str(f))
    assert svc.index_paths([root]).added == 1 and ids(svc) == {str(f)}


def test_a_jsonl_file_that_loses_a_line_loses_its_document(tmp_path: Path, make_service: Make) -> None:
    root = tmp_path / "docs"
    lines = [{"id": "x1", "text": "Otters sleep."}, {"id": "x2", "text": "Beavers build."}]
    f = write(root / "d.jsonl", "\n".join(json.dumps(x) for x in lines))
    svc = make_service()
    assert svc.index_paths([root]).added == 2
    write(f, json.dumps(lines[0]))
    svc.index_paths([root])
    assert ids(svc) == {"x1"}
    f.unlink()
    assert svc.index_paths([root]).deleted == 1 and ids(svc) == set()


def test_a_file_emptied_is_passed_over_and_its_old_text_is_no_longer_answered(
    tmp_path: Path, make_service: Make
) -> None:
    root = tmp_path / "docs"
    f = write(root / "kiln.md", "# Kiln\nThe kiln fires stoneware at 1240 degrees.")
    write(root / "empty.txt", "  \n")
    svc = make_service()
    first = svc.index_paths([root])
    # An empty file is nothing to index, not a failure: listed as skipped, with why.
    assert (first.added, first.failed) == (1, [])
    assert [(Path(e["path"]).name, e["reason"]) for e in first.skipped] == [("empty.txt", "empty")]
    assert "is empty" in first.skipped[0]["error"]
    assert svc.ask("At what temperature does the kiln fire stoneware?").citations

    write(f, "\n\n")  # the file's text is gone: so is its document, and the answer from it
    second = svc.index_paths([root])
    assert (second.deleted, second.failed, ids(svc)) == (1, [], set())
    # empty.txt, unchanged, is not read again (an icon is not OCR'd at every sync).
    assert ([Path(e["path"]).name for e in second.skipped], second.unread) == (["kiln.md"], 1)
    assert not svc.ask("At what temperature does the kiln fire stoneware?").citations

    third = svc.index_paths([root])
    assert (third.unread, third.skipped) == (2, [])
    write(f, "# Kiln\nThe kiln fires porcelain at 1300 degrees.")
    assert svc.index_paths([root]).added == 1 and ids(svc) == {str(f)}


def test_meta_and_sidecars(tmp_path: Path, make_service: Make) -> None:
    root = tmp_path / "docs"
    write(root / "a.txt", "The kiln room is open on Mondays.")
    write(root / "legal" / "b.txt", "Contracts are signed in the office.")
    write(root / "legal" / "eu" / "c.txt", "The office in Lyon signs for Europe.")
    write(root / SIDECAR, json.dumps({"team": "studio", "year": 2024}))
    write(root / "legal" / SIDECAR, json.dumps({"team": "legal"}))
    write(root / "legal" / "eu" / SIDECAR, json.dumps({"region": "eu"}))
    svc = make_service()
    opts = SyncOptions(metadata=parse_meta(["owner=ana", "team=everyone"]))
    assert svc.index_paths([root], options=opts).added == 3  # the sidecars are not documents
    meta = {Path(d.id).name: d.metadata for d in svc.list_documents(0, 10)[0]}
    assert {k: meta["a.txt"][k] for k in ("team", "year", "owner")} == {"team": "studio", "year": 2024, "owner": "ana"}
    assert meta["b.txt"]["team"] == "legal" and "region" not in meta["b.txt"]
    assert (meta["c.txt"]["team"], meta["c.txt"]["region"]) == ("legal", "eu")
    found = svc.search("Who signs contracts?", 5, filters={"team": "legal"}, mode="lexical")
    assert {Path(p.doc_id).name for p in found} <= {"b.txt", "c.txt"} and found

    # A changed sidecar re-indexes the files below it (no stale metadata), without their bytes changing.
    write(root / "legal" / SIDECAR, json.dumps({"team": "law"}))
    changed = svc.index_paths([root], options=opts)
    assert (changed.updated, changed.unchanged) == (2, 1)
    assert svc.get(str(root / "legal" / "b.txt")).metadata["team"] == "law"

    write(root / "legal" / SIDECAR, "[1, 2]")
    broken = svc.index_paths([root], options=opts)
    assert len(broken.failed) == 2 and "JSON object" in broken.failed[0]["error"]
    assert broken.deleted == 0  # a file that failed is still there: its documents stay


def test_the_api_and_the_cli_give_one_document_one_id(tmp_path: Path, make_service: Make) -> None:
    """An upload into the source a folder was indexed with is that folder's document: same id,
    and unchanged (the file name is not part of the content hash), so nothing is embedded again."""
    root = tmp_path / "docs"
    body = "# Kiln\nThe kiln fires stoneware at 1240 degrees."
    write(root / "sub" / "kiln.md", body)
    svc = make_service()
    svc.index_paths([root], options=SyncOptions(source="studio"))
    embedded = svc.embedded_texts
    with TestClient(create_app(svc.settings, service=svc), base_url=LOCAL) as c:
        r = c.post("/v1/documents", files={"file": ("sub/kiln.md", body.encode())}, data={"source": "studio"})
        assert r.status_code == 201, r.text
        assert r.json()["results"] == [{"id": "studio/sub/kiln.md", "status": "unchanged", "chunks": 1}]
        # By default an upload is in the source "upload"; JSON documents may name a source and path.
        r = c.post("/v1/documents", files={"file": ("kiln.md", body.encode())})
        assert r.json()["results"][0]["id"] == "upload/kiln.md"
        doc = {"text": "Glazes are mixed in the back.", "source": "studio", "path": "glaze.txt"}
        assert c.post("/v1/documents", json=doc).json()["results"][0]["id"] == "studio/glaze.txt"
        got = c.get("/v1/documents/studio/glaze.txt").json()
        assert (got["source"], got["path"]) == ("studio", "glaze.txt")
        for bad in ({"file": ("../x.md", b"x")}, {"file": ("x.md", b"x"), "source": "a/b"}):
            files = {"file": bad["file"]}
            data = {k: v for k, v in bad.items() if k != "file"}
            assert c.post("/v1/documents", files=files, data=data).status_code == 422
    assert svc.embedded_texts == embedded + 1  # the glaze note only: the uploads reused the vectors
    # The next sync of the folder deletes what is not in it, whichever way it came in.
    assert svc.index_paths([root], options=SyncOptions(source="studio")).deleted == 1


@pytest.mark.parametrize("pair", ["novalue", "=x", " =x"])
def test_bad_meta_pairs(pair: str) -> None:
    with pytest.raises(InvalidInput, match="key=value"):
        parse_meta([pair])


def test_meta_values_are_strings() -> None:
    assert parse_meta(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}


@pytest.mark.parametrize("source", ["a/b", "..", "", "/a/../b", "rel/"])
def test_bad_sources(tmp_path: Path, make_service: Make, source: str) -> None:
    write(tmp_path / "d" / "a.txt", "text")
    with pytest.raises(InvalidInput, match="source"):
        make_service().index_paths([tmp_path / "d"], options=SyncOptions(source=source))


def test_one_source_names_one_directory(tmp_path: Path, make_service: Make) -> None:
    write(tmp_path / "a" / "x.txt", "text")
    write(tmp_path / "b" / "y.txt", "text")
    with pytest.raises(InvalidInput, match="one directory"):
        make_service().index_paths([tmp_path / "a", tmp_path / "b"], options=SyncOptions(source="n"))


# -- the property: any edits, then a sync, give the index a fresh build gives -----------------------

NAMES = ["a.txt", "b.txt", "sub/c.txt", "sub/d.md", "e.txt"]
WORDS = ["otters", "beavers", "kiln", "glaze", "river", "dam", "clay", "oil", "wheel", "sleep"]
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(NAMES), texts),
        st.tuples(st.just("delete"), st.sampled_from(NAMES), st.just("")),
        st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
        st.tuples(st.just("touch"), st.sampled_from(NAMES), st.just("")),
        st.tuples(st.just("sync"), st.just(""), st.just("")),
    ),
    max_size=12,
)


def apply(root: Path, op: str, name: str, arg: str, clock: list[float]) -> None:
    path = root / name
    clock[0] += 1.0  # distinct, old times: the sync may trust them (the racy case has its own test)
    if op == "write":
        write(path, arg, age=10_000 - clock[0])
    elif op == "delete":
        path.unlink(missing_ok=True)
    elif op == "rename" and path.exists() and arg != name:
        (root / arg).parent.mkdir(parents=True, exist_ok=True)
        path.rename(root / arg)
    elif op == "touch" and path.exists():
        os.utime(path, (time.time() - 10_000 + clock[0],) * 2)


def snapshot(svc: QAService) -> dict[str, Any]:
    """Everything a search reads: documents, chunks, their vectors and lexical terms."""
    docs, _ = svc.list_documents(0, 1000)
    out: dict[str, Any] = {}
    for d in docs:
        chunks, vectors = svc.store.document_chunks(d.id)
        out[d.id] = (
            d.title,
            d.source,
            d.path,
            d.content_hash,
            json.dumps(d.metadata, sort_keys=True),
            svc.get_text(d.id),
            [(c.ordinal, c.start, c.end, c.heading) for c in chunks],
            vectors.round(5).tobytes(),
        )
    for word in WORDS:  # the lexical side: which chunks each word's term finds (not BM25 ranks, which
        # count deleted entries until tantivy merges its segments)
        found = svc.store.passages(svc.store.lexical_hits([word], 10_000))
        out[f"lexical:{word}"] = sorted((p.doc_id, p.ordinal) for p in found)
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=steps, after=steps)
def test_any_edits_then_a_sync_equal_a_fresh_build(
    tmp_path_factory: pytest.TempPathFactory,
    make_service: Make,
    before: list[tuple[str, str, str]],
    after: list[tuple[str, str, str]],
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    root = tmp / "docs"
    root.mkdir()
    clock = [0.0]
    synced = make_service(name=f"s{tmp.name}")
    for op, name, arg in [*before, ("sync", "", ""), *after]:
        if op == "sync":
            synced.index_paths([root])
        else:
            apply(root, op, name, arg, clock)
    synced.index_paths([root])
    fresh = make_service(name=f"f{tmp.name}")
    fresh.index_paths([root])
    assert snapshot(synced) == snapshot(fresh)
    assert {d.id for d in fresh.list_documents(0, 1000)[0]} == {
        document_id(str(root), p.relative_to(root).as_posix()) for p in root.rglob("*") if p.is_file()
    }
    assert synced.store.verify() == []


def test_an_index_inside_the_folder_is_not_part_of_it(tmp_path: Path, make_service: Make) -> None:
    """`qa index .` where the index lives (index/ in a project): its files are neither indexed
    nor listed as skipped, nor even opened (a close of the SQLite file by the process that has it
    open would drop that process's SQLite locks; `qa watch` died of SIGBUS from it)."""
    write(tmp_path / "notes" / "a.txt", "Otters hold hands while they sleep.")
    svc = make_service()  # its index is tmp_path/index/test
    svc.index_paths([tmp_path / "notes"])
    assert (tmp_path / "index" / "test" / "qa.sqlite").is_file()
    for _ in range(2):  # the second time, the index has its lexical and vector files
        summary = svc.index_paths([tmp_path]).as_dict()
        assert summary["skipped"] == [] and summary["failed"] == []
        assert ids(svc) == {str(tmp_path / "notes" / "a.txt")}
