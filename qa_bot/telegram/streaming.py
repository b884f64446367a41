"""Show an answer while it is generated: a native draft in private chats, one edited message elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Message
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError

from .formatting import MAX_MESSAGE

log = logging.getLogger(__name__)
TYPING_EVERY = 4.5  # Telegram shows "typing…" for 5 s
TYPING_AFTER = 0.25  # an answer ready sooner never shows "typing…": save the request (flood limits)
CURSOR = " …"


async def keep_typing(message: Message) -> None:
    """Send "typing…" (from TYPING_AFTER seconds on) until cancelled."""
    await asyncio.sleep(TYPING_AFTER)
    while True:
        with contextlib.suppress(TelegramError):
            await message.chat.send_action(ChatAction.TYPING)
        await asyncio.sleep(TYPING_EVERY)


def _preview(text: str) -> str:
    text = text.strip()
    room = MAX_MESSAGE - len(CURSOR)
    return (text[:room] if len(text) > room else text) + CURSOR


class AnswerStream:
    """Collects text deltas from the answering thread and shows them at most once per `interval` seconds."""

    def __init__(self, question: Message, interval: float) -> None:
        self.question = question
        self.interval = interval
        self.private = question.chat.type == ChatType.PRIVATE
        self.draft_id = question.message_id or 1
        self.message: Message | None = None  # the message being edited (not private chats)
        self.shown = ""
        self._text = ""
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def feed(self, delta: str) -> None:
        """Thread-safe: called by the pipeline's worker thread for every piece of generated text."""
        self._loop.call_soon_threadsafe(self._append, delta)

    def _append(self, delta: str) -> None:
        # After an LLM failure the pipeline stops streaming; the final message (a fallback) replaces the preview.
        self._text += delta
        self._changed.set()

    async def close(self) -> Message | None:
        """Stop showing updates (waiting for one in flight); returns the message to replace, if any."""
        self._closed.set()
        self._changed.set()
        await self._task
        return self.message

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            if self._closed.is_set():
                return
            self._changed.clear()
            text = self._text.strip()
            if text and text != self.shown:
                await self._show(text)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), self.interval)

    async def _show(self, text: str) -> None:
        try:
            if self.private:
                await self.question.get_bot().send_message_draft(
                    self.question.chat_id, self.draft_id, _preview(text)
                )
            elif self.message is None:
                self.message = await self.question.reply_text(_preview(text))
            else:
                await self.message.edit_text(_preview(text))
            self.shown = text
        except TelegramError as exc:  # a missed preview is harmless; the final answer follows
            log.debug("streaming update failed: %s", exc)
