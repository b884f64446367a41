"""Prompts are files in `prompts/`, bundled into the wheel as the package data `qa_bot/prompts`.

`{refusal}` in any prompt is filled with `prompts/refusal.md`, the one place the refusal phrase lives:
`refusal_phrase()` gives it to the code that detects refusals.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import QaBotError

_SOURCE_TREE = Path(__file__).resolve().parent.parent / "prompts"  # editable installs and a checkout
REFUSAL = "refusal"


class PromptMissingError(QaBotError):
    """A prompt file is not where qa-bot looks for it."""


def _packaged() -> Traversable:
    return resources.files(__package__ or "qa_bot") / "prompts"


def prompts_dir(override: Path | None = None) -> Traversable:
    """Where the prompt files are read from: `override`, the installed package data, else the source tree."""
    if override is not None:
        return override
    packaged = _packaged()
    return packaged if packaged.is_dir() else _SOURCE_TREE


@lru_cache(maxsize=64)
def load_prompt(name: str, folder: Path | None = None) -> str:
    """The text of `prompts/<name>.md`, without the trailing newline."""
    where = prompts_dir(folder)
    try:
        return (where / f"{name}.md").read_text(encoding="utf-8").rstrip("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptMissingError(
            f"The prompt file {name}.md cannot be read from {where} ({type(exc).__name__}).",
            "Reinstall qa-bot (pip install --force-reinstall qa-bot) or, in a checkout, restore it with "
            f"`git checkout prompts/{name}.md`.",
        ) from exc


def refusal_phrase(folder: Path | None = None) -> str:
    """The exact sentence the model writes when the passages hold no answer (prompts/refusal.md)."""
    phrase = " ".join(load_prompt(REFUSAL, folder).split())
    if not phrase:
        raise PromptMissingError(
            f"The prompt file {REFUSAL}.md in {prompts_dir(folder)} is empty.",
            "Write the refusal sentence into it, e.g. «В документах нет ответа на этот вопрос.»",
        )
    return phrase


@lru_cache(maxsize=8)
def refusal_regex(folder: Path | None = None) -> re.Pattern[str]:
    """Matches the start of the refusal phrase (its first four words), any case and spacing."""
    words = re.findall(r"\w+", refusal_phrase(folder))[:4]
    return re.compile(r"\s+".join(map(re.escape, words)), re.IGNORECASE)


def render(name: str, folder: Path | None = None, **values: str) -> str:
    """Fill the `{placeholders}` of a prompt file; `{refusal}` is the refusal phrase unless given.

    Other braces in values are left alone.
    """
    text = load_prompt(name, folder)
    if "{" + REFUSAL + "}" in text:
        values = {REFUSAL: refusal_phrase(folder)} | values
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text
