"""Prompts are files in `prompts/` (bundled into the wheel as `qa_bot/prompts`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_PACKAGED = Path(__file__).parent / "prompts"
_SOURCE_TREE = Path(__file__).parent.parent / "prompts"


def prompts_dir(override: Path | None = None) -> Path:
    if override is not None:
        return override
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE


@lru_cache(maxsize=64)
def load_prompt(name: str, folder: Path | None = None) -> str:
    """The text of `prompts/<name>.md`, without the trailing newline."""
    path = prompts_dir(folder) / f"{name}.md"
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise FileNotFoundError(f"Prompt file {path} is missing; reinstall qa-bot or set PROMPTS_DIR.") from exc


def render(name: str, folder: Path | None = None, **values: str) -> str:
    """Fill the `{placeholders}` of a prompt file; other braces in values are left alone."""
    text = load_prompt(name, folder)
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text
