"""The `qa-bot` command line driven as a user would, on real indexes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import UDMURTIA, ULYANOVSK

from qa_bot.cli import cli


@pytest.fixture
def run(tmp_path: Path, docs: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke the CLI in an empty working folder (no .env) with documents and index under tmp_path."""
    monkeypatch.chdir(tmp_path)
    env = {"DOCS_DIR": str(docs), "INDEX_DIR": str(tmp_path / "index"), "LLM_BACKEND": "extractive"}

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def test_index_ask_sources_chat(run, docs: Path) -> None:
    missing = run("ask", "Кто министр экономики Удмуртии?")
    assert missing.exit_code == 1 and "qa-bot index" in missing.output

    first = run("index")
    assert first.exit_code == 0, first.output
    assert "2 documents" in first.output and "added 2" in first.output
    again = run("index")
    assert "already up to date" in again.output and "embedded 0 chunks" in again.output

    answer = run("ask", "Кто министр экономики Удмуртии?")
    assert answer.exit_code == 0
    assert "Слугина" in answer.output and "Источники:" in answer.output and "[1]" in answer.output
    assert "2 октября 2025" in answer.output and UDMURTIA in answer.output

    data = json.loads(run("ask", "Сколько автобусов МАЗ получит Удмуртия?", "--json", "-k", "3").output)
    assert data["refused"] is False and "120" in data["answer"] and len(data["passages"]) == 3
    assert data["citations"][0]["doc_id"] == UDMURTIA and data["backend"] == "extractive"

    listing = run("sources")
    assert ULYANOVSK in listing.output and "7 октября (год не указан)" in listing.output
    assert "2 documents" in listing.output

    chat = run("chat", input="Кто министр экономики Удмуртии?\nА продукцией какого завода она интересуется?\n/new\n/exit\n")
    assert chat.exit_code == 0
    assert "Слугина" in chat.output and "Могилевского" in chat.output and "Контекст разговора очищен" in chat.output


def test_bad_questions_and_settings(run) -> None:
    assert run("index").exit_code == 0
    empty = run("ask", "   ")
    assert empty.exit_code == 2 and "Вопрос пуст" in empty.output
    long = run("ask", "Сколько автобусов МАЗ поставит Беларусь? " + "подробно " * 300)
    assert long.exit_code == 0 and "слишком длинный" in long.output
    bad_k = run("ask", "вопрос", "-k", "0")
    assert bad_k.exit_code == 2


def test_invalid_setting_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["sources"], env={"TOP_K": "many"})
    assert result.exit_code == 2 and "TOP_K" in result.output


def test_console_script_end_to_end(tmp_path: Path, docs: Path) -> None:
    """The installed `qa-bot` entry point, in a fresh process, reading settings from .env."""
    (tmp_path / ".env").write_text(f"DOCS_DIR={docs}\nINDEX_DIR={tmp_path / 'idx'}\nLLM_BACKEND=extractive\n")
    exe = Path(sys.executable).parent / "qa-bot"
    env = {k: v for k, v in os.environ.items() if k not in ("DOCS_DIR", "INDEX_DIR", "LLM_BACKEND")}

    def qa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert "qa-bot index" in qa("ask", "вопрос").stderr
    assert qa("index").returncode == 0
    empty = qa("ask", "")
    assert empty.returncode == 2 and "Traceback" not in empty.stderr
    done = qa("ask", "--json", "На сколько вырос товарооборот Ульяновской области с Белоруссией?")
    assert done.returncode == 0, done.stderr
    assert "25-30" in json.loads(done.stdout)["answer"]


def test_env_example_gives_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every setting in .env.example parses, and the file documents the defaults."""
    from qa_bot.settings import Settings

    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    example = (Path(__file__).parent.parent / ".env.example").read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(example, encoding="utf-8")
    assert Settings() == Settings(_env_file=None)  # type: ignore[call-arg]
    documented = {line.lstrip("# ").split("=")[0] for line in example.splitlines() if "=" in line}
    assert {n.upper() for n in Settings.model_fields} <= documented
