"""Shared fixtures: real components (navec embeddings, FAISS, BM25) on temporary folders."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from qa_bot.embed import Embedder, load_embedder
from qa_bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DISTRACTORS = ROOT / "eval" / "distractors"
LOOKALIKES = Path(__file__).parent / "data" / "lookalikes"
UDMURTIA = "000_efd8a1e6da840478"
ULYANOVSK = "002_493d4d9cbc64722c"


def make_settings(tmp: Path, **overrides: object) -> Settings:
    """Settings that ignore any developer .env: documents and index under `tmp`, extractive answers."""
    values: dict[str, object] = {
        "docs_dir": tmp / "docs",
        "index_dir": tmp / "index",
        "llm_backend": "extractive",
        "feedback_db": tmp / "feedback.sqlite3",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


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
