"""A scanned PDF (pages that are only images, rendered here from real text) indexed by `qa index`
and uploaded to `POST /v1/documents`, then asked about: the answer cites the page it is on. With
QA_OCR=off the same file is refused with the message it always had (and in tests/unit/test_parse_ocr.py)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService
from qa.types import page_at

from ..live_server import LOCAL
from ..pdfs import page_images, scanned_pdf
from .test_cli import qa

QUESTION = "At what temperature does the kiln fire stoneware?"


@pytest.fixture(scope="module")
def scan() -> bytes:
    return scanned_pdf()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[TestClient]:
    settings = Settings(index_dir=tmp_path_factory.mktemp("ocr"))
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        note = {"id": "notes.md", "title": "Notes", "text": "The studio kiln room is open on Mondays."}
        assert c.post("/v1/documents", json=note).status_code == 201
        yield c
    svc.close()


def test_an_uploaded_scan_is_cited_with_its_page(client: TestClient, scan: bytes) -> None:
    r = client.post("/v1/documents/upload", files={"file": ("leaflet.pdf", scan)})
    assert r.status_code == 201, r.text
    doc = client.get("/v1/documents/upload/leaflet.pdf", params={"include_text": True}).json()
    assert doc["metadata"] == {"filename": "leaflet.pdf", "pages": 2, "ocr_pages": 2}
    assert len(doc["page_starts"]) == 2

    a = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert a["found"] and "1240 degrees" in a["answer"], a
    top = a["citations"][0]
    assert (top["doc_id"], top["page"]) == ("upload/leaflet.pdf", 2)
    assert doc["text"][top["start"] : top["end"]] == top["quote"]
    assert page_at(doc["page_starts"], top["start"]) == 2


def test_an_uploaded_image_is_a_document(client: TestClient) -> None:
    buf = io.BytesIO()
    page_images(dpi=200)[0].save(buf, "PNG")
    r = client.post("/v1/documents/upload", files={"file": ("shelves.png", buf.getvalue())})
    assert r.status_code == 201, r.text
    hits = client.post("/v1/search", json={"question": "heaviest pieces on the lowest shelf", "k": 3}).json()
    top = hits["passages"][0]
    assert top["doc_id"] == "upload/shelves.png" and top["page"] == 1, hits


def test_an_uploaded_image_without_text_is_refused(client: TestClient) -> None:
    # Sent on its own, a file with nothing to index is an error the sender sees (a folder's sync
    # passes over it instead: test_qa_index_reads_a_scan_and_ask_cites_its_page).
    r = client.post("/v1/documents/upload", files={"file": ("next.png", icon())})
    assert r.status_code == 422 and "OCR found no text in 'next.png'" in r.json()["message"], r.text


def test_an_image_with_one_word_is_a_button_not_a_document() -> None:
    # What OCR reads on a documentation folder's navigation button: not worth a document.
    from qa.errors import NoText
    from qa.parse.image import parse_image

    buf = io.BytesIO()
    page_images([["Previous"]], dpi=200)[0].save(buf, "PNG")
    with pytest.raises(NoText, match=r"OCR found no text in 'prev.png' \(only 'Previous'\)") as e:
        parse_image(buf.getvalue(), "prev.png")
    assert e.value.text == "Previous"  # what was read, for evals.image_words
    buf = io.BytesIO()
    page_images([["Previous page"]], dpi=200)[0].save(buf, "PNG")
    assert parse_image(buf.getvalue(), "prev.png").text.strip() == "Previous page"


def icon() -> bytes:
    """A 32x32 arrow, as documentation folders keep for navigation."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (32, 32), "white")
    ImageDraw.Draw(image).polygon([(6, 6), (26, 16), (6, 26)], fill="navy")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_with_ocr_off_a_scan_is_refused(tmp_path: Path, embedder: Embedder, scan: bytes) -> None:
    settings = Settings(index_dir=tmp_path, ocr="off")
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        r = c.post("/v1/documents/upload", files={"file": ("leaflet.pdf", scan)})
        assert r.status_code == 422, r.text
        assert "has no text layer" in r.text and "run it through OCR first" in r.text and "QA_OCR=off" in r.text
    svc.close()


def test_qa_index_reads_a_scan_and_ask_cites_its_page(tmp_path: Path, scan: bytes) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leaflet.pdf").write_bytes(scan)
    (docs / "next.png").write_bytes(icon())  # a documentation folder's navigation arrow
    r = qa(tmp_path, "index", str(docs), "--json")
    # The icon holds no text: passed over, said why, and not a failure (exit 0).
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["added"] == 1 and summary["failed"] == [], summary
    assert [(e["path"], e["reason"]) for e in summary["skipped"]] == [(str(docs / "next.png"), "empty")]
    assert "OCR found no text" in summary["skipped"][0]["error"]
    ask = qa(tmp_path, "ask", QUESTION, "--json")
    assert ask.returncode == 0, ask.stderr
    a = json.loads(ask.stdout)
    # A file of a folder indexed without --source: its id is the folder's absolute path and its name.
    assert "1240 degrees" in a["answer"] and (a["citations"][0]["doc_id"], a["citations"][0]["page"]) == (
        str(docs / "leaflet.pdf"),
        2,
    ), a
