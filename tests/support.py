"""Constants and helpers shared by the top-level tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qa_bot.settings import Settings

if TYPE_CHECKING:
    from qa_bot.answer import Answerer
    from qa_bot.embed import Embedder

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


def small_collection(tmp: Path, files: dict[str, str], embedder: Embedder | None = None) -> Answerer:
    """An extractive answerer (e5-small unless `embedder` is given) over documents written for one test
    (file name -> text), indexed under `tmp`."""
    from qa_bot.answer import Answerer
    from qa_bot.embed import load_embedder
    from qa_bot.index import update_index
    from qa_bot.retrieve import Retriever

    docs = tmp / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    settings = make_settings(tmp, embedding_model="e5-small", docs_dir=docs)
    embedder = embedder or load_embedder(settings)
    index, _ = update_index(settings, embedder, [docs])
    return Answerer(Retriever(index, embedder), None, settings)
