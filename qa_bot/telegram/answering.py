"""A question in a chat: checks, queue, typing, streaming, the final cited answer with feedback buttons.

The answer is sent first and recorded in the feedback store afterwards: a broken store or a broken
index never costs a user more than a polite sentence, and transient Bot API failures are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from ..answer import Answer
from ..errors import IndexCorruptError, IndexMismatchError, IndexMissingError, UsageError
from ..settings import Settings
from . import texts
from .alerts import resolved, tell_admins
from .delivery import with_retries
from .feedback import new_answer_id
from .formatting import answer_html, split_html
from .state import chat_history, chat_lock, get_state
from .streaming import AnswerStream, keep_typing

log = logging.getLogger(__name__)
# Seconds of waiting for a free answer slot before the user is told about the queue (short waits are not worth
# two Bot API calls, the notice and its deletion, under Telegram's flood limits)
QUEUE_NOTICE_AFTER = 2.0
INDEX_FAULTS = (IndexMissingError, IndexCorruptError, IndexMismatchError)

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


async def index_unavailable(
    message: Message, context: ContextTypes.DEFAULT_TYPE, exc: Exception
) -> None:
    """The user hears the documents are unavailable for a moment; the admins hear what to run."""
    log.warning("index unavailable: %s", exc)
    await message.reply_text(texts.INDEX_UNAVAILABLE)
    await tell_admins(context, "index", texts.ADMIN_INDEX_BROKEN.format(error=exc))


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Answer `question` in its chat, in order with the user's other questions there."""
    state = get_state(context)
    message = update.effective_message
    assert message is not None
    reason = rejection(question, state.settings.max_question_chars)
    if reason:
        await message.reply_text(reason)
        return
    user_id = update.effective_user.id if update.effective_user else None
    wait = state.limiter.hit(user_id or 0)
    if wait:
        await message.reply_text(texts.RATE_LIMITED.format(seconds=wait))
        return
    async with chat_lock(context, user_id):
        result = await _in_turn(message, question, context, user_id)
    if result is None:
        return
    answer, preview = result
    answer_id = new_answer_id()
    state.recording[answer_id] = recorded = asyncio.Event()
    try:
        await send_answer(message, answer, feedback_keyboard(answer_id), state.settings, replace=preview)
        await _record(context, answer, answer_id, user_id, message.chat_id)
    finally:
        recorded.set()
        del state.recording[answer_id]


async def _record(
    context: ContextTypes.DEFAULT_TYPE, answer: Answer, answer_id: int, user_id: int | None, chat_id: int
) -> None:
    """Store the sent answer for 👍/👎 and /feedback; a failure is the admins' business, not the user's."""
    store = get_state(context).feedback
    try:
        await asyncio.to_thread(store.record, answer, user_id, chat_id, answer_id)
    except Exception as exc:  # noqa: BLE001 - sqlite3 and OS errors alike: the answer is already delivered
        log.warning("feedback store %s: cannot record answer %s: %r", store.path, answer_id, exc)
        await tell_admins(context, "feedback", texts.ADMIN_FEEDBACK_BROKEN.format(path=store.path, error=exc))
    else:
        resolved(context, "feedback")


async def _in_turn(
    message: Message, question: str, context: ContextTypes.DEFAULT_TYPE, user_id: int | None
) -> tuple[Answer, Message | None] | None:
    """Wait for an answer slot (telling the user when the queue is long), answer, remember the question."""
    state = get_state(context)
    history = chat_history(context, state.settings.history_turns, user_id)
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
        except INDEX_FAULTS as exc:
            await index_unavailable(message, context, exc)
            return None
    resolved(context, "index")
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
    except BaseException:
        if stream is not None and (preview := await stream.close()) is not None:
            await _delete(preview)  # no unchecked model text stays in the chat
        raise
    finally:
        typing.cancel()
    preview = await stream.close() if stream else None
    return answer, preview


async def _delete(message: Message) -> None:
    with contextlib.suppress(TelegramError):
        await message.delete()


async def send_answer(
    message: Message,
    answer: Answer,
    keyboard: InlineKeyboardMarkup,
    settings: Settings,
    replace: Message | None = None,
) -> None:
    """The final answer in HTML (split when long; buttons under the last part), replacing a streamed preview.

    Transient failures are retried; when the preview cannot be edited into the answer, the answer is sent
    as a new message and the preview (unchecked model text) is deleted.
    """
    parts = split_html(answer_html(answer))
    attempts = settings.telegram_send_attempts
    timeouts = {"read_timeout": settings.telegram_send_timeout, "write_timeout": settings.telegram_send_timeout}
    for i, part in enumerate(parts):
        markup = keyboard if i == len(parts) - 1 else None
        if i == 0 and replace is not None:
            try:
                await with_retries(
                    lambda part=part, markup=markup: replace.edit_text(
                        part, parse_mode=ParseMode.HTML, reply_markup=markup, **timeouts
                    ),
                    "editing the streamed preview into the answer",
                    attempts,
                )
                continue
            except TelegramError as exc:
                log.info("could not replace the streamed preview (%s); sending the answer anew", exc)
            await _send(message, part, markup, attempts, timeouts)
            await _delete(replace)
            continue
        await _send(message, part, markup, attempts, timeouts)


async def _send(
    message: Message, part: str, markup: InlineKeyboardMarkup | None, attempts: int, timeouts: dict[str, float]
) -> None:
    await with_retries(
        lambda: message.reply_text(part, parse_mode=ParseMode.HTML, reply_markup=markup, **timeouts),
        "sending the answer",
        attempts,
    )
