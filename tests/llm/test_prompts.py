"""Prompt files: read from the installed package data, a clear error when one is missing, one refusal phrase."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa_bot.citations import REFUSAL
from qa_bot.errors import QaBotError
from qa_bot.prompts import PromptMissingError, load_prompt, refusal_phrase, refusal_regex, render

from .llm_testkit import ROOT

PROMPTS = ROOT / "prompts"


def test_a_missing_prompt_file_is_a_qa_bot_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(PromptMissingError) as caught:
        load_prompt("answer_system", tmp_path)
    error = caught.value
    assert isinstance(error, QaBotError)  # the CLI and the bot turn it into a message, not a stack trace
    assert "answer_system.md" in error.message and str(tmp_path) in error.message
    assert error.hint and "reinstall" in error.hint.lower() and "PROMPTS_DIR" not in str(error)


def test_prompts_load_from_the_installed_package_data(tmp_path: Path) -> None:
    """The wheel's layout (qa_bot/prompts inside the package, no source tree next to it)."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "qa_bot", site / "qa_bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROMPTS, site / "qa_bot" / "prompts")
    (site / "qa_bot" / "prompts" / "refusal.md").write_text("Ответа нет в документах.\n", encoding="utf-8")
    code = (
        "from qa_bot.prompts import prompts_dir, render, refusal_phrase; "
        "print(prompts_dir()); print(refusal_phrase()); print(render('answer_system'))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site)},
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    where, phrase, system = done.stdout.split("\n", 2)
    assert Path(where) == site / "qa_bot" / "prompts"
    assert phrase == "Ответа нет в документах." and "«Ответа нет в документах.»" in system

    shutil.rmtree(site / "qa_bot" / "prompts")  # neither package data nor a source tree: a clear error
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site)},
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert (
        done.returncode == 1
        and "PromptMissingError: The prompt file refusal.md cannot be read" in done.stderr
    )


def test_the_refusal_phrase_lives_in_one_file() -> None:
    phrase = refusal_phrase()
    assert phrase == (PROMPTS / "refusal.md").read_text(encoding="utf-8").strip()
    assert phrase == REFUSAL  # citations.py still has its copy until it reads refusal_phrase()
    holders = [p.name for p in PROMPTS.glob("*.md") if phrase in p.read_text(encoding="utf-8")]
    assert holders == ["refusal.md"]  # the other prompts say {refusal}
    for name in ("answer_system", "answer_user"):
        text = render(name, passages="…", question="…")
        assert f"«{phrase}»" in text and "{refusal}" not in text


def test_editing_refusal_md_changes_every_prompt_and_the_pattern(tmp_path: Path) -> None:
    for path in PROMPTS.glob("*.md"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "refusal.md").write_text("Об этом в документах ничего не сказано.\n", encoding="utf-8")
    system = render("answer_system", tmp_path)
    assert "«Об этом в документах ничего не сказано.»" in system and REFUSAL not in system
    assert "«Об этом в документах ничего не сказано.»" in render(
        "answer_user", tmp_path, passages="", question=""
    )
    pattern = refusal_regex(tmp_path)
    assert pattern.match("об  этом в\nдокументах ничего") and not pattern.match(REFUSAL)
    assert refusal_regex().match("в документах  нет ответа")


def test_values_cannot_inject_the_refusal_placeholder() -> None:
    """A document that contains `{refusal}` stays as written: the phrase is filled before the values."""
    text = render("answer_user", passages="текст {refusal} текст", question="?")
    assert "текст {refusal} текст" in text


def test_an_empty_refusal_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "refusal.md").write_text("\n", encoding="utf-8")
    with pytest.raises(PromptMissingError, match="refusal.md .* is empty"):
        refusal_phrase(tmp_path)
