"""What the handlers share, kept in `application.bot_data` and built once in `post_init`."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import ContextTypes

from ..pipeline import Pipeline
from ..settings import Settings
from .feedback import FeedbackStore
from .limits import AnswerSlots, RateLimiter

RECORD_WAIT = 10.0  # seconds a 👍/👎 or /feedback waits for an answer just sent to be recorded

STATE = "qa_bot"


@dataclass
class BotState:
    settings: Settings
    pipeline: Pipeline
    feedback: FeedbackStore
    limiter: RateLimiter
    slots: AnswerSlots
    #: one index update (upload, /reindex) at a time
    index_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: when admins were last told about each kind of fault (monotonic seconds)
    alerted: dict[str, float] = field(default_factory=dict)
    #: answers sent but not yet in the feedback store (a 👍 pressed at once waits for its record)
    recording: dict[int, asyncio.Event] = field(default_factory=dict)

    @property
    def streams(self) -> bool:
        """True when an LLM writes the answers (extractive answers arrive whole: nothing to stream)."""
        return self.pipeline.backend()[0] is not None

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_user_ids

    def is_allowed(self, user_id: int | None) -> bool:
        allowed = self.settings.allowed_user_ids
        return user_id is not None and (not allowed or user_id in allowed or self.is_admin(user_id))


def get_state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data[STATE]


def _user_data(context: ContextTypes.DEFAULT_TYPE, user_id: int | None) -> dict[str, Any]:
    """What the bot keeps for one user within one chat (in a group, each member has their own)."""
    data: dict[str, Any] = context.chat_data if context.chat_data is not None else {}
    return data.setdefault("users", {}).setdefault(user_id, {})


def chat_history(context: ContextTypes.DEFAULT_TYPE, turns: int, user_id: int | None) -> deque[str]:
    """The user's recent questions in this chat, oldest first (in memory): a group's members do not
    continue each other's conversations."""
    data = _user_data(context, user_id)
    history = data.get("history")
    if history is None or history.maxlen != turns:
        history = data["history"] = deque(history or (), maxlen=turns)
    return history


def chat_lock(context: ContextTypes.DEFAULT_TYPE, user_id: int | None) -> asyncio.Lock:
    """A user's questions in a chat are answered in order, so each sees the history before it."""
    return _user_data(context, user_id).setdefault("lock", asyncio.Lock())
