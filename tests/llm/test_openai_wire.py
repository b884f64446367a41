"""LLM_BACKEND=openai against an OpenAI-compatible server doubled at the wire (a real loopback HTTP server)."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from qa_bot.answer import Answer, Answerer
from qa_bot.embed import Embedder
from qa_bot.errors import LLMError, LLMModelMissingError, LLMTimeoutError, LLMUnavailableError
from qa_bot.llm import make_backend
from qa_bot.llm.ollama_backend import OllamaBackend
from qa_bot.llm.openai_backend import OpenAIBackend
from qa_bot.pipeline import Pipeline
from qa_bot.prompts import render

from .llm_testkit import (
    BUS_QUESTION,
    UDMURTIA,
    check_contract,
    clean_env,
    llm_settings,
    make_answerer,
    parse_json,
    run_cli,
)
from .ollama_double import BUS_FACT, LoopbackOllama
from .openai_double import KEY, MODEL, LoopbackOpenAI

LABEL = f"openai:{MODEL}"
WRONG_KEY = "sk-wrong-7c3e9a0d51f2"


def refused_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def backend_for(
    url: str, model: str | None = MODEL, key: str | None = KEY, timeout: float = 10
) -> OpenAIBackend:
    return OpenAIBackend(url, model, api_key=SecretStr(key) if key else None, timeout=timeout)


def ask(answerer: Answerer, question: str = BUS_QUESTION, **kwargs: object) -> tuple[Answer, list[str]]:
    deltas: list[str] = []
    answer = answerer.answer(question, on_delta=deltas.append, **kwargs)  # type: ignore[arg-type]
    return answer, deltas


def assert_extractive(answer: Answer, notice: str, *detail: str) -> None:
    """The question was still answered, from the documents, saying why the model was not used."""
    assert answer.backend == "extractive" and not answer.streamed and not answer.refused
    assert "120" in answer.answer and answer.citations[0].doc_id == UDMURTIA
    assert notice in (answer.notice or ""), answer.notice
    for part in detail:
        assert part in (answer.detail or ""), answer.detail


# -- the request and the streamed answer ----------------------------------------------------------


def test_streamed_answer_through_the_answerer(seed_root: Path, navec: Embedder) -> None:
    with LoopbackOpenAI(key=KEY) as server:
        answerer = make_answerer(seed_root, navec, backend_for(server.url))
        answer, deltas = ask(answerer)
    [chat] = server.chats
    body = chat.body
    assert body["model"] == MODEL and body["stream"] is True
    assert body["max_tokens"] == answerer.settings.llm_max_tokens and body["temperature"] <= 0.2
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"] == render("answer_system")
    assert len(chat.passages) == answerer.settings.top_k and f"Вопрос: {BUS_QUESTION}" in chat.user
    assert set(server.auth) == {f"Bearer {KEY}"}  # every request carried the key
    [sent] = server.sent
    assert len(sent) > 3 and deltas == sent  # every SSE delta reached on_delta, in order, nothing else
    n = chat.passage_with(BUS_FACT)
    assert answer.backend == LABEL and answer.streamed and answer.notice is None and answer.detail is None
    assert answer.answer == f"Беларусь поставит в Удмуртию 120 автобусов МАЗ. [{n}]"
    assert [(c.n, c.doc_id) for c in answer.citations] == [(n, UDMURTIA)]
    check_contract(answer.to_dict())


def test_check_reads_the_context_window_from_the_model_list() -> None:
    with LoopbackOpenAI(context=32768) as server:
        backend = backend_for(server.url)
        backend.check()
        assert backend.context_window == 32768
    with LoopbackOpenAI() as server:  # llama.cpp's and Ollama's lists do not say: the setting is used
        backend = OpenAIBackend(server.url, MODEL, context_window=6144)
        assert backend.context_window == 6144 and backend.context_window == 6144
    assert server.paths == ["GET /v1/models", "GET /props"]  # looked once (llama.cpp's /props: not here)
    with LoopbackOpenAI(props_ctx=8192) as server:  # llama.cpp's own server
        assert OpenAIBackend(server.url, MODEL, context_window=6144).context_window == 8192


def test_a_small_server_context_drops_passages(seed_root: Path, navec: Embedder) -> None:
    with LoopbackOpenAI(context=2048) as server:
        answerer = make_answerer(seed_root, navec, backend_for(server.url), llm_max_tokens=256)
        answer, _ = ask(answerer, k=10)
    [chat] = server.chats
    assert len(answer.passages) == 10 and 1 <= len(chat.passages) < 10
    prompt = sum(answerer.backend.count_tokens(m["content"]) + 8 for m in chat.messages)  # type: ignore[union-attr]
    assert prompt + 256 <= 2048


def test_empty_model_setting_takes_the_first_served_model(seed_root: Path, navec: Embedder) -> None:
    with LoopbackOpenAI(models=["gemma-3-270m", "other"]) as server:
        settings = llm_settings(seed_root, llm_backend="openai", openai_base_url=server.url)
        answer = Pipeline(settings, embedder=navec).ask(BUS_QUESTION)
    assert server.paths == ["GET /v1/models", "GET /props", "POST /v1/chat/completions"]
    assert server.chats[0].body["model"] == "gemma-3-270m"
    assert answer.backend == "openai:gemma-3-270m" and answer.citations[0].doc_id == UDMURTIA
    assert set(server.auth) == {None}  # no key set: no Authorization header


def test_a_server_that_ignores_stream_still_answers(seed_root: Path, navec: Embedder) -> None:
    with LoopbackOpenAI(json_reply=True) as server:
        answer, deltas = ask(make_answerer(seed_root, navec, backend_for(server.url)))
    assert deltas == ["".join(server.sent[0])]  # the whole text as one delta
    assert answer.backend == LABEL and answer.citations[0].doc_id == UDMURTIA and "120" in answer.answer


# -- failures: each has its error class, and the user still gets an answer ---------------------


def test_server_down(seed_root: Path, navec: Embedder) -> None:
    url = f"http://127.0.0.1:{refused_port()}/v1"
    backend = backend_for(url)
    with pytest.raises(LLMUnavailableError, match="OPENAI_BASE_URL") as caught:
        backend.check()
    assert url in str(caught.value) and "llama_cpp.server" in str(caught.value)  # what to start
    answer, deltas = ask(make_answerer(seed_root, navec, backend))
    assert_extractive(answer, "Языковая модель недоступна", "No server answers at", url)
    assert deltas == [answer.answer]


def test_bad_key_is_refused_and_never_shown(
    seed_root: Path, navec: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with LoopbackOpenAI(key=KEY) as server:
        backend = backend_for(server.url, key=WRONG_KEY)
        with pytest.raises(LLMUnavailableError, match="rejected the API key") as caught:
            backend.check()
        answer, _ = ask(make_answerer(seed_root, navec, backend))
        with pytest.raises(LLMUnavailableError, match="wants an API key"):
            backend_for(server.url, key=None).check()
    assert "OPENAI_API_KEY" in str(caught.value) and "401" in str(caught.value)
    assert server.auth[-1] is None and set(server.auth[:-1]) == {f"Bearer {WRONG_KEY}"}  # the key was sent...
    assert_extractive(answer, "Языковая модель недоступна", "rejected the API key")
    shown = [str(caught.value), answer.answer, answer.notice or "", answer.detail or "", caplog.text]
    assert not any(WRONG_KEY in text or KEY in text for text in shown)  # ...and never shown or logged


def test_unknown_model(seed_root: Path, navec: Embedder) -> None:
    with LoopbackOpenAI(models=[MODEL, "llama-3.1-8b"]) as server:
        backend = backend_for(server.url, model="qwen2.5-72b")
        with pytest.raises(LLMModelMissingError, match="OPENAI_MODEL") as caught:
            backend.check()
        answer, _ = ask(make_answerer(seed_root, navec, backend))
    assert f"It serves: {MODEL}, llama-3.1-8b." in str(caught.value)
    assert server.chats[0].body["model"] == "qwen2.5-72b"  # the request got the server's 404
    assert_extractive(answer, "Языковая модель не установлена", "'qwen2.5-72b' (setting OPENAI_MODEL)")


def test_stream_breaking_mid_answer(seed_root: Path, navec: Embedder) -> None:
    with LoopbackOpenAI(break_after=3) as server:  # the role chunk and two deltas, then the connection drops
        backend = backend_for(server.url)
        with pytest.raises(LLMError, match="broke while it was answering") as caught:
            list(backend.stream([{"role": "user", "content": BUS_QUESTION}], max_tokens=8, temperature=0))
        answer, deltas = ask(make_answerer(seed_root, navec, backend))
    assert type(caught.value) is LLMError
    assert deltas == server.sent[1][:2]  # the partial text was streamed, then replaced
    assert answer.question == BUS_QUESTION
    assert_extractive(answer, "Языковая модель ответила с ошибкой", "broke")


def test_stream_ending_without_done(seed_root: Path, navec: Embedder) -> None:
    """A stream closed cleanly in the middle (no finish_reason, no [DONE]) is not taken for a whole answer."""
    with LoopbackOpenAI(truncate=True) as server:
        backend = backend_for(server.url)
        with pytest.raises(LLMError, match="stopped before its end"):
            list(backend.stream([{"role": "user", "content": BUS_QUESTION}], max_tokens=8, temperature=0))
        answer, deltas = ask(make_answerer(seed_root, navec, backend))
    assert deltas == server.sent[1]
    assert_extractive(answer, "Языковая модель ответила с ошибкой", "no [DONE]")


def test_hang_past_the_timeout(seed_root: Path, navec: Embedder) -> None:
    with LoopbackOpenAI(hang=30) as server:
        backend = backend_for(server.url, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(LLMTimeoutError, match="LLM_TIMEOUT"):
            list(backend.stream([{"role": "user", "content": "?"}], max_tokens=8, temperature=0))
        assert time.monotonic() - started < 3
        answer, _ = ask(make_answerer(seed_root, navec, backend))
    assert_extractive(answer, "Языковая модель не ответила вовремя", "within 0.5 s")


def test_a_server_that_is_not_an_llm_api(seed_root: Path, navec: Embedder) -> None:
    with LoopbackOpenAI(not_found=True) as server:
        backend = backend_for(server.url)
        with pytest.raises(LLMUnavailableError, match="No OpenAI-compatible API") as caught:
            backend.check()
        answer, _ = ask(make_answerer(seed_root, navec, backend))
    assert "GET /models answered 404" in str(caught.value) and "/v1" in str(caught.value)
    assert_extractive(answer, "Языковая модель недоступна", "POST /chat/completions answered 404")


def test_base_url_without_v1_says_so() -> None:
    with LoopbackOpenAI() as server:
        with pytest.raises(LLMUnavailableError, match=r"usually ends in /v1"):
            backend_for(server.url.removesuffix("/v1")).check()
    assert server.paths == ["GET /models"]


# -- the factory, the settings and the CLI ------------------------------------------------------


def test_backend_openai_without_a_base_url_falls_back(seed_root: Path, navec: Embedder) -> None:
    settings = llm_settings(seed_root, llm_backend="openai")
    backend, reason = make_backend(settings)
    assert backend is None and isinstance(reason, LLMUnavailableError) and "OPENAI_BASE_URL" in str(reason)
    answer = Pipeline(settings, embedder=navec).ask(BUS_QUESTION)
    assert_extractive(answer, "Языковая модель недоступна", "needs OPENAI_BASE_URL")


def test_auto_prefers_the_openai_server_when_its_url_is_set(seed_root: Path) -> None:
    with LoopbackOpenAI() as openai, LoopbackOllama() as ollama:
        both = llm_settings(seed_root, openai_base_url=openai.url, openai_model=MODEL, ollama_host=ollama.url)
        backend, reason = make_backend(both, "auto")
        assert isinstance(backend, OpenAIBackend) and reason is None and backend.label == LABEL
        assert openai.paths == ["GET /v1/models", "GET /props"] and ollama.paths == []
        backend, reason = make_backend(llm_settings(seed_root, ollama_host=ollama.url), "auto")
        assert isinstance(backend, OllamaBackend) and len(openai.paths) == 2  # no URL: not tried
    down = f"http://127.0.0.1:{refused_port()}/v1"
    with LoopbackOllama() as ollama:
        backend, reason = make_backend(
            llm_settings(seed_root, openai_base_url=down, ollama_host=ollama.url), "auto"
        )
        assert isinstance(backend, OllamaBackend) and reason is None  # the OpenAI server is down: Ollama
    backend, reason = make_backend(
        llm_settings(seed_root, openai_base_url=down, ollama_host=f"http://127.0.0.1:{refused_port()}"),
        "auto",
    )
    assert backend is None and isinstance(reason, LLMUnavailableError) and down in str(reason)


def test_cli_ask_with_backend_openai_reads_the_env_and_hides_the_key(seed_root: Path, tmp_path: Path) -> None:
    with LoopbackOpenAI(key=KEY) as server:
        env = clean_env(
            INDEX_DIR=str(seed_root / "index"),
            OPENAI_BASE_URL=server.url,
            OPENAI_API_KEY=KEY,
            OPENAI_MODEL=MODEL,
            RETRIEVAL_MODE="bm25",
        )  # fmt: skip  (bm25: no embedder to load)
        done = run_cli(["-vv", "ask", "--backend", "openai", "--json", BUS_QUESTION], cwd=tmp_path, env=env)
        env["OPENAI_API_KEY"] = WRONG_KEY
        bad = run_cli(["-vv", "ask", "--backend", "openai", BUS_QUESTION], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    data = parse_json(done.stdout)
    check_contract(data)
    assert data["backend"] == LABEL and data["citations"][0]["doc_id"] == UDMURTIA
    assert bad.returncode == 0, bad.stderr
    assert "— ответ: extractive; Языковая модель недоступна" in bad.stdout and "OPENAI_API_KEY" in bad.stderr
    assert "rejected the API key" in bad.stderr  # -vv logged the failure...
    for out in (done.stdout, done.stderr, bad.stdout, bad.stderr):
        assert KEY not in out and WRONG_KEY not in out  # ...but never the key
