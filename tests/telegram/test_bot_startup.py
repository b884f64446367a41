"""Start-up: clear messages before anything starts, and the token never reaching the logs."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path

import httpx
import pytest
from botkit import (
    BUS_QUESTION,
    TOKEN,
    RunningBot,
    ask,
    copy_collection,
    make_settings,
    new_user,
    running_bot,
    seed_index,
)
from click.testing import CliRunner
from fake_bot_api import DROP, SERVER_ERROR, ApiError, FakeBotApi, Fault

from qa_bot.cli import cli
from qa_bot.errors import QaBotError
from qa_bot.telegram.app import build_application, serve
from qa_bot.telegram.logs import MASK


def _run_cli(env: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["bot"], env={"INDEX_DIR": str(tmp_path / "index"), **env})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("token", "message"),
    [("", "TELEGRAM_BOT_TOKEN is not set"), ("not-a-token", "TELEGRAM_BOT_TOKEN is malformed")],
    ids=["missing", "malformed"],
)
def test_missing_or_malformed_token_is_a_clear_error(tmp_path: Path, token: str, message: str) -> None:
    code, output = _run_cli({"TELEGRAM_BOT_TOKEN": token}, tmp_path)
    assert code == 2 and message in output and "@BotFather" in output
    assert "Traceback" not in output


def test_missing_index_is_reported_before_connecting_to_telegram(tmp_path: Path) -> None:
    api = FakeBotApi(TOKEN).start()
    try:
        code, output = _run_cli(
            {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": api.base_url}, tmp_path
        )
    finally:
        api.stop()
    assert code == 1 and "No index in" in output and "qa-bot index" in output
    assert api.calls == []
    assert TOKEN not in output


def test_bad_api_base_url_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _run_cli(
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "127.0.0.1:8081"}, tmp_path
    )
    assert code == 2 and "TELEGRAM_API_BASE_URL" in output and "end with /bot" in output


def test_token_rejected_by_telegram_is_a_clear_error_without_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = FakeBotApi("999:" + "Z" * 35).start()  # knows another token: answers 401 like Telegram
    try:
        app = build_application(make_settings(tmp_path, api.base_url))
        with pytest.raises(QaBotError, match="Telegram rejected TELEGRAM_BOT_TOKEN") as raised:
            serve(app, stop_signals=None)
    finally:
        api.stop()
    assert TOKEN not in str(raised.value)
    assert caplog.records and TOKEN not in caplog.text


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]


@pytest.mark.parametrize(
    ("fault", "times", "attempts"),
    [(SERVER_ERROR, 1, 2), (DROP, 1, 2), (SERVER_ERROR, 2, 2)],
    ids=["500-once", "dropped-once", "500-every-time"],
)
def test_a_failing_get_me_at_start_up_is_retried_then_reported_in_one_line(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: ApiError | Fault,
    times: int,
    attempts: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    api = FakeBotApi(TOKEN).start()
    api.fail("getMe", fault, times=times)
    root = copy_collection(seed_index(tmp_path_factory), tmp_path / "c")
    settings = make_settings(root, api.base_url, telegram_startup_attempts=attempts)
    try:
        if times < attempts:  # a transient failure: the bot starts and answers
            bot = RunningBot(api, settings).start()
            try:
                assert "120" in ask(api, new_user(), BUS_QUESTION).text
            finally:
                bot.stop()
        else:
            asyncio.set_event_loop(asyncio.new_event_loop())  # serve() closes the loop it ran
            with pytest.raises(QaBotError, match="Cannot reach the Telegram Bot API"):
                serve(build_application(settings), stop_signals=None)
    finally:
        api.stop()
    assert len(api.calls_of("getMe")) == min(times + 1, attempts)
    _no_traceback(caplog)


def test_a_refused_connection_or_a_401_at_start_up_is_one_clear_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/bot"
    app = build_application(make_settings(tmp_path, closed, telegram_startup_attempts=1))
    asyncio.set_event_loop(asyncio.new_event_loop())  # serve() closes the loop it ran
    with pytest.raises(QaBotError, match="Cannot reach the Telegram Bot API") as refused:
        serve(app, stop_signals=None)
    assert "<token>" in str(refused.value) and TOKEN not in str(refused.value)
    api = FakeBotApi("999:" + "Z" * 35).start()  # knows another token: 401
    try:
        app = build_application(make_settings(tmp_path, api.base_url))
        asyncio.set_event_loop(asyncio.new_event_loop())
        with pytest.raises(QaBotError, match="Telegram rejected TELEGRAM_BOT_TOKEN"):
            serve(app, stop_signals=None)
    finally:
        api.stop()
    _no_traceback(caplog)


def test_the_token_never_appears_in_the_logs(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user = new_user()
    caplog.set_level(logging.DEBUG)
    with running_bot(copy_collection(seed_index(tmp_path_factory), tmp_path / "c")) as bot:
        caplog.set_level(logging.DEBUG, logger="httpx")  # its request lines carry the URL with the token
        call = ask(bot.api, user, BUS_QUESTION)
        bot.api.press(user, call, call.buttons[0]["callback_data"])
        bot.api.wait_for(lambda: bot.api.calls_of("answerCallbackQuery"))
    assert "getUpdates" in caplog.text and "HTTP Request" in caplog.text and MASK in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text


def wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_webhook_mode_answers_updates_posted_with_the_secret(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # -vv: PTB logs every call with its parameters
    user = new_user()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = FakeBotApi(TOKEN).start()
    root = copy_collection(seed_index(tmp_path_factory), tmp_path / "c")
    url = f"http://127.0.0.1:{port}/telegram/hook"
    bot = RunningBot(
        api, make_settings(root, api.base_url), webhook=url, listen="127.0.0.1", port=port
    ).start()
    try:
        hook = api.calls_of("setWebhook")[0].params
        assert hook["url"] == url and len(hook["secret_token"]) >= 32 and TOKEN not in url
        wait_listening(port)  # setWebhook may come before the webhook server accepts connections
        update = {"update_id": 1, "message": {"message_id": 5, "date": 0, "chat": api.chat(user),
                                              "from": api.user(user), "text": BUS_QUESTION}}  # fmt: skip
        forged = httpx.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert forged.status_code == 403
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]}
        assert httpx.post(url, json=update, headers=headers).status_code == 200
        assert "120" in api.wait_answers(user)[0].text
    finally:
        bot.stop()
        api.stop()
    assert "setWebhook" in caplog.text and "<WEBHOOK_SECRET>" in caplog.text
    assert hook["secret_token"] not in caplog.text
