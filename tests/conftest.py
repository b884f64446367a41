"""Shared fixtures: real components (navec embeddings, FAISS, BM25) on temporary folders."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support import SEEDS, make_settings

from qa_bot.embed import Embedder, load_embedder
from qa_bot.settings import Settings


# The suite embeds with navec (real, offline, ~150x faster to index than the default e5-small, which has
# tests of its own: tests/test_embed.py, and the console-script test in tests/test_cli.py runs the defaults).
# Every Settings() of the tests reads it from the environment; set EMBEDDING_MODEL to test another model.
os.environ.setdefault("EMBEDDING_MODEL", "navec")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The embedder of the test settings (navec unless EMBEDDING_MODEL says otherwise)."""
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
