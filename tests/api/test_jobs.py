"""Ingestion as jobs over real HTTP (uvicorn, the bundled model, SQLite + FAISS): a large upload is
answered 202 with a job that reaches ``succeeded`` and whose documents are then answered from; one
bad file in a job fails alone; small requests keep their 201; the Python client waits for jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from qa.client import Client, JobFailedError
from qa.service import QAService

from ..hostile import pdf_bomb
from ..live_server import live_server

KEY = "jobs-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}


def _text(topic: str, fact: str, n: int = 50) -> bytes:
    filler = " ".join(f"Paragraph {i} about {topic} notes routine item {i}." for i in range(n))
    return f"# {topic}\n\n{fact}\n\n{filler}\n".encode()


def wait(client: httpx.Client, job_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']}: {job}"
        time.sleep(0.2)


def test_large_upload_is_a_job_that_succeeds_and_is_answered(make_service: Callable[..., QAService]) -> None:
    svc = make_service(job_threshold_bytes=2000, api_keys=KEY)
    kiln = _text("Kiln", "The kiln in building seven fires at 1240 degrees on Tuesdays.")
    assert len(kiln) > 2000
    with live_server(svc) as base, httpx.Client(base_url=base, timeout=60, headers=AUTH) as client:
        r = client.post("/v1/documents/upload", files={"file": ("kiln.md", kiln)}, data={"source": "ops"})
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/v1/jobs/{job['id']}"
        assert job["status"] in ("queued", "running") and job["progress"]["items"] == 1
        assert job["progress"]["bytes"] == len(kiln)
        done = wait(client, job["id"])
        assert done["status"] == "succeeded", done
        assert done["started_at"] >= done["created_at"] and done["finished_at"] >= done["started_at"]
        item = done["items"][0]
        assert item["status"] == "succeeded" and item["error"] is None and item["name"] == "kiln.md"
        assert item["results"] == [{"id": "ops/kiln.md", "status": "added", "chunks": item["results"][0]["chunks"]}]
        assert done["progress"] == {
            "items": 1,
            "items_done": 1,
            "items_failed": 0,
            "bytes": len(kiln),
            "bytes_done": len(kiln),
            "documents": 1,
            "chunks": item["results"][0]["chunks"],
            "item_chunks_embedded": None,  # no item running any more
            "item_chunks_total": None,
        }
        a = client.post("/v1/ask", json={"question": "At what temperature does the kiln fire?"}).json()
        assert a["citations"] and a["citations"][0]["doc_id"] == "ops/kiln.md"
        assert "1240" in a["answer"]
        # Listed (newest first, without items), reads need no key, unknown ids are 404.
        listed = httpx.get(f"{base}/v1/jobs").json()
        assert listed["total"] == 1 and listed["jobs"][0]["id"] == job["id"] and listed["jobs"][0]["items"] is None
        missing = httpx.get(f"{base}/v1/jobs/nope")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        # Creating a job is a document write: it needs the key.
        assert httpx.post(f"{base}/v1/documents/upload?async=true", files={"file": ("a.md", b"x")}).status_code == 401


def test_one_bad_file_fails_alone(make_service: Callable[..., QAService]) -> None:
    svc = make_service(parse_timeout=1.0)
    files = [
        ("file", ("glaze.md", _text("Glaze", "The celadon glaze needs reduction firing."))),
        ("file", ("bomb.pdf", pdf_bomb())),  # about 10 s to parse: over QA_PARSE_TIMEOUT
        ("file", ("clay.md", _text("Clay", "Stoneware clay is wedged for ten minutes."))),
    ]
    with live_server(svc) as base, httpx.Client(base_url=base, timeout=60) as client:
        r = client.post("/v1/documents/upload", params={"async": "true"}, files=files)
        assert r.status_code == 202, r.text
        done = wait(client, r.json()["id"])
        assert done["status"] == "succeeded"
        by_name = {i["name"]: i for i in done["items"]}
        assert by_name["bomb.pdf"]["status"] == "failed" and by_name["bomb.pdf"]["results"] == []
        assert by_name["bomb.pdf"]["error"]["error"] == "too_large"
        assert "QA_PARSE_TIMEOUT" in by_name["bomb.pdf"]["error"]["message"]
        for name in ("glaze.md", "clay.md"):
            assert by_name[name]["status"] == "succeeded" and by_name[name]["results"][0]["status"] == "added"
        assert done["progress"]["items_failed"] == 1 and done["progress"]["documents"] == 2
        ids = {d["id"] for d in client.get("/v1/documents").json()["documents"]}
        assert ids == {"upload/glaze.md", "upload/clay.md"}


def test_json_jobs_small_requests_and_refusals(make_service: Callable[..., QAService]) -> None:
    svc = make_service()
    with live_server(svc) as base, httpx.Client(base_url=base, timeout=60) as client:
        # Small and not asked: today's 201.
        r = client.post("/v1/documents", json={"id": "a", "text": "Alpha is the first letter."})
        assert r.status_code == 201 and r.json()["results"][0]["status"] == "added"
        # Asked for with Prefer (RFC 7240): a job, per document.
        docs = {"documents": [{"id": f"d{i}", "text": f"Document {i} says the code is {i * 7}."} for i in range(3)]}
        r = client.post("/v1/documents", json=docs, headers={"prefer": "respond-async"})
        assert r.status_code == 202, r.text
        done = wait(client, r.json()["id"])
        assert done["status"] == "succeeded" and done["kind"] == "documents"
        assert [i["name"] for i in done["items"]] == ["d0", "d1", "d2"]
        assert [i["results"][0]["id"] for i in done["items"]] == ["d0", "d1", "d2"]
        # An invalid request is refused at once, as before; no job is made.
        r = client.post("/v1/documents?async=true", json={"documents": [{"id": "x", "text": ""}]})
        assert r.status_code == 422, r.text
        r = client.post("/v1/documents/upload?async=true", files={"file": ("a.md", b"x")}, data={"metadata": "[1]"})
        assert r.status_code == 422, r.text
        assert client.get("/v1/jobs").json()["total"] == 1


def test_client_upload_and_wait_for_job(make_service: Callable[..., QAService]) -> None:
    svc = make_service(job_threshold_bytes=2000, parse_timeout=1.0)
    with live_server(svc) as base, Client(base) as qa:
        job = qa.upload(_text("Wheel", "The potter's wheel spins at 240 rpm."), filename="wheel.md", wait=False)
        assert job.status in ("queued", "running") and job.progress.items == 1
        done = qa.wait_for_job(job.id, timeout=180)
        assert done.status == "succeeded" and [r.id for r in done.results] == ["upload/wheel.md"]
        assert qa.get_job(job.id).finished and qa.list_jobs()[0].id == job.id
        # Over the threshold with wait=True (the default): waited for, returns the results.
        results = qa.upload(_text("Slip", "Slip is clay thinned with water to a cream."), filename="slip.md")
        assert [r.id for r in results] == ["upload/slip.md"]
        # A file that fails is an exception carrying the job.
        with pytest.raises(JobFailedError) as info:
            qa.wait_for_job(qa.upload(pdf_bomb(), filename="bomb.pdf", wait=False).id, timeout=180)
        assert info.value.job.status == "failed" and info.value.job.items is not None
        assert info.value.job.items[0].error_kind == "too_large"
