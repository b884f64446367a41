"""Keep secrets out of every log record (PTB logs its API URL and call parameters, httpx logs request URLs),
and PTB's tracebacks of Bot API failures (a polling hiccup, a failed start-up) down to one line."""

from __future__ import annotations

import logging
import traceback
from typing import Any

MASK = "<TELEGRAM_BOT_TOKEN>"
WEBHOOK_MASK = "<WEBHOOK_SECRET>"
_secrets: dict[str, str] = {}  # secret -> its mask
_installed = False
_one_line = False
# PTB's loggers that log Bot API failures with a traceback (its retry loop; the updater's polling loop)
_PTB_LOOPS = {"telegram.ext", "telegram.ext.Updater", "telegram.ext.Application"}


def _redact(text: str) -> str:
    for secret, mask in _secrets.items():
        text = text.replace(secret, mask)
    return text


def _shorten(record: logging.LogRecord) -> None:
    """A Bot API failure logged by PTB's loops: the message and the error on one line, no traceback."""
    from telegram.error import TelegramError

    error = record.exc_info[1] if record.exc_info else None
    if record.name in _PTB_LOOPS and isinstance(error, TelegramError):
        record.msg, record.args = f"{record.getMessage()} ({type(error).__name__}: {error})", None
        record.exc_info, record.exc_text = None, None


def _make_record(factory: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if _one_line and record.exc_info:
            _shorten(record)
        if not _secrets:
            return record
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # a malformed log call: logging reports it when emitted
            return record
        if any(s in message for s in _secrets):
            record.msg, record.args = _redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if any(s in text for s in _secrets):
                record.exc_text = _redact(text)  # formatters use exc_text when it is set
        return record

    return make


def _install() -> None:
    global _installed
    if not _installed:
        logging.setLogRecordFactory(_make_record(logging.getLogRecordFactory()))
        _installed = True


def hide_secret(secret: str, mask: str = MASK) -> None:
    """From now on, replace `secret` by `mask` in every log record of this process, whatever logger made it."""
    if len(secret) >= 8:
        _secrets[secret] = mask
    _install()
    logging.getLogger("httpx").setLevel(logging.WARNING)


def one_line_telegram_errors() -> None:
    """From now on, PTB's retry and polling loops log a Bot API failure as one line instead of a traceback."""
    global _one_line
    _one_line = True
    _install()
