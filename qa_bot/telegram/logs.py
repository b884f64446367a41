"""Keep the bot token out of every log record (PTB logs its API URL, httpx logs request URLs)."""

from __future__ import annotations

import logging
import traceback
from typing import Any

MASK = "<TELEGRAM_BOT_TOKEN>"
_secrets: set[str] = set()
_installed = False


def _redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, MASK)
    return text


def _make_record(factory: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
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


def hide_secret(secret: str) -> None:
    """From now on, replace `secret` by a mask in every log record of this process, whatever logger made it."""
    global _installed
    if len(secret) >= 8:
        _secrets.add(secret)
    if not _installed:
        logging.setLogRecordFactory(_make_record(logging.getLogRecordFactory()))
        _installed = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
