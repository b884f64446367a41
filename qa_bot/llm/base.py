"""The interface every LLM backend implements: stream text deltas for a list of chat messages."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TypedDict


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


class LLMBackend(ABC):
    """A chat model. Raises qa_bot.errors.LLMError subclasses with a message saying what to do."""

    name: str
    #: Tokens the backend can attend to; None when the backend sizes its context per request.
    context_window: int | None = None

    @abstractmethod
    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield the reply as text deltas while it is generated."""

    def complete(self, messages: list[Message], *, max_tokens: int, temperature: float) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature))

    def count_tokens(self, text: str) -> int:
        """Token count of `text`; backends without a tokenizer estimate (Russian: ~3 characters a token)."""
        return len(text) // 3 + 1

    def check(self) -> None:
        """Raise an LLMError when the backend cannot answer now (used by LLM_BACKEND=auto)."""

    @property
    def label(self) -> str:
        """Shown to users: which model wrote the answer."""
        return self.name
