"""The `qa-bot` command line driven as a user would, on real indexes."""

from __future__ import annotations

import json
import os
import re
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
    """The installed `qa-bot` entry point, in a fresh process, reading settings from .env; with the default
    embedding model (the rest of the suite uses navec)."""
    (tmp_path / ".env").write_text(f"DOCS_DIR={docs}\nINDEX_DIR={tmp_path / 'idx'}\nLLM_BACKEND=extractive\n")
    exe = Path(sys.executable).parent / "qa-bot"
    env = {k: v for k, v in os.environ.items() if k not in ("DOCS_DIR", "INDEX_DIR", "LLM_BACKEND", "EMBEDDING_MODEL")}

    def qa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert "qa-bot index" in qa("ask", "вопрос").stderr
    assert qa("index").returncode == 0
    empty = qa("ask", "")
    assert empty.returncode == 2 and "Traceback" not in empty.stderr
    done = qa("ask", "--json", "На сколько вырос товарооборот Ульяновской области с Белоруссией?")
    assert done.returncode == 0, done.stderr
    assert "25–30" in json.loads(done.stdout)["answer"]  # quoted verbatim


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


def _python_cli(tmp_path: Path, docs: Path) -> tuple[list[str], dict[str, str]]:
    """`python -m qa_bot.cli` in a fresh process (this checkout first on the path), extractive answers."""
    root = str(Path(__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if k not in ("DOCS_DIR", "INDEX_DIR", "LLM_BACKEND", "COLUMNS")}
    env |= {"DOCS_DIR": str(docs), "INDEX_DIR": str(tmp_path / "index"), "LLM_BACKEND": "extractive",
            "PYTHONPATH": root + os.pathsep + env.get("PYTHONPATH", "")}  # fmt: skip
    return [sys.executable, "-m", "qa_bot.cli"], env


def test_index_prints_each_warning_once_and_no_bar_into_a_log(tmp_path: Path, docs: Path) -> None:
    """stderr is a pipe (a log file): no progress bar lines, one summary line; a skipped file named once."""
    (docs / "empty.txt").write_text("  \n", encoding="utf-8")
    cmd, env = _python_cli(tmp_path, docs)
    done = subprocess.run([*cmd, "index"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("empty.txt") == 1, done.stderr
    assert "\r" not in done.stderr and "chunk/s]" not in done.stderr and "%|" not in done.stderr
    summary = [line for line in done.stderr.splitlines() if line.startswith("Embedded ")]
    assert len(summary) == 1 and " chunks in " in summary[0], done.stderr
    assert "Index updated" in done.stdout


def test_chat_ctrl_c_says_goodbye(tmp_path: Path, docs: Path) -> None:
    """Ctrl-C at the prompt ends the chat politely; it is not an interrupted indexing."""
    import signal
    import time

    cmd, env = _python_cli(tmp_path, docs)
    assert subprocess.run([*cmd, "index"], cwd=tmp_path, env=env, capture_output=True, timeout=300).returncode == 0
    # a job started in the background (as CI may run us) inherits an ignored SIGINT; a user's terminal does not
    proc = subprocess.Popen([*cmd, "chat"], cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert banner.startswith("Готово"), banner
        time.sleep(0.5)  # now waiting in input()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)  # stdin stays open: the chat must end by the signal, not by an end of input
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "До свидания" in out
    assert "index" not in err and "Traceback" not in err, err
    assert proc.returncode == 0


def test_chat_help_lists_the_commands(run) -> None:
    assert run("index").exit_code == 0
    chat = run("chat", input="/help\n/exit\n")
    assert chat.exit_code == 0
    assert "/new" in chat.output.split("Вопрос>")[1] and "/exit" in chat.output.split("Вопрос>")[1]
    assert "— ответ:" not in chat.output  # /help was not sent as a question


def test_chat_banner_cuts_titles_at_a_word_boundary(run, docs: Path) -> None:
    title = "Региональные власти обсуждают строительство нового логистического терминала у реки"
    (docs / "long.txt").write_text(f"{title}\n\nВ области построят терминал для грузов.\n", encoding="utf-8")
    assert run("index").exit_code == 0
    banner = next(line for line in run("chat", input="/exit\n").output.splitlines() if line.startswith("Готово"))
    shown = re.split(r", |\)\. ", banner[banner.index("Региональные") :])[0]
    assert shown.endswith("…") and len(shown) <= 60
    kept = shown[:-1]
    assert title.startswith(kept) and title[len(kept)] == " "


def test_sources_columns_line_up(run, docs: Path) -> None:
    """Short and long doc ids and a long title: the columns stay aligned and lines fit the terminal."""
    title = "Очень длинный заголовок документа о строительстве моста через реку и о новых дорогах в регионе"
    (docs / "x.txt").write_text(f"{title}\n\nМост построят за два года.\n", encoding="utf-8")
    assert run("index").exit_code == 0
    listing = CliRunner().invoke(cli, ["sources"], env={"INDEX_DIR": str(docs.parent / "index"), "COLUMNS": "100"})
    rows = [line for line in listing.output.splitlines() if " chunks  " in line]
    assert len(rows) == 3
    assert len({row.index(" chunks  ") for row in rows}) == 1, rows
    assert all(len(row) <= 100 for row in rows)
    assert any(row.endswith("…") for row in rows)


def test_missing_index_repeats_index_dir(run, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    result = run("--index-dir", str(other), "ask", "Кто министр экономики Удмуртии?")
    assert result.exit_code == 1
    assert f"qa-bot --index-dir {other} index" in result.output


def test_since_and_until_narrow_ask_and_sources(run) -> None:
    assert run("index").exit_code == 0
    listed = run("sources", "--since", "2025-10-01", "--until", "2025-10-03").output
    assert UDMURTIA in listed and ULYANOVSK not in listed and "1 documents" in listed
    answer = json.loads(
        run("ask", "--json", "--since", "2025-10-01", "--until", "2025-10-03", "На сколько вырос товарооборот?").output
    )
    assert {c["doc_id"] for c in answer["citations"]} == {UDMURTIA}
    none = json.loads(run("ask", "--json", "--since", "2024-01-01", "--until", "2024-06-30", "Что писали?").output)
    assert none["refused"] and "Документов за эти даты нет" in none["answer"]
    bad = run("sources", "--since", "2025-10-05", "--until", "2025-10-01")
    assert bad.exit_code == 2 and "позже конца" in bad.output
