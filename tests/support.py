"""Constants and helpers shared by the top-level tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

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
