"""Fixtures of the LLM tests: the real navec embedder, real indexes, the real Gemma 3 270M GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_bot.embed import Embedder, load_embedder
from qa_bot.settings import Settings

from .llm_testkit import HOSTILE, HOSTILE_ID, PLANTED, SEEDS, build_collection, gguf_path


@pytest.fixture(scope="session")
def navec() -> Embedder:
    """The offline default embedder (navec vectors wrapped as sentence-transformers; cached in ~/.cache/qa_bot)."""
    return load_embedder(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def seed_root(tmp_path_factory: pytest.TempPathFactory, navec: Embedder) -> Path:
    """The two seed articles, indexed once (tests only read it)."""
    return build_collection(tmp_path_factory.mktemp("llm-seeds"), navec, [SEEDS])


@pytest.fixture(scope="session")
def planted_root(tmp_path_factory: pytest.TempPathFactory, navec: Embedder) -> Path:
    """The seeds plus the planted prompt-injection document and a document full of fence-breaking markup."""
    return build_collection(
        tmp_path_factory.mktemp("llm-planted"), navec, [SEEDS, PLANTED], {HOSTILE_ID: HOSTILE}
    )


@pytest.fixture(scope="module")
def gemma():
    """The real Gemma 3 270M through llama.cpp, 4096-token context."""
    from qa_bot.llm.llamacpp_backend import LlamaCppBackend

    return LlamaCppBackend(gguf_path(), n_ctx=4096)
