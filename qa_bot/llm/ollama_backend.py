"""Ollama through the official `ollama` client (HTTP): streaming, context sized to the prompt."""

from __future__ import annotations

import math
from collections.abc import Iterator

import httpx
import ollama

from ..errors import LLMError, LLMModelMissingError, LLMTimeoutError, LLMUnavailableError
from .base import LLMBackend, Message

# Ollama's default context (2-4k tokens) silently truncates the passages: always send num_ctx.
MIN_CTX = 2048
MAX_CTX = 32768


class OllamaBackend(LLMBackend):
    name = "ollama"

    def __init__(
        self, host: str, model: str, *, timeout: float = 120.0, client: ollama.Client | None = None
    ) -> None:
        self.host = host
        self.model = model
        self.timeout = timeout
        self.client = client or ollama.Client(host=host, timeout=httpx.Timeout(timeout, connect=5.0))

    @property
    def label(self) -> str:
        return f"ollama:{self.model}"

    def num_ctx(self, messages: list[Message], max_tokens: int) -> int:
        """Context for this request: prompt + answer + margin, rounded up to 1024, within bounds."""
        needed = sum(self.count_tokens(m["content"]) + 8 for m in messages) + max_tokens + 256
        return int(min(MAX_CTX, max(MIN_CTX, math.ceil(needed / 1024) * 1024)))

    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        options = {
            "temperature": temperature,
            "num_ctx": self.num_ctx(messages, max_tokens),
            "num_predict": max_tokens,
        }
        try:
            for part in self.client.chat(
                model=self.model, messages=list(messages), stream=True, options=options
            ):
                text = part.message.content if part.message else ""
                if text:
                    yield text
        except Exception as exc:
            raise self._translate(exc) from exc

    def check(self) -> None:
        try:
            listed = self.client.list()
        except Exception as exc:
            if isinstance(exc, ollama.ResponseError) and exc.status_code == 404:
                raise self._not_ollama("GET /api/tags") from exc  # every Ollama server lists its models
            raise self._translate(exc) from exc
        names = {m.model for m in listed.models if m.model}
        wanted = {self.model, f"{self.model}:latest"}
        if not names & wanted:
            raise self._missing()

    def _missing(self) -> LLMModelMissingError:
        # the command goes into the message itself: notices for chat users show only the message
        return LLMModelMissingError(
            f"The Ollama model {self.model!r} (setting OLLAMA_MODEL) is not pulled on {self.host}: "
            f"run `ollama pull {self.model}`.",
            "Or set OLLAMA_MODEL to a model listed by `ollama list`.",
        )

    def _not_ollama(self, request: str) -> LLMUnavailableError:
        return LLMUnavailableError(
            f"The server at {self.host} (setting OLLAMA_HOST) is not an Ollama server: "
            f"it answered 404 Not Found to {request}.",
            "Point OLLAMA_HOST at Ollama (e.g. http://127.0.0.1:11434, without a path); for an "
            "OpenAI-compatible server (vLLM, llama.cpp, LM Studio) set LLM_BACKEND=openai and OPENAI_BASE_URL.",
        )

    def _translate(self, exc: Exception) -> LLMError:
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout)):
            return LLMUnavailableError(
                f"Ollama is not reachable at {self.host} (setting OLLAMA_HOST).",
                "Start it with `ollama serve`, fix OLLAMA_HOST, or set LLM_BACKEND=extractive.",
            )
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeoutError(
                f"Ollama at {self.host} did not answer within {self.timeout:.0f} s (setting LLM_TIMEOUT).",
                "Try again, use a smaller model, or raise LLM_TIMEOUT.",
            )
        if isinstance(exc, ollama.ResponseError):
            error = str(exc.error).lower()
            # Ollama's own 404 says: model "x" not found, try pulling it first
            if "model" in error and "not found" in error:
                return self._missing()
            if exc.status_code == 404:  # any other 404 (an HTML page, "404 page not found"): not Ollama's API
                return self._not_ollama("POST /api/chat")
            return LLMError(
                f"Ollama returned an error ({exc.status_code}): {str(exc.error)[:200]}",
                "Check the Ollama server log.",
            )
        if isinstance(exc, httpx.TransportError):  # the server was reached but the answer broke off
            return LLMError(
                f"The connection to Ollama at {self.host} broke while it was answering ({type(exc).__name__}).",
                "Try again; if it repeats, check the Ollama server log.",
            )
        return LLMError(f"Ollama failed: {type(exc).__name__}: {exc}", "Check the Ollama server log.")
