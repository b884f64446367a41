"""Streaming from an LLM that fails mid-answer (Ollama over loopback HTTP), and the answer queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BUS_QUESTION, GROUP, RunningBot, ask, copy_collection, running_bot
from fake_ollama import BrokenOllama

from qa_bot.telegram import texts

PARTIAL = ["Беларусь поставит ", "в Удмуртию автобусы"]


@pytest.fixture(scope="module")
def ollama() -> Iterator[BrokenOllama]:
    server = BrokenOllama(PARTIAL, delay=0.35).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llm_bot(seed_index: Path, tmp_path_factory: pytest.TempPathFactory, ollama: BrokenOllama) -> Iterator[RunningBot]:
    root = copy_collection(seed_index, tmp_path_factory.mktemp("llm_bot"))
    overrides = {"llm_backend": "ollama", "ollama_host": ollama.url, "llm_timeout": 10, "max_concurrent_answers": 1}
    with running_bot(root, **overrides) as running:
        yield running


def _assert_cited_fallback(html: str) -> None:
    answer, _, sources = html.partition("<b>Источники:</b>")
    assert "120" in answer and "[1]" in answer
    assert "<i>LLM не ответила" in answer  # the notice, in italics
    assert "<blockquote>«" in sources


def test_private_chat_streams_a_draft_then_replaces_it_with_the_cited_answer(
    llm_bot: RunningBot, ollama: BrokenOllama, user: int
) -> None:
    final = ask(llm_bot.api, user, BUS_QUESTION, timeout=15)
    _assert_cited_fallback(final.text)
    assert ollama.requests and ollama.requests[-1]["stream"] is True
    drafts = llm_bot.api.calls_of("sendMessageDraft", user)
    assert drafts and drafts[0].text.startswith("Беларусь поставит")
    assert all(d.at < final.at for d in drafts)
    assert not any("120" in d.text for d in drafts)  # the fallback answer is never glued to the partial text
    question_id = llm_bot.api.calls_of("sendChatAction", user)[0]  # typing… shown while generating
    assert question_id.params["action"] == "typing"
    assert {d.params["draft_id"] for d in drafts} == {drafts[0].params["draft_id"]} != {"0"}
    assert len(llm_bot.api.calls_of("sendMessage", user)) == 1  # only the final answer persists


def test_group_streams_by_editing_one_message_then_replaces_it(llm_bot: RunningBot, user: int) -> None:
    final = ask(llm_bot.api, user, f"@qa_test_bot {BUS_QUESTION}", chat_id=GROUP, timeout=15)
    previews = llm_bot.api.calls_of("sendMessage", GROUP)
    assert len(previews) == 1 and previews[0].text.startswith("Беларусь поставит")
    assert "parse_mode" not in previews[0].params
    assert final.method == "editMessageText"
    assert final.params["message_id"] == str(previews[0].params["_message_id"])
    _assert_cited_fallback(final.text)
    updates = [previews[0]] + llm_bot.api.calls_of("editMessageText", GROUP)
    assert not any("120" in u.text for u in updates[:-1])
    gaps = [b.at - a.at for a, b in zip(updates, updates[1:-1], strict=False)]
    assert all(gap >= llm_bot.settings.telegram_stream_interval * 0.9 for gap in gaps)  # at most ~1 edit/interval


def test_answers_beyond_the_concurrency_limit_wait_in_a_queue(llm_bot: RunningBot, user: int) -> None:
    other = user + 500
    llm_bot.api.send_text(user, BUS_QUESTION)
    llm_bot.api.send_text(other, BUS_QUESTION)
    first = llm_bot.api.wait_answers(user, timeout=15)[0]
    second = llm_bot.api.wait_answers(other, timeout=15)[0]
    for final in (first, second):
        _assert_cited_fallback(final.text)
    queued = [c for c in llm_bot.api.calls_of("sendMessage") if c.text == texts.QUEUED.format(position=1)]
    assert len(queued) == 1
    deleted = llm_bot.api.calls_of("deleteMessage", queued[0].chat_id)
    assert deleted and deleted[0].params["message_id"] == str(queued[0].params["_message_id"])
