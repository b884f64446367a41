"""Shared fixtures: real components (navec embeddings, FAISS, BM25) on temporary folders."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support import SEEDS, make_settings

from qa_bot.embed import Embedder, load_embedder
from qa_bot.settings import Settings


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real offline default: navec vectors as a sentence-transformers model (built once, cached)."""
    return load_embedder(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A documents folder holding copies of the two seed articles."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for path in SEEDS.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    return lambda **kw: make_settings(tmp_path, **kw)
