"""The real Gemma 3 270M GGUF through llama.cpp: the pipeline's contract, not the small model's wisdom."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_bot.answer import Answer
from qa_bot.citations import REFUSAL
from qa_bot.embed import Embedder
from qa_bot.llm import Message

from .llm_testkit import BUS_QUESTION, ULYANOVSK_QUESTION, check_contract, gguf_path, make_answerer

pytestmark = pytest.mark.slow  # about a minute on 2 cores; CI runs it too

MAX_TOKENS = 64
MESSAGES: list[Message] = [
    {"role": "system", "content": "Отвечай по-русски, коротко."},
    {
        "role": "user",
        "content": "Беларусь поставит в Удмуртию 120 автобусов МАЗ. Сколько автобусов поставит Беларусь?",
    },
]


@pytest.fixture(scope="module")
def small_gemma():
    """The same model with a 1024-token context, to make the prompt fitting bite."""
    from qa_bot.llm.llamacpp_backend import LlamaCppBackend

    return LlamaCppBackend(gguf_path(), n_ctx=1024)


def assert_contract(answer: Answer, label: str, deltas: list[str]) -> None:
    """Grounded with valid citations, or explicitly not (extractive fallback with a notice, or refused)."""
    check_contract(answer.to_dict())
    passages = {h.chunk.chunk_id for h in answer.passages}
    if answer.refused:
        assert answer.answer == REFUSAL and answer.citations == []
    elif answer.backend == label:
        assert answer.streamed and deltas and answer.citations
        for c in answer.citations:
            assert c.chunk_id in passages and c.chunk_id == answer.passages[c.n - 1].chunk.chunk_id
            assert f"[{c.n}]" in answer.answer and c.quote in answer.passages[c.n - 1].chunk.text
    else:
        assert answer.backend == "extractive" and answer.notice and answer.citations
        assert all(c.chunk_id in passages for c in answer.citations)


def test_gemma_loads_with_its_chat_format(gemma) -> None:
    assert gemma.label == "llamacpp:gemma-3-270m-q4_k_m.gguf" and gemma.context_window == 4096
    assert (
        gemma.llm.chat_format == "gemma"
    )  # the GGUF has no template: not llama-cpp-python's Llama 2 fallback
    merged = gemma.chat_messages(MESSAGES)
    assert [m["role"] for m in merged] == ["user"]  # Gemma has no system role: it leads the first user turn
    assert (
        merged[0]["content"].startswith(MESSAGES[0]["content"])
        and MESSAGES[1]["content"] in merged[0]["content"]
    )


def test_streaming_yields_deltas_of_the_whole_text(gemma) -> None:
    deltas = list(gemma.stream(MESSAGES, max_tokens=24, temperature=0.0))
    assert len(deltas) >= 3 and all(isinstance(d, str) and d for d in deltas)
    text = "".join(deltas)
    assert text.strip()
    assert (
        gemma.complete(MESSAGES, max_tokens=24, temperature=0.0) == text
    )  # greedy: the same text in one piece


def test_count_tokens_uses_the_model_tokenizer(gemma) -> None:
    short, long = "Беларусь поставит 120 автобусов.", "Беларусь поставит 120 автобусов. " * 20
    assert gemma.count_tokens("") == 0
    assert 0 < gemma.count_tokens(short) < len(short)
    assert gemma.count_tokens(long) > 10 * gemma.count_tokens(short)
    assert gemma.count_tokens("<start_of_turn>") == 1  # special tokens are counted as the template uses them


@pytest.mark.parametrize("question", [BUS_QUESTION, ULYANOVSK_QUESTION], ids=["buses", "ulyanovsk"])
def test_answers_keep_the_citation_contract(seed_root: Path, navec: Embedder, gemma, question: str) -> None:
    answerer = make_answerer(seed_root, navec, gemma, llm_max_tokens=MAX_TOKENS, llm_temperature=0.0)
    deltas: list[str] = []
    answer = answerer.answer(question, on_delta=deltas.append)
    assert answer.question == question and not answer.refused  # retrieval found the passages
    assert len(deltas) >= 2  # the model's text streamed before the checks
    assert_contract(answer, gemma.label, deltas)
    data = answer.to_dict()
    assert data["backend"] in (gemma.label, "extractive")
    assert all(v >= 0 for v in data["timings_ms"].values()) and data["timings_ms"]["generate"] > 0


def test_prompt_fits_a_small_context_window(seed_root: Path, navec: Embedder, small_gemma) -> None:
    answerer = make_answerer(
        seed_root, navec, small_gemma, top_k=8, llm_max_tokens=MAX_TOKENS, llm_temperature=0.0
    )
    hits = answerer.retriever.search(BUS_QUESTION, 8)
    assert len(hits) == 8
    everything = sum(small_gemma.count_tokens(h.chunk.text) for h in hits)
    assert everything + MAX_TOKENS > 1024  # all 8 passages cannot fit: the test means something

    messages, used = answerer.build_messages(BUS_QUESTION, hits)
    assert 1 <= used < 8
    assert messages[1]["content"].count("</фрагмент>") == used
    # the real prompt, formatted with the model's chat template and tokenized by llama.cpp
    formatted = small_gemma.llm.create_chat_completion(
        messages=small_gemma.chat_messages(messages), max_tokens=1
    )
    assert formatted["usage"]["prompt_tokens"] + MAX_TOKENS <= 1024

    deltas: list[str] = []
    answer = answerer.answer(BUS_QUESTION, on_delta=deltas.append)  # generation does not overflow the context
    assert len(answer.passages) == 8
    assert_contract(answer, small_gemma.label, deltas)
    if answer.backend == small_gemma.label:
        assert all(c.n <= used for c in answer.citations)  # only passages the model saw can be cited
