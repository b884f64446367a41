"""The Ollama backend through the real `ollama.Client`, with Ollama's documented HTTP API doubled at the wire."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from qa_bot.answer import Answer, Answerer
from qa_bot.citations import REFUSAL
from qa_bot.embed import Embedder
from qa_bot.errors import LLMModelMissingError, LLMTimeoutError, LLMUnavailableError
from qa_bot.llm import make_backend
from qa_bot.llm.ollama_backend import OllamaBackend
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
from .ollama_double import (
    BUS_FACT,
    BUS_REWRITE,
    MODEL,
    ChatRequest,
    FakeOllama,
    LoopbackOllama,
    bus_answer,
    scripted,
)
from .openai_double import LoopbackOpenAI

LABEL = f"ollama:{MODEL}"


def backend_for(fake: FakeOllama, model: str = MODEL) -> OllamaBackend:
    return OllamaBackend("http://ollama.test:11434", model, timeout=30, client=fake.client())


@pytest.fixture
def fake() -> FakeOllama:
    return FakeOllama()


@pytest.fixture
def answerer(seed_root: Path, navec: Embedder, fake: FakeOllama) -> Answerer:
    return make_answerer(seed_root, navec, backend_for(fake), llm_backend="ollama")


def ask(answerer: Answerer, question: str = BUS_QUESTION, **kwargs: object) -> tuple[Answer, list[str]]:
    deltas: list[str] = []
    answer = answerer.answer(question, on_delta=deltas.append, **kwargs)  # type: ignore[arg-type]
    return answer, deltas


def refused_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the request -----------------------------------------------------------------------------


def test_request_follows_the_ollama_chat_api(answerer: Answerer, fake: FakeOllama) -> None:
    ask(answerer)
    [chat] = fake.chats
    [request] = [r for r in fake.requests if r.url.path == "/api/chat"]
    assert request.method == "POST" and request.url.host == "ollama.test" and request.url.port == 11434
    assert request.headers["content-type"] == "application/json"
    body = chat.body
    assert body["model"] == MODEL and body["stream"] is True
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"] == render("answer_system")
    user = chat.user
    assert user.startswith("<документы>\n") and user.count("</документы>") == 1
    assert '<фрагмент номер="1" документ="' in user
    assert len(chat.passages) == answerer.settings.top_k
    assert f"Вопрос: {BUS_QUESTION}" in user
    options = body["options"]
    assert options["temperature"] <= 0.2 and options["num_predict"] == answerer.settings.llm_max_tokens


def test_num_ctx_holds_the_prompt_and_the_answer(answerer: Answerer, fake: FakeOllama) -> None:
    backend = answerer.backend
    assert isinstance(backend, OllamaBackend)
    for k in (1, 12):
        ask(answerer, k=k)
    small, large = fake.chats
    assert len(small.passages) == 1 and len(large.passages) == 12
    for chat in (small, large):
        prompt_tokens = sum(backend.count_tokens(m["content"]) for m in chat.messages)
        options = chat.body["options"]
        assert options["num_ctx"] >= prompt_tokens + options["num_predict"], (prompt_tokens, options)
        assert options["num_ctx"] <= 32768
    assert (
        large.body["options"]["num_ctx"] > small.body["options"]["num_ctx"]
    )  # Ollama's default would truncate


# -- the answer --------------------------------------------------------------------------------


def test_streamed_answer_with_valid_citation(answerer: Answerer, fake: FakeOllama) -> None:
    answer, deltas = ask(answerer)
    [sent] = fake.sent
    assert len(sent) > 3 and deltas == sent  # every delta reaches on_delta, in order, nothing else
    n = fake.chats[0].passage_with(BUS_FACT)
    assert n is not None
    assert answer.streamed and answer.backend == LABEL and not answer.refused and answer.notice is None
    assert (
        answer.answer == f"Беларусь поставит в Удмуртию 120 автобусов МАЗ. [{n}]"
    )  # the marker moved after its claim
    [citation] = answer.citations
    assert citation.n == n and citation.doc_id == UDMURTIA
    assert citation.chunk_id == answer.passages[n - 1].chunk.chunk_id
    assert BUS_FACT in citation.quote and citation.quote in answer.passages[n - 1].chunk.text
    check_contract(answer.to_dict())


def test_markers_pointing_to_no_passage_are_dropped(seed_root: Path, navec: Embedder) -> None:
    def reply(request: ChatRequest) -> str:
        return f"Беларусь поставит в Удмуртию 120 автобусов МАЗ [{request.passage_with(BUS_FACT)}][9]. Это много [12]."

    fake = FakeOllama(scripted(reply))
    answer, _ = ask(make_answerer(seed_root, navec, backend_for(fake)))
    n = fake.chats[0].passage_with(BUS_FACT)
    assert answer.backend == LABEL and [c.n for c in answer.citations] == [n]
    assert f"[{n}]" in answer.answer and "[9]" not in answer.answer and "[12]" not in answer.answer


@pytest.mark.parametrize(
    "reply",
    [
        "Беларусь поставит в Удмуртию 120 автобусов МАЗ [9].",  # only a marker beyond the 5 passages
        "Беларусь поставит в Удмуртию 120 автобусов МАЗ.",  # no marker at all
        "Ижевск закупит трамваи у Китая [1].",  # a marker whose passage says nothing of the kind
    ],
    ids=["marker-beyond-passages", "no-marker", "unsupported-marker"],
)
def test_answer_without_a_valid_citation_falls_back_to_extractive(
    seed_root: Path, navec: Embedder, reply: str
) -> None:
    fake = FakeOllama(lambda _: reply)
    answer, deltas = ask(make_answerer(seed_root, navec, backend_for(fake)))
    assert answer.backend == "extractive" and not answer.streamed
    assert "не опирался на источники" in (answer.notice or "")
    assert "120" in answer.answer and answer.citations and answer.citations[0].doc_id == UDMURTIA
    assert (
        deltas == fake.sent[0]
    )  # only the model's deltas: the fallback replaces them, it does not follow them


def test_refusal_phrase_from_the_model(seed_root: Path, navec: Embedder) -> None:
    answerer = make_answerer(
        seed_root, navec, backend_for(FakeOllama(lambda _: "В документах нет ответа на этот вопрос."))
    )
    answer, _ = ask(answerer)
    assert answer.refused and answer.answer == REFUSAL and answer.citations == []
    assert answer.backend == LABEL


def test_irrelevant_question_is_refused_without_calling_the_model(
    answerer: Answerer, fake: FakeOllama
) -> None:
    answer, deltas = ask(answerer, "Какая погода будет завтра в Лиссабоне?")
    assert answer.refused and answer.answer == REFUSAL and deltas == [REFUSAL]
    assert fake.chats == []


def test_paraphrase_below_the_extractive_bar_still_reaches_the_model(seed_root: Path, navec: Embedder) -> None:
    """"Подъемников ... пора менять" shares one lemma with "около 3 тыс. единиц нуждаются в замене": its best
    passage covers less of it than the extractive bar, yet an LLM gets the passages and answers from them."""
    question = "Сколько подъемников в Удмуртии пора менять?"
    fact = "около 3 тыс. единиц нуждаются в замене"

    def lifts(request: ChatRequest) -> str:
        n = request.passage_with(fact)
        return f"В Удмуртии {fact} [{n}]." if n else REFUSAL

    fake = FakeOllama(scripted(lifts))
    extractive = make_answerer(seed_root, navec, None)
    top = extractive.retriever.search(question, 5)[0]
    settings = extractive.settings
    assert settings.llm_refusal_threshold <= top.relevance < settings.refusal_threshold

    answer, _ = ask(make_answerer(seed_root, navec, backend_for(fake)), question)
    assert len(fake.chats) == 1 and not answer.refused
    assert "3 тыс" in answer.answer and answer.citations[0].doc_id == UDMURTIA


# -- failures: the question is never lost --------------------------------------------------------


def test_connection_refused_through_the_transport(seed_root: Path, navec: Embedder) -> None:
    fake = FakeOllama()
    fake.error = lambda request: httpx.ConnectError("[Errno 111] Connection refused", request=request)
    backend = backend_for(fake)
    with pytest.raises(LLMUnavailableError, match="OLLAMA_HOST"):
        backend.check()
    answer, _ = ask(make_answerer(seed_root, navec, backend))
    assert answer.backend == "extractive" and "120" in answer.answer and answer.citations
    assert answer.notice == "Языковая модель недоступна, поэтому ответ составлен из цитат документов."
    assert "OLLAMA_HOST" in (answer.detail or "") and "http://ollama.test:11434" in (answer.detail or "")


def test_unreachable_server_with_backend_ollama_and_auto(seed_root: Path, navec: Embedder) -> None:
    host = f"http://127.0.0.1:{refused_port()}"
    settings = llm_settings(seed_root, ollama_host=host)
    answer = Pipeline(settings, backend="ollama", embedder=navec).ask(BUS_QUESTION)
    assert answer.backend == "extractive" and "120" in answer.answer and not answer.refused
    assert "недоступна" in (answer.notice or "")
    assert "OLLAMA_HOST" in (answer.detail or "") and host in (answer.detail or "")

    backend, reason = make_backend(settings, "auto")
    assert backend is None and isinstance(reason, LLMUnavailableError) and "OLLAMA_HOST" in str(reason)
    answer = Pipeline(settings, backend="auto", embedder=navec).ask(BUS_QUESTION)
    assert answer.backend == "extractive" and "120" in answer.answer
    assert "недоступна" in (answer.notice or "") and "OLLAMA_HOST" in (answer.detail or "")


def test_model_not_pulled(seed_root: Path, navec: Embedder) -> None:
    fake = FakeOllama(models=["llama3.2:latest"])
    backend = backend_for(fake)
    with pytest.raises(LLMModelMissingError, match=r"ollama pull qwen2\.5:7b-instruct"):
        backend.check()
    answer, _ = ask(make_answerer(seed_root, navec, backend))
    assert fake.chats and fake.chats[0].body["model"] == MODEL  # the request got the documented 404
    assert answer.backend == "extractive" and "120" in answer.answer
    assert "не установлена" in (answer.notice or "")
    assert "ollama pull qwen2.5:7b-instruct" in (answer.detail or "")


def test_model_tag_latest_counts_as_pulled() -> None:
    fake = FakeOllama(models=["qwen2.5:latest", "llama3.2:3b"])
    backend_for(fake, model="qwen2.5").check()  # "qwen2.5" is what `ollama pull qwen2.5` lists as qwen2.5:latest
    assert [r.url.path for r in fake.requests] == ["/api/tags"]  # the check read the list
    for other in ("qwen2.5:7b", "llama3.2"):  # another tag of a listed name is not pulled
        with pytest.raises(LLMModelMissingError, match=f"ollama pull {other}"):
            backend_for(fake, model=other).check()


@pytest.mark.parametrize("not_found", [True, False], ids=["web-server-404-page", "openai-compatible-server"])
def test_a_server_that_is_not_ollama_is_not_a_missing_model(
    seed_root: Path, navec: Embedder, not_found: bool
) -> None:
    """OLLAMA_HOST pointing at a server that answers 404 to Ollama's API: say so, not «run ollama pull»."""
    with LoopbackOpenAI(not_found=not_found) as server:
        host = server.url.removesuffix("/v1")
        backend = OllamaBackend(host, MODEL, timeout=10)
        with pytest.raises(LLMUnavailableError, match="is not an Ollama server") as caught:
            backend.check()
        answer, _ = ask(make_answerer(seed_root, navec, backend))
        auto, reason = make_backend(llm_settings(seed_root, ollama_host=host), "auto")
    assert server.paths[:2] == ["GET /api/tags", "POST /api/chat"]
    assert "GET /api/tags" in str(caught.value) and host in str(caught.value)
    assert "pull" not in str(caught.value) and "LLM_BACKEND=openai" in str(caught.value)
    assert answer.backend == "extractive" and "120" in answer.answer and answer.citations
    assert "недоступна" in (answer.notice or "") and "не установлена" not in (answer.notice or "")
    assert "not an Ollama server" in (answer.detail or "") and "pull" not in (answer.detail or "")
    assert auto is None and isinstance(reason, LLMUnavailableError) and "not an Ollama server" in str(reason)


