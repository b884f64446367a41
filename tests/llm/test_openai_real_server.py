"""LLM_BACKEND=openai for real: llama-cpp-python's OpenAI-compatible server serving the Gemma 3 270M GGUF."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from qa_bot.embed import Embedder
from qa_bot.errors import LLMUnavailableError
from qa_bot.llm import Message, make_backend
from qa_bot.llm.openai_backend import OpenAIBackend

from .llm_testkit import BUS_QUESTION, UDMURTIA, assert_model_path, gguf_path, llm_settings, make_answerer

pytestmark = pytest.mark.slow  # a server start (~5 s) and a few short generations

ALIAS = "gemma-3-270m"
N_CTX = 4096
KEY = "sk-local-3b8e51"
ANSWERING = {"top_k", "llm_max_tokens", "llm_temperature"}
MESSAGES: list[Message] = [
    {"role": "user", "content": "Беларусь поставит в Удмуртию 120 автобусов МАЗ. Сколько автобусов?"}
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on loopback, started once; yields the API root (…/v1); killed at the end."""
    model = gguf_path()  # skips without llama_cpp
    pytest.importorskip("uvicorn", reason="the server extra is missing: pip install 'qa-bot[llamacpp]'")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", ALIAS,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX), "--api_key", KEY,
        "--chat_format", "gemma",  # the GGUF has no chat template: the server would fall back to Llama 2's
    ]  # fmt: skip
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({server.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                if (
                    httpx.get(
                        f"{url}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2
                    ).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start in 90 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_gold_question_through_the_answerer(llama_server: str, seed_root: Path, navec: Embedder) -> None:
    """The whole Answerer over the real server. Gemma 3 270M is a base model that mostly echoes its
    prompt, so its text rarely passes the citation check: the test pins down that the server's text
    was streamed and that the answer took the path that text dictates (see assert_model_path)."""
    settings = llm_settings(seed_root, llm_backend="openai", openai_base_url=llama_server,
                            openai_api_key=KEY, top_k=2, llm_max_tokens=32, llm_temperature=0.0)  # fmt: skip
    backend, reason = make_backend(settings)  # OPENAI_MODEL empty: the model the server lists
    assert isinstance(backend, OpenAIBackend) and reason is None and backend.label == f"openai:{ALIAS}"
    assert backend.context_window == settings.openai_context_window == N_CTX  # the server does not say
    answerer = make_answerer(seed_root, navec, backend, **settings.model_dump(include=ANSWERING))
    deltas: list[str] = []
    answer = answerer.answer(BUS_QUESTION, on_delta=deltas.append)  # gold q02
    assert_model_path(answer, backend.label, deltas)
    assert "120" in answer.answer and answer.citations[0].doc_id == UDMURTIA


def test_wrong_key_is_refused_by_the_server(llama_server: str) -> None:
    backend = OpenAIBackend(llama_server, ALIAS, api_key=SecretStr("sk-wrong"), timeout=30)
    with pytest.raises(LLMUnavailableError, match="rejected the API key"):
        backend.check()
    with pytest.raises(LLMUnavailableError, match="wants an API key"):
        list(OpenAIBackend(llama_server, ALIAS, timeout=30).stream(MESSAGES, max_tokens=4, temperature=0.0))


def test_streaming_deltas_from_the_server(llama_server: str) -> None:
    backend = OpenAIBackend(llama_server, ALIAS, api_key=SecretStr(KEY), timeout=60)
    backend.check()
    deltas = list(backend.stream(MESSAGES, max_tokens=16, temperature=0.0))
    assert len(deltas) >= 3 and all(isinstance(d, str) and d for d in deltas)
    assert backend.complete(MESSAGES, max_tokens=16, temperature=0.0) == "".join(deltas)  # greedy: same text
