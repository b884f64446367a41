"""`qa-bot ask` / `qa-bot chat` with answer backends, run as a user runs them (subprocess, env settings)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from .llm_testkit import (
    BUS_QUESTION,
    NOT_GROUNDED,
    UDMURTIA,
    check_contract,
    clean_env,
    gguf_path,
    parse_json,
    run_cli,
)
from .ollama_double import LoopbackOllama


GEMMA = "llamacpp:gemma-3-270m-q4_k_m.gguf"


@pytest.mark.slow
def test_ask_with_llamacpp_uses_the_gemma_from_pypi(seed_root: Path, tmp_path: Path) -> None:
    gguf_path()  # skips without llama_cpp; assembles the GGUF once, outside the timed command
    env = clean_env(  # LLAMACPP_MODEL_PATH unset; bm25: no embedder to load, the model is what is tested
        INDEX_DIR=str(seed_root / "index"), LLM_MAX_TOKENS="48", RETRIEVAL_MODE="bm25"
    )
    done = run_cli(["ask", "--backend", "llamacpp", BUS_QUESTION, "--json"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    data = parse_json(done.stdout)
    check_contract(data)
    assert data["question"] == BUS_QUESTION and not data["refused"]
    assert data["detail"] is None  # the model loaded and generated: no failure to fall back from
    if data["backend"] != GEMMA:  # it generated, but its answer failed the citation check: said so
        assert data["backend"] == "extractive" and NOT_GROUNDED in data["notice"] and "120" in data["answer"]
    assert data["timings_ms"]["generate"] > 100  # a generation ran (an extractive answer takes ~1 ms)
    assert data["citations"][0]["doc_id"] == UDMURTIA


def test_ask_with_ollama_down_still_answers(seed_root: Path, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nobody listens there once the socket closes
    env = clean_env(INDEX_DIR=str(seed_root / "index"), OLLAMA_HOST=host, RETRIEVAL_MODE="bm25")
    done = run_cli(["ask", "--backend", "ollama", BUS_QUESTION], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "120 автобусов" in done.stdout and "Источники:" in done.stdout
    assert "— ответ: extractive; Языковая модель недоступна" in done.stdout
    assert "OLLAMA_HOST" in done.stderr and host in done.stderr  # the technical detail for the operator, on stderr
    assert "Traceback" not in done.stderr


def test_chat_streams_answers_and_keeps_history_until_new(seed_root: Path, tmp_path: Path) -> None:
    lines = [
        BUS_QUESTION,
        "А на каком топливе они работают?",
        "/new",
        "",
        "/exit",
        "Этот вопрос не прочитан?",
    ]
    env = clean_env(INDEX_DIR=str(seed_root / "index"), RETRIEVAL_MODE="bm25")  # bm25: no embedder to load
    done = run_cli(["chat", "--backend", "extractive"], cwd=tmp_path, env=env, stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("Готово. Документов: 2")
    assert out.count("Вопрос>") == 5  # one prompt per line up to /exit; nothing read after it
    first, follow_up, after_new = out.split("Вопрос>")[1:4]
    assert "120 автобусов МАЗ" in first and "Источники:" in first and f"({UDMURTIA})" in first
    assert "газомоторном" in follow_up and "Источники:" in follow_up  # the follow-up used the first question
    assert "Контекст разговора очищен." in after_new
    assert all("— ответ: extractive" in part for part in (first, follow_up))


def test_chat_does_not_glue_a_rejected_answer_to_the_fallback(seed_root: Path, tmp_path: Path) -> None:
    rejected = "Автобусов будет много."  # no [n] marker: fails the citation check
    with LoopbackOllama(lambda _: rejected) as server:
        env = clean_env(INDEX_DIR=str(seed_root / "index"), OLLAMA_HOST=server.url, RETRIEVAL_MODE="bm25")
        done = run_cli(
            ["chat", "--backend", "ollama"], cwd=tmp_path, env=env, stdin=f"{BUS_QUESTION}\n/exit\n"
        )
    assert done.returncode == 0, done.stderr
    answer = done.stdout.split("Вопрос>")[1]
    assert "— ответ: extractive" in answer and "не опирался на источники" in answer
    assert answer.startswith(f" {rejected}\n")  # the streamed text, then the answer that replaces it
    assert f"{rejected}И в этом году" not in answer
    assert answer.count("120 автобусов МАЗ") == 2  # once in the text, once in the quote of the source
