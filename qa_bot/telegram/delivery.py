"""Bot API calls that must get through: bounded retries on transient failures (network, 5xx, 429).

Telegram may carry out a call whose answer never reached us (a read timeout): a retried send can then
arrive twice. A duplicate answer is the lesser evil next to a lost one, and the read timeout of these
calls (TELEGRAM_SEND_TIMEOUT) is long enough for that to be rare.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

log = logging.getLogger(__name__)
T = TypeVar("T")
BACKOFF = (0.3, 1.0, 2.0, 4.0)  # seconds before the 2nd, 3rd, … attempt after a network error or 5xx
MAX_RETRY_AFTER = 60.0  # a longer flood wait is not waited out (the user would think the bot is dead)


def retry_delay(exc: TelegramError, attempt: int) -> float | None:
    """Seconds to wait before retrying after `exc` (attempt 0 = the first failure); None if retrying is useless."""
    if isinstance(exc, RetryAfter):
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return seconds + 0.1 if seconds <= MAX_RETRY_AFTER else None
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):  # TimedOut, 5xx, dropped connections
        return BACKOFF[min(attempt, len(BACKOFF) - 1)]
    return None  # bad request, forbidden, unauthorized: the same call would fail again


async def with_retries(call: Callable[[], Awaitable[T]], what: str, attempts: int) -> T:
    """`await call()`, again after transient failures, at most `attempts` times in all."""
    for attempt in range(attempts):
        try:
            return await call()
        except TelegramError as exc:
            delay = retry_delay(exc, attempt)
            if delay is None or attempt == attempts - 1:
                raise
            log.warning("%s failed (%s: %s); retrying in %.1f s", what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
