"""LLM_BACKEND=llamacpp on an install without the `llamacpp` extra: the package is named, answers still come."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from qa_bot.errors import LLMUnavailableError
from qa_bot.llm import make_backend

from .llm_testkit import BUS_QUESTION, UDMURTIA, clean_env, llm_settings, parse_json, run_cli

INSTALL = "pip install 'qa-bot[llamacpp]'"


def without_llama_cpp(tmp_path: Path) -> str:
    """A PYTHONPATH on which `import llama_cpp` fails as it does when the package is not installed."""
    shadow = tmp_path / "shadow" / "llama_cpp"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'llama_cpp'\")\n")
    return os.pathsep.join(p for p in [str(shadow.parent), os.environ.get("PYTHONPATH", "")] if p)


def test_make_backend_names_the_missing_package(seed_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # what Python does for a package that is not there
    backend, reason = make_backend(llm_settings(seed_root), "llamacpp")
    assert backend is None and isinstance(reason, LLMUnavailableError)
    assert "llama-cpp-python" in reason.message and INSTALL in str(reason)
    assert "No GGUF model" not in str(reason)


def test_cli_ask_without_the_extra_answers_extractively(seed_root: Path, tmp_path: Path) -> None:
    env = clean_env(  # bm25: the embedder need not load for this
        INDEX_DIR=str(seed_root / "index"), PYTHONPATH=without_llama_cpp(tmp_path), RETRIEVAL_MODE="bm25"
    )
    done = run_cli(["ask", "--backend", "llamacpp", BUS_QUESTION], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "120 автобусов" in done.stdout and "Источники:" in done.stdout
    assert "— ответ: extractive; Языковая модель недоступна" in done.stdout
    assert INSTALL in done.stderr and "Traceback" not in done.stderr

    done = run_cli(["ask", "--backend", "llamacpp", "--json", BUS_QUESTION], cwd=tmp_path, env=env)
    data = parse_json(done.stdout)
    assert data["backend"] == "extractive" and data["citations"][0]["doc_id"] == UDMURTIA
    assert "недоступна" in data["notice"]
