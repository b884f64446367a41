"""Slash commands: /start, /help, /sources, /new, and the admins' /feedback and /reindex."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from ..errors import QaBotError
from . import texts
from .alerts import resolved
from .answering import INDEX_FAULTS, index_unavailable
from .formatting import documents_html, esc, split_html
from .state import RECORD_WAIT, chat_history, get_state

log = logging.getLogger(__name__)
START_LIST_LIMIT = 15


async def _reply_html(update: Update, html_text: str) -> None:
    message = update.effective_message
    assert message is not None
    for part in split_html(html_text):
        await message.reply_text(part, parse_mode=ParseMode.HTML)


def _documents_block(context: ContextTypes.DEFAULT_TYPE, limit: int | None) -> str:
    documents = list(get_state(context).pipeline.index.documents.values())
    if not documents:
        return texts.NO_DOCUMENTS
    return texts.DOCUMENTS_HEADER.format(count=len(documents)) + "\n" + documents_html(documents, limit)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greeting: what the bot knows (documents and dates) and how to ask."""
    try:
        documents = _documents_block(context, START_LIST_LIMIT)
    except INDEX_FAULTS:
        documents = esc(texts.INDEX_UNAVAILABLE)
    blocks = [esc(texts.GREETING), documents, texts.HOW_TO_ASK]
    await _reply_html(update, "\n\n".join(blocks))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = get_state(context)
    admin = state.is_admin(update.effective_user.id if update.effective_user else None)
    await _reply_html(update, texts.HELP + (texts.ADMIN_HELP if admin else ""))


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    try:
        block = _documents_block(context, None)
    except INDEX_FAULTS as exc:
        assert update.effective_message is not None
        await index_unavailable(update.effective_message, context, exc)
        return
    await _reply_html(update, block)


async def new_conversation(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user_id = update.effective_user.id if update.effective_user else None
    chat_history(context, get_state(context).settings.history_turns, user_id).clear()
    await _reply_html(update, esc(texts.NEW_CONVERSATION))


async def _admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """True for admins; everyone else is told the command is not for them."""
    if get_state(context).is_admin(update.effective_user.id if update.effective_user else None):
        return True
    await _reply_html(update, esc(texts.ADMINS_ONLY))
    return False


async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Recent 👎 and refused questions, candidates for the gold set."""
    if not await _admin(update, context):
        return
    pending = [event.wait() for event in get_state(context).recording.values()]
    if pending:  # answers already sent whose record is being written belong in the list
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*pending), RECORD_WAIT)
    rows = await asyncio.to_thread(get_state(context).feedback.problems, 20)
    if not rows:
        await _reply_html(update, esc(texts.FEEDBACK_EMPTY))
        return
    lines = [texts.FEEDBACK_HEADER.format(count=len(rows))]
    for row in rows:
        mark = "👎" if row.rating == -1 else "❔"
        what = "нет ответа" if row.refused else esc(row.answer[:200])
        lines.append(
            f"{mark} <b>{esc(row.question[:300])}</b>\n{row.asked_at[:16].replace('T', ' ')} — {what}"
        )
    await _reply_html(update, "\n\n".join(lines))


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Rebuild the index from DOCS_DIR (off the event loop; questions keep being answered meanwhile)."""
    if not await _admin(update, context):
        return
    state = get_state(context)
    await _reply_html(update, esc(texts.REINDEX_STARTED))
    async with state.index_lock:
        try:
            report = await asyncio.to_thread(state.pipeline.update, None, rebuild=True)
        except QaBotError as exc:
            log.warning("reindex failed: %s", exc)
            await _reply_html(update, esc(texts.REINDEX_FAILED.format(reason=str(exc))))
            return
    resolved(context, "index")
    done = texts.REINDEX_DONE.format(documents=report.documents, chunks=report.chunks, seconds=report.seconds)
    await _reply_html(update, esc(done))
