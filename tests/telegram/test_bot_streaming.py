"""Streaming from an LLM that fails mid-answer (Ollama over loopback HTTP), and the answer queue."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from botkit import BUS_QUESTION, GROUP, RunningBot, ask, copy_collection, running_bot, seed_index
from fake_bot_api import DROP, SERVER_ERROR, ApiError, Fault
from llm.ollama_double import MODEL, LoopbackOllama

from qa_bot.telegram import texts

PARTIAL = ["Беларусь поставит ", "в Удмуртию автобусы"]


@pytest.fixture(scope="module")
def ollama() -> Iterator[LoopbackOllama]:
    """Streams PARTIAL, 0.4 s a piece, then drops the connection before {"done": true}."""
    with LoopbackOllama(lambda _: PARTIAL, delay=0.4, break_after=len(PARTIAL)) as server:
        yield server


@pytest.fixture(scope="module")
def llm_bot(tmp_path_factory: pytest.TempPathFactory, ollama: LoopbackOllama) -> Iterator[RunningBot]:
    root = copy_collection(seed_index(tmp_path_factory), tmp_path_factory.mktemp("llm_bot"))
    overrides = {
        "llm_backend": "ollama",
        "ollama_host": ollama.url,
        "ollama_model": MODEL,
        "llm_timeout": 10,
        "max_concurrent_answers": 1,
        "telegram_send_attempts": 2,
    }
    with running_bot(root, **overrides) as running:
        yield running


def _assert_cited_fallback(html: str) -> None:
    answer, _, sources = html.partition("<b>Источники:</b>")
    assert "120" in answer and "[1]" in answer
    assert "поэтому ответ составлен из цитат документов.</i>" in answer  # the notice, in italics
    assert "<blockquote>«" in sources


def test_private_chat_streams_a_draft_then_replaces_it_with_the_cited_answer(
    llm_bot: RunningBot, ollama: LoopbackOllama, user: int
) -> None:
    final = ask(llm_bot.api, user, BUS_QUESTION, timeout=15)
    _assert_cited_fallback(final.text)
    assert ollama.chats and ollama.chats[-1].body["stream"] is True
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
    # previews at most once per interval (the final edit follows whenever the answer is ready)
    gaps = [b.at - a.at for a, b in itertools.pairwise(updates[:-1])]
    assert all(gap >= llm_bot.settings.telegram_stream_interval * 0.9 for gap in gaps)


@pytest.mark.parametrize(
    ("fault", "times"),
    [(SERVER_ERROR, 1), (DROP, 1), (SERVER_ERROR, 10), (ApiError(400, "Bad Request: message to edit not found"), 1)],
    ids=["500-once", "dropped-once", "500-for-good", "preview-deleted-by-someone"],
)
def test_a_failed_final_edit_in_a_group_never_leaves_the_raw_preview(
    llm_bot: RunningBot, user: int, fault: ApiError | Fault, times: int
) -> None:
    group = GROUP - user  # a group of its own: the counts below are this test's
    final_edit = lambda p: int(p["chat_id"]) == group and "reply_markup" in p
    llm_bot.api.fail("editMessageText", fault, when=final_edit, times=times)
    final = ask(llm_bot.api, user, f"@qa_test_bot {BUS_QUESTION}", chat_id=group, timeout=30)
    _assert_cited_fallback(final.text)
    assert len(llm_bot.api.answers(group)) == 1  # exactly one answer
    assert texts.ERROR not in llm_bot.api.texts_to(group)
    preview = llm_bot.api.calls_of("sendMessage", group)[0]
    assert preview.text.startswith("Беларусь поставит")
    if final.method == "sendMessage":  # the preview could not become the answer: it is deleted
        deleted = llm_bot.api.wait_for(lambda: llm_bot.api.calls_of("deleteMessage", group))
        assert [d.params["message_id"] for d in deleted] == [str(preview.params["_message_id"])]
    else:  # a transient failure: the edit was retried
        assert times == 1 and final.params["message_id"] == str(preview.params["_message_id"])


def test_answers_beyond_the_concurrency_limit_wait_in_a_queue(llm_bot: RunningBot, user: int) -> None:
    users = [user + 200 * i for i in range(4)]  # one answer at a time, ~0.8 s each: the last waits > 2 s
    for uid in users:
        llm_bot.api.send_text(uid, BUS_QUESTION)
    for uid in users:
        _assert_cited_fallback(llm_bot.api.wait_answers(uid, timeout=20)[0].text)
    notices = [c for u in users for c in llm_bot.api.calls_of("sendMessage", u) if "в очереди" in c.text]
    assert notices and texts.QUEUED.format(position=3) in {n.text for n in notices}
    for notice in notices:  # each notice is removed once its answer starts
        deleted = llm_bot.api.calls_of("deleteMessage", notice.chat_id)
        assert [d.params["message_id"] for d in deleted] == [str(notice.params["_message_id"])]
        assert notice.at < llm_bot.api.answers(notice.chat_id)[0].at
