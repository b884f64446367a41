"""A flaky Bot API never loses an answer; ratings, forged callbacks, polling hiccups and captions (issue 12)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from botkit import (
    BUS_QUESTION,
    GROUP,
    RunningBot,
    ask,
    copy_collection,
    recorded,
    running_bot,
    seed_index,
    wait_recorded,
)
from fake_bot_api import BAD_GATEWAY, DROP, SERVER_ERROR, ApiError, Fault, hang, too_many

from qa_bot.telegram import texts

SEND_TIMEOUT = 1.0  # the bot's read timeout for answers here; a hang is longer


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    root = copy_collection(seed_index(tmp_path_factory), tmp_path_factory.mktemp("faults"))
    overrides = {"telegram_send_timeout": SEND_TIMEOUT, "telegram_send_attempts": 3, "rate_limit_per_minute": 30}
    with running_bot(root, **overrides) as running:
        yield running


def to_user(user: int):
    return lambda p: int(p["chat_id"]) == user


@pytest.mark.parametrize(
    ("fault", "times"),
    [(SERVER_ERROR, 1), (BAD_GATEWAY, 2), (DROP, 1), (hang(SEND_TIMEOUT + 0.5), 1), (too_many(1), 4)],
    ids=["500", "502-twice", "dropped", "hang-past-read-timeout", "429-beyond-ptb-retries"],
)
def test_the_answer_survives_a_transient_send_failure(
    bot: RunningBot, user: int, fault: ApiError | Fault, times: int
) -> None:
    bot.api.fail("sendMessage", fault, when=to_user(user), times=times)
    call = ask(bot.api, user, BUS_QUESTION, timeout=20)
    assert "120" in call.text and [b["text"] for b in call.buttons] == ["👍", "👎"]
    wait_recorded(bot, user)
    assert texts.ERROR not in bot.api.texts_to(user)  # never both an answer and an error
    bot.api.wait_calls("sendMessage", user, times + 1)  # the faults were really met, then a retry


def test_a_permanent_failure_ends_in_one_error_not_a_silent_loss(bot: RunningBot, user: int) -> None:
    attempts = bot.settings.telegram_send_attempts
    bot.api.fail("sendMessage", SERVER_ERROR, when=lambda p: to_user(user)(p) and "reply_markup" in p,
                 times=attempts)  # fmt: skip
    bot.api.send_text(user, BUS_QUESTION)
    bot.api.wait_for(lambda: texts.ERROR in bot.api.texts_to(user), timeout=20)
    assert len([c for c in bot.api.calls_of("sendMessage", user) if "reply_markup" in c.params]) == attempts
    assert not bot.api.answers(user)


def test_only_the_asker_may_rate_an_answer(bot: RunningBot, user: int) -> None:
    other = user + 700
    call = ask(bot.api, user, BUS_QUESTION)
    answer_id = wait_recorded(bot, user)[0][0]
    before = len(bot.api.calls_of("answerCallbackQuery"))
    bot.api.press(other, call, f"fb:{answer_id}:-1")  # a replayed callback of someone else's answer
    refused = bot.api.wait_for(lambda: bot.api.calls_of("answerCallbackQuery")[before:])[0]
    assert refused.params["text"] == texts.FEEDBACK_NOT_YOURS
    assert recorded(bot.settings.feedback_db, user) == [(answer_id, None, None)]
    before = len(bot.api.calls_of("answerCallbackQuery"))
    bot.api.press(user, call, f"fb:{answer_id}:1")
    bot.api.wait_for(lambda: bot.api.calls_of("answerCallbackQuery")[before:])
    assert recorded(bot.settings.feedback_db, user) == [(answer_id, 1, user)]


def test_answer_ids_are_not_sequential(bot: RunningBot, user: int) -> None:
    ask(bot.api, user, BUS_QUESTION)
    ask(bot.api, user, "Кто министр экономики Удмуртии?")
    first, second = sorted(row[0] for row in wait_recorded(bot, user, 2))
    assert second - first > 1_000  # a neighbour's id cannot be guessed by adding one


def test_a_forged_callback_is_refused_in_one_log_line(
    bot: RunningBot, user: int, caplog: pytest.LogCaptureFixture
) -> None:
    call = ask(bot.api, user, BUS_QUESTION)
    before = len(bot.api.calls_of("answerCallbackQuery"))
    with caplog.at_level(logging.INFO):
        bot.api.press(user, call, "fb:" + "9" * 40 + ":1")
        refused = bot.api.wait_for(lambda: bot.api.calls_of("answerCallbackQuery")[before:])[0]
    assert refused.params["text"] == texts.FEEDBACK_GONE
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert any("refused" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("fault", [SERVER_ERROR, DROP], ids=["500", "dropped"])
def test_a_polling_hiccup_logs_one_line_and_polling_goes_on(
    bot: RunningBot, user: int, caplog: pytest.LogCaptureFixture, fault: ApiError | Fault
) -> None:
    with caplog.at_level(logging.DEBUG, logger="telegram"):
        polls = len(bot.api.calls_of("getUpdates"))
        bot.api.fail("getUpdates", fault)
        ask(bot.api, user, BUS_QUESTION)  # ends the long poll in flight; the next one meets the fault
        bot.api.wait_for(lambda: [c for c in bot.api.calls_of("getUpdates")[polls:] if c.error])
        assert "120" in ask(bot.api, user, BUS_QUESTION, timeout=15).text  # polling went on
    hiccups = [r for r in caplog.records if "polling for updates failed" in r.getMessage()]
    assert hiccups and all("\n" not in r.getMessage() for r in hiccups)
    assert not [r for r in caplog.records if r.exc_info] and "Traceback" not in caplog.text


def test_a_mention_in_a_document_caption_is_recognised_in_groups(bot: RunningBot, user: int) -> None:
    bot.api.send_caption(user, GROUP, "notes.txt", b"text", caption="@qa_test_bot add this")
    bot.api.wait_for(lambda: texts.UPLOAD_ONLY_PRIVATE in bot.api.texts_to(GROUP))
