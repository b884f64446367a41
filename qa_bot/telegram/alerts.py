"""Tell the admins (in their private chats) about faults users cannot fix, at most once per ALERT_EVERY."""

from __future__ import annotations

import contextlib
import logging
import time

from telegram.error import TelegramError
from telegram.ext import ContextTypes

from .state import get_state

log = logging.getLogger(__name__)
ALERT_EVERY = 600.0  # seconds between two alerts of the same kind (a broken index fails every question)


async def tell_admins(context: ContextTypes.DEFAULT_TYPE, kind: str, text: str) -> None:
    """Send `text` to every admin unless admins heard about `kind` less than ALERT_EVERY seconds ago."""
    state = get_state(context)
    now = time.monotonic()
    last = state.alerted.get(kind)
    if last is not None and now - last < ALERT_EVERY:
        return
    state.alerted[kind] = now
    for admin in state.settings.admin_user_ids:
        with contextlib.suppress(TelegramError):  # an admin who never opened the chat cannot be written to
            await context.bot.send_message(admin, text)


def resolved(context: ContextTypes.DEFAULT_TYPE, kind: str) -> None:
    """The fault is gone: the next occurrence is reported at once."""
    get_state(context).alerted.pop(kind, None)
