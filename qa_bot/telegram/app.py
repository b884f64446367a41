"""Build the python-telegram-bot Application from the settings and run it (long polling or webhook)."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import signal
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from telegram import BotCommand, BotCommandScopeChat, LinkPreviewOptions, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, Defaults

from ..errors import IndexCorruptError, IndexMismatchError, IndexMissingError, QaBotError, UsageError
from ..pipeline import Pipeline
from ..settings import Settings
from . import texts
from .feedback import FeedbackStore
from .handlers import register
from .limits import AnswerSlots, RateLimiter
from .logs import WEBHOOK_MASK, hide_secret, one_line_telegram_errors
from .state import STATE, BotState

log = logging.getLogger(__name__)

TOKEN_FORMAT = re.compile(r"\d{3,}:[A-Za-z0-9_-]{30,}")
PIPELINE = "pipeline"  # bot_data key of a pipeline loaded before start-up (run_bot checks the index early)
OLD_FEEDBACK_DB = "feedback.sqlite3"  # where the store lived before it moved out of INDEX_DIR
RETRY_AFTER_ATTEMPTS = 3  # flood control: wait out Telegram's RetryAfter this many times before giving up


def check_token(settings: Settings) -> str:
    """The bot token, or a QaBotError saying how to get one (raised before anything starts)."""
    if settings.telegram_bot_token is None:
        raise UsageError(
            "TELEGRAM_BOT_TOKEN is not set.",
            "Create a bot with @BotFather in Telegram and put TELEGRAM_BOT_TOKEN=<token> into .env.",
        )
    token = settings.telegram_bot_token.get_secret_value().strip()
    if not TOKEN_FORMAT.fullmatch(token):
        raise UsageError(
            "TELEGRAM_BOT_TOKEN is malformed (expected digits, a colon and about 35 letters, e.g. 123456789:AAE…).",
            "Copy the token exactly as @BotFather shows it, without quotes or spaces.",
        )
    return token


def api_urls(settings: Settings) -> tuple[str, str] | None:
    """(base_url, base_file_url) for TELEGRAM_API_BASE_URL (".../bot"), or None for api.telegram.org."""
    base = (settings.telegram_api_base_url or "").strip()
    if not base:
        return None
    if not re.match(r"https?://", base) or not base.rstrip("/").endswith("/bot"):
        raise UsageError(
            f"TELEGRAM_API_BASE_URL={base!r} is not a Bot API base URL.",
            "It must start with http:// or https:// and end with /bot, e.g. http://127.0.0.1:8081/bot",
        )
    base = base.rstrip("/")
    return base, base[: -len("/bot")] + "/file/bot"


def build_application(settings: Settings, pipeline: Pipeline | None = None) -> Application:
    """The Application with our handlers; the pipeline is loaded in `post_init` unless one is given."""
    token = check_token(settings)
    hide_secret(token)
    builder = (
        Application.builder()
        .token(token)
        .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .rate_limiter(AIORateLimiter(max_retries=RETRY_AFTER_ATTEMPTS))
        .concurrent_updates(True)
        .post_init(post_init)
    )
    urls = api_urls(settings)
    if urls:
        builder = builder.base_url(urls[0]).base_file_url(urls[1])
    app = builder.build()
    app.bot_data["settings"] = settings
    if pipeline is not None:
        app.bot_data[PIPELINE] = pipeline
    register(app)
    return app


def _load(pipeline: Pipeline) -> str | None:
    """Load the index and models now; the index fault, if any (the bot then answers once an index exists)."""
    try:
        pipeline.index  # noqa: B018
        pipeline.warm_up()
    except (IndexMissingError, IndexCorruptError, IndexMismatchError) as exc:
        return str(exc)
    return None


def _feedback_store(path: Path, index_dir: Path) -> FeedbackStore:
    store = FeedbackStore(path)
    try:
        if store.adopt(index_dir / OLD_FEEDBACK_DB):
            log.info("feedback store copied from %s to %s (FEEDBACK_DB)", index_dir / OLD_FEEDBACK_DB, path)
        store.check()
    except Exception as exc:  # noqa: BLE001 - reported again on every write; answers do not need it
        log.warning("feedback store %s cannot be opened yet: %r", path, exc)
    return store


async def post_init(app: Application) -> None:
    """Load the index and models once, off the event loop, and register the commands with Telegram."""
    settings: Settings = app.bot_data["settings"]
    pipeline = app.bot_data.pop(PIPELINE, None) or Pipeline(settings)
    fault = await asyncio.to_thread(_load, pipeline)
    if fault:  # run_bot refuses to start without an index; it broke since, or build_application was used alone
        log.warning("starting without a usable index (answers resume once one is built): %s", fault)
    feedback = await asyncio.to_thread(_feedback_store, settings.feedback_db, settings.index_dir)
    app.bot_data[STATE] = BotState(
        settings=settings,
        pipeline=pipeline,
        feedback=feedback,
        limiter=RateLimiter(settings.rate_limit_per_minute),
        slots=AnswerSlots(settings.max_concurrent_answers),
    )
    await register_commands(app, settings.admin_user_ids)
    if fault:
        log.info("bot @%s ready, waiting for a usable index", app.bot.username)
        return
    log.info(
        "bot @%s ready: %d documents, answers by %s",
        app.bot.username,
        len(pipeline.index.documents),
        pipeline.answerer.backend_label,
    )


async def register_commands(app: Application, admins: list[int]) -> None:
    """setMyCommands for everyone, plus the admin commands in each admin's private chat."""
    public = [BotCommand(name, text) for name, text in texts.COMMANDS.items()]
    await app.bot.set_my_commands(public)
    extra = [BotCommand(name, text) for name, text in texts.ADMIN_COMMANDS.items()]
    for admin in admins:
        try:
            await app.bot.set_my_commands(public + extra, scope=BotCommandScopeChat(admin))
        except TelegramError as exc:  # the admin has not opened a chat with the bot yet
            log.info("admin commands not registered for %s: %s", admin, exc)