def test_timeout(seed_root: Path, navec: Embedder) -> None:
    fake = FakeOllama()
    fake.error = lambda request: httpx.ReadTimeout("timed out", request=request)
    backend = backend_for(fake)
    with pytest.raises(LLMTimeoutError, match="LLM_TIMEOUT"):
        list(backend.stream([{"role": "user", "content": "?"}], max_tokens=8, temperature=0))
    answer, _ = ask(make_answerer(seed_root, navec, backend))
    assert answer.backend == "extractive" and "120" in answer.answer
    assert "не ответила вовремя" in (answer.notice or "") and "LLM_TIMEOUT" in (answer.detail or "")


def test_stream_breaking_midway(seed_root: Path, navec: Embedder) -> None:
    fake = FakeOllama()
    fake.break_after = 2
    answer, deltas = ask(make_answerer(seed_root, navec, backend_for(fake)))
    assert deltas == fake.sent[0][:2]  # the partial text was streamed (and is replaced, not continued)...
    assert answer.question == BUS_QUESTION  # ...and the question was not lost
    assert answer.backend == "extractive" and not answer.streamed and "120" in answer.answer
    assert answer.citations[0].doc_id == UDMURTIA
    assert "ответила с ошибкой" in (answer.notice or "")
    assert "broke" in (answer.detail or "") and "not reachable" not in (answer.detail or "")


