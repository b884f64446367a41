"""The real Gemma 3 270M GGUF through llama.cpp: the pipeline's contract, not the small model's wisdom."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_bot.embed import Embedder
from qa_bot.llm import Message

from .llm_testkit import BUS_QUESTION, assert_model_path, gguf_path, make_answerer

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


def test_answer_takes_the_path_its_text_dictates(seed_root: Path, navec: Embedder, gemma) -> None:
    answerer = make_answerer(seed_root, navec, gemma, llm_max_tokens=MAX_TOKENS, llm_temperature=0.0)
    deltas: list[str] = []
    answer = answerer.answer(BUS_QUESTION, on_delta=deltas.append)
    assert answer.question == BUS_QUESTION and len(answer.passages) == answerer.settings.top_k
    assert_model_path(answer, gemma.label, deltas)
    assert answer.timings_ms["generate"] > 0


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
    assert_model_path(answer, small_gemma.label, deltas, used)  # only passages the model saw can be cited
