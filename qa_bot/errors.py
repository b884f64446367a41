"""Errors that say what went wrong and what to do next; front ends turn them into messages."""

from __future__ import annotations


class QaBotError(Exception):
    """Base error: `str(err)` is a complete message for the user, ending with the next step."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}" if hint else message)


class UsageError(QaBotError):
    """Bad input from the user (empty question, bad option)."""

    exit_code = 2


class DocumentsError(QaBotError):
    """The documents folder is missing, empty or holds nothing readable.

    `russian` is the reason in Russian, without the file name, for people who send a file to the bot.
    """

    def __init__(self, message: str, hint: str | None = None, *, russian: str | None = None) -> None:
        super().__init__(message, hint)
        self.russian = russian


class IndexMissingError(QaBotError):
    """No index has been built yet."""


class IndexCorruptError(QaBotError):
    """The index on disk cannot be read."""


class IndexMismatchError(QaBotError):
    """The index was built with other settings than the current ones."""


class IndexBusyError(QaBotError):
    """Another process is writing the index."""


class EmbeddingModelError(QaBotError):
    """The embedding model cannot be loaded."""


class LLMError(QaBotError):
    """Base for answer-generation failures; the answerer falls back to extractive answers."""


class LLMUnavailableError(LLMError):
    """The LLM backend cannot be reached or is not installed."""


class LLMModelMissingError(LLMError):
    """The backend runs but the configured model is not there."""


class LLMTimeoutError(LLMError):
    """The backend did not answer in time."""


class GoldFileError(QaBotError):
    """A malformed evaluation gold file."""

    exit_code = 2