# -- rewriting before retrieval ------------------------------------------------------------------


def test_follow_up_is_rewritten_before_retrieval(answerer: Answerer, fake: FakeOllama) -> None:
    history = ["Какие автобусы Беларусь поставит в Удмуртию?"]
    answer, _ = ask(answerer, "А сколько их будет?", history=history)
    rewrite, answering = fake.chats
    assert rewrite.kind == "rewrite" and answering.kind == "answer"
    assert rewrite.messages == [
        {"role": "system", "content": render("rewrite_system")},
        {
            "role": "user",
            "content": render("rewrite_user", history=f"- {history[0]}", question="А сколько их будет?"),
        },
    ]
    assert rewrite.body["stream"] is True and rewrite.body["options"]["temperature"] == 0
    assert answer.search_query == BUS_REWRITE and answer.question == "А сколько их будет?"
    assert f"Вопрос: {BUS_REWRITE}" in answering.user
    assert answer.passages[0].chunk.doc_id == UDMURTIA and BUS_FACT in " ".join(
        h.chunk.text for h in answer.passages
    )
    assert answer.backend == LABEL and answer.citations[0].doc_id == UDMURTIA


def test_english_question_is_rewritten_into_russian(answerer: Answerer, fake: FakeOllama) -> None:
    answer, _ = ask(answerer, "How many MAZ buses will Belarus supply to Udmurtia?")
    assert fake.chats[0].kind == "rewrite" and "How many MAZ buses" in fake.chats[0].user
    assert answer.search_query == BUS_REWRITE
    assert answer.passages[0].chunk.doc_id == UDMURTIA
    assert answer.backend == LABEL and "120" in answer.answer