def run_bot(
    settings: Settings, *, webhook: str | None = None, listen: str = "0.0.0.0", port: int = 8443
) -> None:
    """Check the token and the index, then serve until Ctrl-C (long polling, or a webhook behind HTTPS)."""
    check_token(settings)
    api_urls(settings)
    if webhook:
        url = urlparse(webhook)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise UsageError(
                f"--webhook {webhook!r} is not a URL.", "Give the public HTTPS URL Telegram should call."
            )
    pipeline = Pipeline(settings)
    pipeline.index  # noqa: B018 - a missing index is reported before connecting to Telegram
    ours = logging.getLogger(__package__)  # a service says when it is ready and what admins changed
    ours.setLevel(min(ours.getEffectiveLevel(), logging.INFO))
    serve(build_application(settings, pipeline), webhook=webhook, listen=listen, port=port)


def serve(
    app: Application,
    *,
    webhook: str | None = None,
    listen: str = "0.0.0.0",
    port: int = 8443,
    stop_signals: Sequence[int] | None = (signal.SIGINT, signal.SIGTERM),
) -> None:
    """Run `app` until stopped; Telegram refusing the token or being unreachable becomes a QaBotError.

    Transient failures of the first calls (getMe, deleteWebhook/setWebhook) are retried
    TELEGRAM_STARTUP_ATTEMPTS times in all; PTB's tracebacks of Bot API failures are logged as one line.
    """
    allowed = [Update.MESSAGE, Update.CALLBACK_QUERY]
    settings: Settings = app.bot_data["settings"]
    retries = settings.telegram_startup_attempts - 1
    one_line_telegram_errors()
    try:
        if webhook:
            secret = secrets.token_urlsafe(32)
            hide_secret(secret, WEBHOOK_MASK)  # PTB logs the setWebhook parameters at DEBUG
            app.run_webhook(
                listen=listen, port=port, url_path=urlparse(webhook).path.lstrip("/"), webhook_url=webhook,
                secret_token=secret, allowed_updates=allowed, stop_signals=stop_signals, bootstrap_retries=retries,
            )  # fmt: skip
        else:
            app.run_polling(allowed_updates=allowed, stop_signals=stop_signals, bootstrap_retries=retries)
    except InvalidToken as exc:
        raise QaBotError(
            "Telegram rejected TELEGRAM_BOT_TOKEN.", "Check it with @BotFather (/token) and update .env."
        ) from exc
    except NetworkError as exc:
        where = app.bot.base_url.replace(app.bot.token, "<token>")
        raise QaBotError(
            f"Cannot reach the Telegram Bot API at {where} ({exc.message}).", "Check the network."
        ) from exc
