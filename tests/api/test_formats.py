"""Every supported format end to end, on real files made here (tests/formats.py): indexed by
`qa index` from a folder (a real subprocess) and uploaded through `POST /v1/documents` as
multipart, then asked about; each answer must come from the right file, citing its exact text.
A folder's unsupported and unreadable files are reported with their reason; an upload the service
cannot read is a 4xx with a JSON message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService

from ..formats import FACTS, Fact, files
from ..live_server import LOCAL
from .test_cli import qa


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("formats") / "docs"
    root.mkdir()
    for name, data in files().items():
        (root / name).write_bytes(data)
    (root / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not text")
    (root / "broken.docx").write_bytes(b"PK\x03\x04 not really a document")
    return root


@pytest.fixture(scope="module")
def indexed(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], int]:
    """`qa index <folder> --json` into a fresh index: the index dir, the summary, the exit code."""
    home = tmp_path_factory.mktemp("cli")
    r = qa(home, "index", str(folder), "--json")
    assert "Traceback" not in r.stderr, r.stderr
    return home / "index", json.loads(r.stdout), r.returncode


@pytest.fixture(scope="module")
def cli_service(indexed: tuple[Path, dict[str, Any], int], embedder: Embedder) -> Iterator[QAService]:
    svc = QAService(Settings(index_dir=indexed[0]), embedder=embedder)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[TestClient]:
    settings = Settings(index_dir=tmp_path_factory.mktemp("api"))
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        for name, data in files().items():
            r = c.post("/v1/documents", files={"file": (name, data)})
            assert r.status_code == 201, (name, r.text)
        yield c
    svc.close()


def test_a_folder_of_every_format_is_indexed_and_what_is_not_is_said(
    indexed: tuple[Path, dict[str, Any], int],
) -> None:
    _, summary, code = indexed
    # 12 files, the mbox two documents; the damaged .docx failed (exit 1), the image was skipped.
    assert summary["added"] == 13 and summary["files"] == 13, summary
    assert code == 1
    (failed,) = summary["failed"]
    assert failed["path"].endswith("broken.docx") and failed["reason"] == "invalid"
    assert "not a readable Word document" in failed["error"]
    (skipped,) = summary["skipped"]
    assert skipped["path"].endswith("clip.mp4") and skipped["reason"] == "unsupported"
    assert "unsupported file type '.mp4'" in skipped["error"]


def test_the_cli_summary_lists_skipped_files(folder: Path, tmp_path: Path) -> None:
    r = qa(tmp_path, "index", str(folder / "clip.mp4"), str(folder / "raku.rst"))
    # A file named explicitly that cannot be read is a failure: one line, non-zero exit.
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "1 added" in r.stdout and "1 failed" in r.stdout, r.stdout
    lines = [line for line in r.stderr.splitlines() if line.startswith(("error", "skipped"))]
    assert len(lines) == 1 and "clip.mp4" in lines[0] and "'.mp4'" in lines[0], r.stderr


def check_answer(answer: dict[str, Any], fact: Fact, text_of: Any) -> None:
    assert answer["found"], (fact.question, answer)
    assert fact.expect.lower() in answer["answer"].lower(), (fact.question, answer["answer"])
    top = answer["citations"][0]
    # A file's id is source/path: the folder's absolute path for `qa index`, "upload" for uploads.
    assert top["doc_id"].endswith("/" + fact.name), (fact.question, top)
    for c in answer["citations"]:
        assert text_of(c["doc_id"])[c["start"] : c["end"]] == c["quote"]


@pytest.mark.parametrize("fact", FACTS, ids=[f.name for f in FACTS])
def test_each_format_indexed_by_the_cli_answers_with_exact_citations(cli_service: QAService, fact: Fact) -> None:
    a = cli_service.ask(fact.question)
    answer = {"found": a.found, "answer": a.answer, "citations": [asdict(c) for c in a.citations]}

    def text_of(doc_id: str) -> str:
        text = cli_service.document(doc_id, True)[1]
        assert text is not None
        return text

    check_answer(answer, fact, text_of)


@pytest.mark.parametrize("fact", FACTS, ids=[f.name for f in FACTS])
def test_each_format_uploaded_answers_with_exact_citations(client: TestClient, fact: Fact) -> None:
    r = client.post("/v1/ask", json={"question": fact.question})
    assert r.status_code == 200, r.text

    def text_of(doc_id: str) -> str:
        got = client.get(f"/v1/documents/{quote(doc_id)}", params={"include_text": True})
        assert got.status_code == 200, got.text
        return str(got.json()["text"])

    check_answer(r.json(), fact, text_of)


def test_a_deck_cites_its_slide_as_the_page(client: TestClient) -> None:
    a = client.post("/v1/ask", json={"question": "When does the pottery studio open on Saturdays?"}).json()
    assert a["citations"][0]["doc_id"] == "upload/studio.pptx" and a["citations"][0]["page"] == 2
    doc = client.get("/v1/documents/upload/studio.pptx", params={"include_text": True}).json()
    assert doc["metadata"]["slides"] == 2 and len(doc["page_starts"]) == 2


def test_mail_head_is_metadata_to_filter_on(client: TestClient) -> None:
    r = client.post(
        "/v1/search",
        json={"question": "heating elements electrician", "filters": {"from": "Jonas Berg <jonas@example.org>"}},
    )
    assert r.status_code == 200, r.text
    assert {p["doc_id"] for p in r.json()["passages"]} == {"upload/repair.eml"}


@pytest.mark.parametrize(
    ("name", "data", "status", "needle"),
    [
        ("broken.docx", b"PK\x03\x04 not a document", 422, "not a readable Word document"),
        ("slides.pptx", b"%PDF-1.4 renamed", 422, "not a ZIP archive"),
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42", 415, "unsupported file type '.mp4'"),
        ("backup.tar.gz", b"\x1f\x8b junk", 415, "'.tar.gz'"),
        ("notes.txt.gz", b"\x1f\x8b\x08 cut short", 422, "not a valid gzip file"),
        ("binary.txt", bytes(range(0x80, 0x100)) * 4, 422, "no common encoding reads it"),
    ],
)
def test_an_upload_it_cannot_read_is_a_4xx_with_a_message(
    client: TestClient, name: str, data: bytes, status: int, needle: str
) -> None:
    r = client.post("/v1/documents", files={"file": (name, data)})
    assert r.status_code == status, r.text
    assert needle in json.dumps(r.json()), r.text