def test_follow_up_survives_a_dead_server(seed_root: Path, navec: Embedder) -> None:
    fake = FakeOllama()
    fake.error = lambda request: httpx.ConnectError("[Errno 111] Connection refused", request=request)
    answerer = make_answerer(seed_root, navec, backend_for(fake))
    answer, _ = ask(
        answerer,
        "А на каком топливе они работают?",
        history=["Сколько автобусов Беларусь поставит в Удмуртию?"],
    )
    # no rewrite possible: the previous question is prepended instead, and the extractive answer still comes
    assert (
        answer.search_query
        == "Сколько автобусов Беларусь поставит в Удмуртию? А на каком топливе они работают?"
    )
    assert answer.backend == "extractive" and "газомоторном" in answer.answer


# -- a real HTTP server and the settings path ----------------------------------------------------


def test_auto_picks_ollama_on_a_loopback_server(seed_root: Path, navec: Embedder) -> None:
    with LoopbackOllama() as server:
        settings = llm_settings(seed_root, ollama_host=server.url, llm_backend="auto")
        backend, reason = make_backend(settings)
        assert isinstance(backend, OllamaBackend) and reason is None
        answer = Pipeline(settings, embedder=navec).ask(BUS_QUESTION)
    assert server.paths == [
        "GET /api/tags",
        "GET /api/tags",
        "POST /api/chat",
    ]  # make_backend twice, then chat
    assert answer.backend == LABEL and answer.notice is None and answer.citations[0].doc_id == UDMURTIA
    chat = server.chats[-1]
    assert chat.body["stream"] is True and chat.body["options"]["num_ctx"] >= 2048


