"""The handlers: access guard, questions, other messages, feedback buttons, errors; `register` wires them."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from . import commands, texts, uploads
from .answering import answer_question, feedback_keyboard
from .feedback import Rated
from .state import RECORD_WAIT, get_state

log = logging.getLogger(__name__)


def replied_to_bot(message: Message, bot: Bot) -> bool:
    reply = message.reply_to_message
    return bool(reply and reply.from_user and reply.from_user.id == bot.id)


def addressed_text(message: Message, bot: Bot) -> str | None:
    """The question in `message` without the bot's @mention; None for group messages not meant for the bot."""
    text = message.text or message.caption or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    mention = f"@{bot.username}".lower() if bot.username else None
    kinds = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    entities = message.parse_entities(kinds) if message.text else message.parse_caption_entities(kinds)
    mentions = [
        value
        for entity, value in entities.items()
        if (entity.type == MessageEntity.MENTION and value.lower() == mention)
        or (
            entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == bot.id
        )
    ]
    if not mentions and not replied_to_bot(message, bot):
        return None
    for value in mentions:
        text = text.replace(value, " ", 1)
    return " ".join(text.split())


async def guard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: users outside ALLOWED_USER_IDS get a polite refusal and nothing else."""
    state = get_state(context)
    user = update.effective_user
    if user is not None and state.is_allowed(user.id):
        return
    message = update.effective_message
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(texts.NOT_ALLOWED, show_alert=True)
    elif message is not None and user is not None:
        command = bool(message.text and message.text.startswith("/"))
        if command or addressed_text(message, context.bot) is not None:
            await message.reply_text(texts.NOT_ALLOWED)
    raise ApplicationHandlerStop


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A text message is a question (in groups only when the bot is mentioned or replied to)."""
    message = update.effective_message
    assert message is not None
    question = addressed_text(message, context.bot)
    if question is not None:
        await answer_question(update, context, question)


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice and the like: say politely that only text questions are answered."""
    message = update.effective_message
    assert message is not None
    if message.chat.type != ChatType.PRIVATE and not replied_to_bot(message, context.bot):
        return
    if message.text is not None:
        await message.reply_text(texts.EMPTY)
        return
    kind = next((k for k in ("voice", "audio", "sticker", "photo") if getattr(message, k)), "")
    await message.reply_text(texts.NON_TEXT.get("voice" if kind == "audio" else kind, texts.NON_TEXT_DEFAULT))


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    if message.chat.type == ChatType.PRIVATE:
        await uploads.on_document(update, context)
    elif addressed_text(message, context.bot) is not None:
        await message.reply_text(texts.UPLOAD_ONLY_PRIVATE)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(texts.UNKNOWN_COMMAND)


async def on_feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A 👍 or 👎 press: store the rating and mark the chosen button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, answer_id, value = query.data.split(":")
    rating = int(value)
    recording = get_state(context).recording.get(int(answer_id))
    if recording is not None:  # pressed the moment the answer arrived: its record is being written
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recording.wait(), RECORD_WAIT)
    try:
        rated = await asyncio.to_thread(
            get_state(context).feedback.rate, int(answer_id), rating, query.from_user.id
        )
    except Exception as exc:  # noqa: BLE001 - sqlite3 / OS errors: the store is broken, the press is not
        log.warning("feedback store: cannot rate answer %s: %r", answer_id, exc)
        rated = Rated.UNKNOWN
    if rated is not Rated.STORED:
        log.info("rating of answer %.30s by user %s refused: %s", answer_id, query.from_user.id, rated.value)
        await query.answer(texts.FEEDBACK_NOT_YOURS if rated is Rated.NOT_ASKER else texts.FEEDBACK_GONE)
        return
    await query.answer(texts.FEEDBACK_THANKS[rating])
    with contextlib.suppress(BadRequest):  # "message is not modified" on a repeated press
        await query.edit_message_reply_markup(feedback_keyboard(int(answer_id), rating))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with the update id and tell the user politely."""
    update_id = update.update_id if isinstance(update, Update) else None
    error = context.error
    if update is None and isinstance(error, TelegramError):  # PTB's polling loop: it retries by itself
        log.warning("polling for updates failed, retrying: %s: %s", type(error).__name__, error)
        return
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):  # retried already; not a bug
        log.error("update %s failed: %s: %s", update_id, type(error).__name__, error)
    else:
        log.error("update %s failed: %r", update_id, error, exc_info=error)
    if not isinstance(update, Update):
        return
    with contextlib.suppress(TelegramError):
        if update.callback_query is not None:
            await update.callback_query.answer(texts.ERROR)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(texts.ERROR)


def register(app: Application) -> None:
    app.add_handler(TypeHandler(Update, guard), group=-1)
    app.add_handler(CommandHandler("start", commands.start))
    app.add_handler(CommandHandler("help", commands.help_command))
    app.add_handler(CommandHandler("sources", commands.sources))
    app.add_handler(CommandHandler("new", commands.new_conversation))
    app.add_handler(CommandHandler("feedback", commands.feedback))
    app.add_handler(CommandHandler("reindex", commands.reindex))
    app.add_handler(CallbackQueryHandler(on_feedback, pattern=r"^fb:\d+:-?1$"))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, on_unknown_command))
    app.add_handler(MessageHandler(~filters.StatusUpdate.ALL & ~filters.COMMAND, on_other))
    app.add_error_handler(on_error)
