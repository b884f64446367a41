"""End to end through python-telegram-bot: commands, questions, groups, bad input, limits, feedback."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator

import pytest
from botkit import (
    ADMIN,
    BUS_DOC_TITLE,
    BUS_QUESTION,
    GROUP,
    OUTSIDER,
    RunningBot,
    ask,
    copy_collection,
    reply_to,
    running_bot,
    seed_index,
    wait_recorded,
)
from fake_bot_api import ApiError

from qa_bot.telegram import texts


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """One running bot for this module (extractive answers); every test uses its own users."""
    root = copy_collection(seed_index(tmp_path_factory), tmp_path_factory.mktemp("bot"))
    with running_bot(root) as running:
        yield running


STICKER = {"file_id": "s1", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
           "is_animated": False, "is_video": False}  # fmt: skip


def test_commands_are_registered_with_telegram(bot: RunningBot) -> None:
    public = bot.api.calls_of("setMyCommands")[0].params
    assert [c["command"] for c in public["commands"]] == ["start", "help", "sources", "new"]
    assert "scope" not in public
    admin = next(c.params for c in bot.api.calls_of("setMyCommands") if c.params.get("scope"))
    assert admin["scope"] == {"type": "chat", "chat_id": ADMIN}
    assert {"feedback", "reindex"} <= {c["command"] for c in admin["commands"]}


def test_start_greets_in_russian_and_lists_documents_with_dates(bot: RunningBot, user: int) -> None:
    bot.api.send_text(user, "/start")
    text = reply_to(bot.api, user, 0)
    assert text.startswith("Здравствуйте")
    assert BUS_DOC_TITLE in text and "2 октября 2025" in text
    assert "Ульяновская область и Белоруссия" in text and "7 октября (год не указан)" in text
    assert "Просто напишите вопрос" in text
    call = bot.api.calls_of("sendMessage", user)[0]
    assert call.params["parse_mode"] == "HTML"


def test_help_and_sources(bot: RunningBot, user: int) -> None:
    bot.api.send_text(user, "/help")
    assert "/sources" in reply_to(bot.api, user, 0) and "/reindex" not in reply_to(bot.api, user, 0)
    bot.api.send_text(user, "/sources")
    sources = reply_to(bot.api, user, 1)
    assert "Документы (2)" in sources and BUS_DOC_TITLE in sources


def test_question_is_answered_with_citations_from_the_right_document(bot: RunningBot, user: int) -> None:
    call = ask(bot.api, user, BUS_QUESTION)
    answer, _, sources = call.text.partition("<b>Источники:</b>")
    assert "120" in answer and "[1]" in answer
    assert f"[1] <b>{BUS_DOC_TITLE}" in sources and "2 октября 2025" in sources
    assert "<blockquote>«" in sources and "120 автобусов МАЗ" in sources
    assert call.params["parse_mode"] == "HTML"
    assert [b["text"] for b in call.buttons] == ["👍", "👎"]
    # extractive answers arrive whole: nothing to stream
    assert not bot.api.calls_of("sendMessageDraft", user)


def test_a_long_question_is_cut_with_a_notice_in_italics(bot: RunningBot, user: int) -> None:
    question = BUS_QUESTION.rstrip("?") + ", если можно," + " очень" * 180 + " подробно?"
    assert bot.settings.max_question_chars < len(question) < 2 * bot.settings.max_question_chars
    answer = ask(bot.api, user, question).text
    assert f"<i>Вопрос слишком длинный ({len(question)} символов при пределе" in answer
    assert "120" in answer.partition("<b>Источники:</b>")[0]


def test_two_users_asking_at_once_are_both_answered(bot: RunningBot, user: int) -> None:
    other = user + 500
    bot.api.send_text(user, BUS_QUESTION)
    bot.api.send_text(other, "Кто министр экономики Удмуртии?")
    first = bot.api.wait_answers(user)[0]
    second = bot.api.wait_answers(other)[0]
    assert "120" in first.text and "Слугина" not in first.text
    assert "Слугина" in second.text and "120 автобусов" not in second.text


def test_in_a_group_each_member_has_their_own_history(bot: RunningBot, user: int) -> None:
    follow_up = "А продукцией какого завода она интересуется?"
    alone = ask(bot.api, user + 900, follow_up).text  # nobody asked anything before it
    other, group = user + 901, GROUP - 7
    assert "Слугина" in ask(bot.api, user, "@qa_test_bot Кто министр экономики Удмуртии?", chat_id=group).text
    assert ask(bot.api, other, f"@qa_test_bot {follow_up}", chat_id=group).text == alone
    assert "Могилев" in ask(bot.api, user, f"@qa_test_bot {follow_up}", chat_id=group).text


def test_follow_up_uses_the_chat_history_and_new_forgets_it(bot: RunningBot, user: int) -> None:
    assert "Слугина" in ask(bot.api, user, "Кто министр экономики Удмуртии?").text
    follow_up = ask(bot.api, user, "А где она работает?").text  # «она» refers back: the history is used
    assert "Слугина" in follow_up
    bot.api.send_text(user, "/new")
    assert reply_to(bot.api, user, 2) == texts.NEW_CONVERSATION
    without_history = ask(bot.api, user, "А где она работает?").text
    assert "Слугина" not in without_history  # the previous question no longer shapes the search


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"sticker": STICKER}, texts.NON_TEXT["sticker"]),
        (
            {"photo": [{"file_id": "p1", "file_unique_id": "p1", "width": 90, "height": 90}]},
            texts.NON_TEXT["photo"],
        ),
        ({"voice": {"file_id": "v1", "file_unique_id": "v1", "duration": 3}}, texts.NON_TEXT["voice"]),
        ({"location": {"latitude": 56.85, "longitude": 53.2}}, texts.NON_TEXT_DEFAULT),
    ],
    ids=["sticker", "photo", "voice", "location"],
)
def test_non_text_messages_get_a_polite_reply(
    bot: RunningBot, user: int, content: dict, expected: str
) -> None:
    bot.api.send(user, **content)
    assert reply_to(bot.api, user, 0) == expected
    assert not bot.api.answers(user)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("   ", texts.EMPTY),
        ("а" * 10_000, "Сообщение слишком длинное (10 000 символов)"),
        ("😀🎉👍", texts.NO_WORDS),
        ("https://example.com/news?id=1", texts.BARE_URL),
        ("/unknown", texts.UNKNOWN_COMMAND),
    ],
    ids=["empty", "10000-chars", "emoji-only", "bare-url", "unknown-command"],
)
def test_bad_text_gets_a_polite_reply(bot: RunningBot, user: int, text: str, expected: str) -> None:
    bot.api.send_text(user, text)
    assert reply_to(bot.api, user, 0).startswith(expected)
    assert not bot.api.answers(user)


def test_user_outside_allowed_ids_is_refused(bot: RunningBot) -> None:
    bot.api.send_text(OUTSIDER, BUS_QUESTION)
    bot.api.send_text(OUTSIDER, "/start")
    bot.api.wait_calls("sendMessage", OUTSIDER, 2)
    assert bot.api.texts_to(OUTSIDER) == [texts.NOT_ALLOWED, texts.NOT_ALLOWED]
    assert not bot.api.calls_of("sendChatAction", OUTSIDER)


def test_rate_limit_says_when_to_try_again(bot: RunningBot, user: int) -> None:
    limit = bot.settings.rate_limit_per_minute
    for _ in range(limit + 1):
        bot.api.send_text(user, BUS_QUESTION)
    bot.api.wait_answers(user, limit)
    refusal = bot.api.wait_for(lambda: [t for t in bot.api.texts_to(user) if t.startswith("Слишком")])[0]
    seconds = int(refusal.split("через ")[1].split()[0])
    assert 50 <= seconds <= 60
    # every answer is recorded right after it is sent: once `limit` are recorded, all handlers are done
    assert len(wait_recorded(bot, user, limit)) == limit
    assert len(bot.api.answers(user)) == limit and len(bot.api.texts_to(user)) == limit + 1


def test_group_answers_only_when_mentioned_or_replied_to(bot: RunningBot, user: int) -> None:
    bot.api.send_text(user, BUS_QUESTION, chat_id=GROUP)  # not addressed to the bot
    mentioned = ask(bot.api, user, f"@qa_test_bot {BUS_QUESTION}", chat_id=GROUP)
    assert "120" in mentioned.text
    assert len(bot.api.answers(GROUP)) == 1
    bot_message = bot.api.result_of(mentioned)
    replied = ask(
        bot.api, user, "Кто министр экономики Удмуртии?", chat_id=GROUP, reply_to_message=bot_message
    )
    assert "Слугина" in replied.text
    assert replied.params["reply_parameters"]["message_id"] > 0  # answers quote the question in groups
    # the sticker is not addressed to the bot: no reply. Its handler returns without awaiting anything,
    # so it is done before the question sent after it is answered.
    bot.api.send(user, chat_id=GROUP, sticker=STICKER)
    ask(bot.api, user, f"@qa_test_bot {BUS_QUESTION}", chat_id=GROUP)
    assert len(bot.api.calls_of("sendMessage", GROUP)) == 3


def test_feedback_button_is_stored_and_listed_for_admins(bot: RunningBot, user: int) -> None:
    call = ask(bot.api, user, BUS_QUESTION)
    answer_id = int(call.buttons[1]["callback_data"].split(":")[1])
    bot.api.press(user, call, call.buttons[1]["callback_data"])
    bot.api.wait_for(lambda: bot.api.calls_of("answerCallbackQuery"))
    marked = bot.api.wait_for(lambda: bot.api.calls_of("editMessageReplyMarkup", user))[-1]
    assert [b["text"] for b in marked.buttons] == ["👍", "👎 ✓"]
    with sqlite3.connect(bot.settings.feedback_db) as db:
        row = db.execute(
            "SELECT question, answer, citations, user_id, chat_id, asked_at, rating, rated_by FROM answers WHERE id = ?",
            (answer_id,),
        ).fetchone()
    assert row[0] == BUS_QUESTION and "120" in row[1] and "000_efd8a1e6da840478" in row[2]
    assert row[3:5] == (user, user) and row[5] and row[6:] == (-1, user)

    refused = ask(bot.api, user, "Какая погода будет завтра на Марсе?")
    assert "В документах нет ответа" in refused.text
    bot.api.send_text(user, "/feedback")
    assert reply_to(bot.api, user, 2) == texts.ADMINS_ONLY
    bot.api.send_text(ADMIN, "/feedback")
    listing = bot.api.wait_calls("sendMessage", ADMIN)[-1].text
    assert BUS_QUESTION in listing and "Какая погода будет завтра на Марсе?" in listing


def test_flood_control_retry_after_is_waited_out(bot: RunningBot, user: int) -> None:
    bot.api.fail("sendMessage", ApiError(429, "Too Many Requests: retry after 1", retry_after=1),
                 when=lambda p: int(p["chat_id"]) == user)  # fmt: skip
    started = time.monotonic()
    call = ask(bot.api, user, BUS_QUESTION, timeout=15)
    assert "120" in call.text and time.monotonic() - started >= 1.0
    assert len(bot.api.calls_of("sendMessage", user)) == 2  # the refused attempt, then the retry


def test_an_error_is_logged_with_the_update_id_and_answered_politely(
    bot: RunningBot, user: int, caplog: pytest.LogCaptureFixture
) -> None:
    bot.api.fail(
        "sendMessage", ApiError(400, "Bad Request: chat not found"), when=lambda p: int(p["chat_id"]) == user
    )
    with caplog.at_level(logging.ERROR, logger="qa_bot.telegram"):
        bot.api.send_text(user, "/help")
        assert reply_to(bot.api, user, 1) == texts.ERROR
    update_id = bot.api.last_update_id
    failures = [r for r in caplog.records if r.getMessage().startswith(f"update {update_id} failed")]
    assert failures and "chat not found" in failures[0].getMessage().lower() and failures[0].exc_info