def test_auto_finds_an_ollama_started_later_without_a_restart(seed_root: Path, navec: Embedder) -> None:
    port = refused_port()
    settings = llm_settings(
        seed_root, llm_backend="auto", ollama_host=f"http://127.0.0.1:{port}", llm_auto_recheck=2.0
    )  # long enough that a loaded CI machine answers the next question within it
    pipeline = Pipeline(settings, embedder=navec)
    before = pipeline.ask(BUS_QUESTION)
    assert before.backend == "extractive" and "недоступна" in (before.notice or "")
    with LoopbackOllama(port=port) as server:
        soon = pipeline.ask(BUS_QUESTION)  # within LLM_AUTO_RECHECK of the last probe: not probed again
        assert soon.backend == "extractive" and server.paths == []
        time.sleep(2.1)
        after = pipeline.ask(BUS_QUESTION)
    assert server.paths == ["GET /api/tags", "POST /api/chat"]
    assert after.backend == LABEL and after.notice is None and after.citations[0].doc_id == UDMURTIA


def test_auto_with_the_model_missing_on_a_loopback_server(seed_root: Path) -> None:
    with LoopbackOllama(models=[]) as server:
        backend, reason = make_backend(llm_settings(seed_root, ollama_host=server.url), "auto")
    assert backend is None and isinstance(reason, LLMModelMissingError)
    assert "ollama pull qwen2.5:7b-instruct" in str(reason)


def test_cli_reads_the_ollama_settings_from_env_and_dotenv(seed_root: Path, tmp_path: Path) -> None:
    model = "t-lite:test"
    (tmp_path / ".env").write_text(f"OLLAMA_MODEL={model}\n", encoding="utf-8")
    with LoopbackOllama(scripted(bus_answer), models=[model]) as server:
        env = clean_env(OLLAMA_HOST=server.url, INDEX_DIR=str(seed_root / "index"), LLM_BACKEND="auto",
                        RETRIEVAL_MODE="bm25")  # fmt: skip
        done = run_cli(["ask", "--backend", "auto", "--json", BUS_QUESTION], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    data = parse_json(done.stdout)
    check_contract(data)
    assert data["backend"] == f"ollama:{model}" and data["citations"][0]["doc_id"] == UDMURTIA
    assert [c.body["model"] for c in server.chats] == [model]
