"""The bot heals itself: a lost or unwritable feedback store and a missing or broken index (issue 12, item 1).

Each test breaks something on disk under a running bot and checks that users get an answer or a polite
«база документов сейчас недоступна», admins get what to do, and answering resumes without a restart.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from botkit import (
    ADMIN,
    BUS_QUESTION,
    TOKEN,
    RunningBot,
    ask,
    copy_collection,
    make_settings,
    new_user,
    recorded,
    reply_to,
    seed_index,
    shared_embedder,
    wait_recorded,
)
from fake_bot_api import Call, FakeBotApi

from qa_bot.index import writer_lock
from qa_bot.pipeline import Pipeline
from qa_bot.telegram import texts
from qa_bot.telegram.feedback import FeedbackStore


def start(root: Path, **overrides: object) -> RunningBot:
    api = FakeBotApi(TOKEN).start()
    overrides = {"rate_limit_per_minute": 60} | overrides
    return RunningBot(api, make_settings(root, api.base_url, **overrides)).start()


def stop(bot: RunningBot) -> None:
    bot.stop()
    bot.api.stop()


def answer_or_unavailable(bot: RunningBot, user: int, question: str = BUS_QUESTION) -> str:
    """Ask; return the reply: the cited answer, or the «недоступна» sentence — never the generic error."""
    before = len(bot.api.calls_of("sendMessage", user))
    bot.api.send_text(user, question)
    reply = bot.api.wait_for(
        lambda: [c for c in bot.api.calls_of("sendMessage", user)[before:] if not c.error]
    )[0]
    assert reply.text != texts.ERROR
    assert reply.buttons or reply.text == texts.INDEX_UNAVAILABLE, reply.text
    return reply.text


def rebuild(bot: RunningBot) -> None:
    """What an admin runs on the server: `qa-bot index --rebuild` (another Pipeline; the model is shared
    only to save the test the time of loading it again)."""
    Pipeline(bot.settings, embedder=shared_embedder()).update(rebuild=True)


def admin_alerts(bot: RunningBot, start: str) -> list[Call]:
    return [c for c in bot.api.calls_of("sendMessage", ADMIN) if c.text.startswith(start)]


def test_an_unwritable_feedback_store_is_told_to_admins_not_users(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    root = copy_collection(seed_index(tmp_path_factory), tmp_path / "c")
    blocker = root / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    bot = start(root, feedback_db=blocker / "feedback.sqlite3")
    try:
        user = new_user()
        call = ask(bot.api, user, BUS_QUESTION)  # the answer does not wait for the store
        assert "120" in call.text and call.buttons
        alert = bot.api.wait_for(lambda: admin_alerts(bot, "⚠️ Не удалось записать ответ"))[0]
        assert str(blocker) in alert.text and "FEEDBACK_DB" in alert.text
        assert texts.ERROR not in bot.api.texts_to(user)
        blocker.unlink()  # the admin fixes it: the next answer is recorded, no restart
        ask(bot.api, user, "Кто министр экономики Удмуртии?")
        wait_recorded(bot, user)
        assert len(admin_alerts(bot, "⚠️ Не удалось записать ответ")) == 1  # told once, not per answer
    finally:
        stop(bot)


def test_a_feedback_store_left_in_the_index_folder_is_carried_over(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    root = copy_collection(seed_index(tmp_path_factory), tmp_path / "c")
    old = FeedbackStore(root / "index" / "feedback.sqlite3")  # where FEEDBACK_DB used to default to
    with sqlite3.connect(old.path) as db:
        old.check()
        db.execute("INSERT INTO answers (id, asked_at, user_id, question, answer, citations, refused)"
                   " VALUES (7, '2025-01-01', 99, 'q', 'a', '[]', 0)")  # fmt: skip
    bot = start(root, feedback_db=tmp_path / "data" / "feedback.sqlite3")
    try:
        assert recorded(bot.settings.feedback_db, 99) == [(7, None, None)]
    finally:
        stop(bot)


def test_without_an_index_users_hear_it_is_unavailable_and_answers_resume_once_built(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    seed = seed_index(tmp_path_factory)
    root = tmp_path / "c"
    shutil.copytree(seed / "docs", root / "docs")  # documents, but the index is not built yet
    bot = start(root)
    try:
        user = new_user()
        assert answer_or_unavailable(bot, user) == texts.INDEX_UNAVAILABLE
        alert = bot.api.wait_for(lambda: admin_alerts(bot, "⚠️ Индекс документов недоступен"))[0]
        assert "/reindex" in alert.text and "qa-bot index --rebuild" in alert.text
        bot.api.send_text(user, "/sources")
        assert reply_to(bot.api, user, 1) == texts.INDEX_UNAVAILABLE
        rebuild(bot)
        assert "120" in ask(bot.api, user, BUS_QUESTION).text  # resumed by itself
        assert texts.ERROR not in bot.api.texts_to(user)
    finally:
        stop(bot)


def test_a_broken_index_never_gives_the_generic_error_and_heals_without_a_restart(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    root = copy_collection(seed_index(tmp_path_factory), tmp_path / "c")
    index = root / "index"
    bot = start(root, feedback_db=index / "feedback.sqlite3")  # the old default place of the store
    try:
        user = new_user()
        assert "120" in ask(bot.api, user, BUS_QUESTION).text
        for n, damage in enumerate(("folder-deleted", "current-points-nowhere", "files-corrupted", "failed-reindex")):
            generation = index / (index / "CURRENT").read_text().strip()
            if damage == "folder-deleted":  # with the feedback store in it
                index.rename(tmp_path / "deleted")  # gone at once (rmtree would race the bot's writes)
            elif damage == "current-points-nowhere":
                (index / "CURRENT").write_text("gone")
            elif damage == "files-corrupted":
                for path in generation.rglob("*"):
                    if path.is_file():
                        path.write_bytes(b"\x00garbage")
            else:  # /reindex while `qa-bot index` holds the index folder: it fails and says so
                before = len(bot.api.calls_of("sendMessage", ADMIN))
                with writer_lock(index):
                    bot.api.send_text(ADMIN, "/reindex")
                    failed = bot.api.wait_calls("sendMessage", ADMIN, before + 2, timeout=30)[before + 1]
                assert failed.text.startswith("Переиндексация не удалась")
            answer_or_unavailable(bot, user)
            rebuild(bot)
            assert "120" in ask(bot.api, user, BUS_QUESTION).text, damage  # no restart
            if damage == "folder-deleted":  # the store was recreated and records again
                assert wait_recorded(bot, user, 2 * n + 3)
        assert texts.ERROR not in bot.api.texts_to(user)
    finally:
        stop(bot)
