"""A question in a chat: checks, queue, typing, streaming, the final cited answer with feedback buttons."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from ..answer import Answer
from ..errors import UsageError
from . import texts
from .formatting import answer_html, split_html
from .state import chat_history, chat_lock, get_state
from .streaming import AnswerStream, keep_typing

log = logging.getLogger(__name__)
# Seconds of waiting for a free answer slot before the user is told about the queue (short waits are not worth
# two Bot API calls, the notice and its deletion, under Telegram's flood limits)
QUEUE_NOTICE_AFTER = 2.0

_BARE_URL = re.compile(r"(?:https?://|www\.|tg://)\S+|\S+\.(?:ru|com|org|net|рф|io)(?:/\S*)?", re.IGNORECASE)


def rejection(text: str, limit: int) -> str | None:
    """A polite reply when `text` cannot be a question (empty, far too long, no words, a bare link)."""
    text = text.strip()
    if not text:
        return texts.EMPTY
    if len(text) > 2 * limit:  # up to twice the limit, the pipeline cuts the question and says so
        return texts.TOO_LONG.format(length=f"{len(text):,}".replace(",", " "), limit=limit)
    if not re.search(r"[^\W_]", text):
        return texts.NO_WORDS
    if all(_BARE_URL.fullmatch(word) for word in text.split()):
        return texts.BARE_URL
    return None


def feedback_keyboard(answer_id: int, chosen: int | None = None) -> InlineKeyboardMarkup:
    """👍 / 👎 under an answer; the chosen one is marked."""
    buttons = [
        InlineKeyboardButton(
            label + (" ✓" if chosen == value else ""), callback_data=f"fb:{answer_id}:{value}"
        )
        for label, value in (("👍", 1), ("👎", -1))
    ]
    return InlineKeyboardMarkup([buttons])


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Answer `question` in its chat, in order with the chat's other questions."""
    state = get_state(context)
    message = update.effective_message
    assert message is not None
    reason = rejection(question, state.settings.max_question_chars)
    if reason:
        await message.reply_text(reason)
        return
    wait = state.limiter.hit(update.effective_user.id if update.effective_user else 0)
    if wait:
        await message.reply_text(texts.RATE_LIMITED.format(seconds=wait))
        return
    async with chat_lock(context):
        result = await _in_turn(message, question, context)
    if result is None:
        return
    answer, preview = result
    user_id = update.effective_user.id if update.effective_user else None
    answer_id = await asyncio.to_thread(state.feedback.record, answer, user_id, message.chat_id)
    await send_answer(message, answer, feedback_keyboard(answer_id), replace=preview)


async def _in_turn(
    message: Message, question: str, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Answer, Message | None] | None:
    """Wait for an answer slot (telling the user when the queue is long), answer, remember the question."""
    state = get_state(context)
    history = chat_history(context, state.settings.history_turns)
    queued: list[Message] = []

    async def tell_queued(position: int) -> None:
        queued.append(await message.reply_text(texts.QUEUED.format(position=position)))

    async with state.slots.slot(tell_queued, QUEUE_NOTICE_AFTER):
        for notice in queued:
            with contextlib.suppress(TelegramError):
                await notice.delete()
        try:
            result = await _generate(message, question, list(history), context)
        except UsageError as exc:
            await message.reply_text(exc.message)
            return None
    history.append(question)
    return result


async def _generate(
    message: Message, question: str, history: list[str], context: ContextTypes.DEFAULT_TYPE
) -> tuple[Answer, Message | None]:
    """Run the pipeline off the event loop; (answer, the streamed preview message to replace, if any)."""
    state = get_state(context)
    typing = asyncio.create_task(keep_typing(message))
    stream = AnswerStream(message, state.settings.telegram_stream_interval) if state.streams else None
    try:
        answer = await asyncio.to_thread(
            state.pipeline.ask, question, history, on_delta=stream.feed if stream else None
        )
    finally:
        typing.cancel()
        preview = await stream.close() if stream else None
    return answer, preview


async def send_answer(
    message: Message, answer: Answer, keyboard: InlineKeyboardMarkup, replace: Message | None = None
) -> None:
    """The final answer in HTML (split when long; buttons under the last part), replacing a streamed preview."""
    parts = split_html(answer_html(answer))
    for i, part in enumerate(parts):
        markup = keyboard if i == len(parts) - 1 else None
        if i == 0 and replace is not None:
            try:
                await replace.edit_text(part, parse_mode=ParseMode.HTML, reply_markup=markup)
                continue
            except BadRequest as exc:
                log.info("could not replace the streamed preview (%s); sending the answer anew", exc)
        await message.reply_text(part, parse_mode=ParseMode.HTML, reply_markup=markup)
