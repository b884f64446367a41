"""Any OpenAI-compatible server (vLLM, llama.cpp server, LM Studio, TGI, Ollama's /v1) over plain httpx.

`POST {OPENAI_BASE_URL}/chat/completions` with `"stream": true` answers server-sent events, one
`data: {json}` a line with `choices[0].delta.content`, ending with `data: [DONE]`;
`GET {OPENAI_BASE_URL}/models` lists the served models (`{"data": [{"id": ...}, ...]}`), and some
servers add the context size to each entry (vLLM `max_model_len`, others `context_length`); llama.cpp's
server gives it at `GET /props` (`default_generation_settings.n_ctx`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from itertools import chain
from typing import Any

import httpx
from pydantic import SecretStr

from ..errors import LLMError, LLMModelMissingError, LLMTimeoutError, LLMUnavailableError
from .base import LLMBackend, Message

log = logging.getLogger(__name__)

#: keys of a /models entry that give the context size the server runs with
CONTEXT_KEYS = ("max_model_len", "context_length", "max_context_length", "context_window", "n_ctx")
START_HINT = (
    "Start the server (e.g. `python -m llama_cpp.server --model FILE.gguf`, `vllm serve MODEL`), "
    "fix OPENAI_BASE_URL, or set LLM_BACKEND=extractive."
)
_MISSING_MODEL_WORDS = ("not found", "does not exist", "not exist", "unknown model", "not loaded", "no model")
_CONTEXT_WORDS = ("context length", "context window", "context size", "too long", "exceeds", "n_ctx")


class OpenAIBackend(LLMBackend):
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str | None,
        *,
        api_key: SecretStr | None = None,
        timeout: float = 120.0,
        context_window: int = 4096,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: empty: the first model the server lists, found by check()
        self.model = model or ""
        self.timeout = timeout
        self._default_window = context_window
        self._server_window: int | None = None
        self._probed = False
        self._props_read = False
        self._secret = api_key.get_secret_value() if api_key else ""
        headers = {"Authorization": f"Bearer {self._secret}"} if self._secret else {}
        self.client = httpx.Client(
            base_url=self.base_url + "/", headers=headers, timeout=httpx.Timeout(timeout, connect=5.0)
        )

    @property
    def label(self) -> str:
        return f"openai:{self.model or '?'}"

    @property
    def context_window(self) -> int:  # type: ignore[override]
        """The server's context size when it says it (model list, llama.cpp /props), else OPENAI_CONTEXT_WINDOW."""
        if not self._probed:
            self._probed = True  # one look per backend: a server that is down does not slow every answer
            try:
                self._models(timeout=min(5.0, self.timeout))
            except LLMError as exc:
                log.debug("context size not read from %s: %s", self.base_url, exc)
        return self._server_window or self._default_window

    # -- the API -----------------------------------------------------------------------------

    def check(self) -> None:
        """Reach the server, check the key, pick or check the model, read the context size."""
        served = self._models()
        if not self.model:
            if not served:
                raise LLMModelMissingError(
                    f"The server at {self.base_url} lists no models and OPENAI_MODEL is empty.",
                    "Set OPENAI_MODEL to the model the server runs.",
                )
            self.model = served[0]
            log.info(
                "OPENAI_MODEL is empty: using %s, the first model served at %s", self.model, self.base_url
            )
        elif served and not self._serves(served):
            raise self._missing(served)

    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        if not self.model:
            self.check()
        body = {
            "model": self.model,
            "messages": list(messages),
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        try:
            with self.client.stream("POST", "chat/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise self._http_error(response, "POST /chat/completions")
                kind = response.headers.get("content-type", "")
                if kind.startswith("application/json"):  # a server that ignores "stream": one JSON answer
                    response.read()
                    text = self._choice(self._json(response)).get("message", {}).get("content") or ""
                    if text:
                        yield text
                    return
                if not kind.startswith("text/event-stream"):
                    raise self._not_openai(f"POST /chat/completions answered {kind or 'no content type'}")
                yield from self._events(response)
        except LLMError:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc

    # -- steps -------------------------------------------------------------------------------

    def _models(self, timeout: float | None = None) -> list[str]:
        """The ids the server lists at GET /models (remembering the context size it gives, if any)."""
        try:
            response = self.client.get(
                "models", timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT
            )
        except Exception as exc:
            raise self._translate(exc) from exc
        if response.status_code != 200:
            raise self._http_error(response, "GET /models")
        try:
            entries = [e for e in self._json(response).get("data", []) if isinstance(e, dict)]
        except (LLMError, AttributeError) as exc:
            raise self._not_openai("GET /models did not answer a model list") from exc
        ids = [str(e["id"]) for e in entries if e.get("id")]
        mine = next((e for e in entries if self.model and self._same(str(e.get("id", "")), self.model)), None)
        entry = mine or (entries[0] if len(entries) == 1 or not self.model else None)
        if entry is not None:
            window = next(
                (entry[k] for k in CONTEXT_KEYS if isinstance(entry.get(k), int) and entry[k] > 0), None
            )
            self._server_window = window or self._server_window
        if self._server_window is None and not self._props_read:
            self._props_read = True
            self._read_props(timeout)
        self._probed = True
        return ids

    def _read_props(self, timeout: float | None) -> None:
        """llama.cpp's own server gives its context size at GET /props, next to /v1; others answer 404."""
        root = self.base_url.removesuffix("/v1")
        try:
            response = self.client.get(
                f"{root}/props", timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT
            )
            props = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return
        if not isinstance(props, dict):
            return
        defaults = props.get("default_generation_settings")
        n_ctx = (defaults if isinstance(defaults, dict) else {}).get("n_ctx") or props.get("n_ctx")
        if isinstance(n_ctx, int) and n_ctx > 0:
            self._server_window = n_ctx

    def _events(self, response: httpx.Response) -> Iterator[str]:
        """Text deltas of an SSE stream; raises LLMError when it breaks off before its end."""
        data: list[str] = []
        finished = False
        for line in chain(response.iter_lines(), [""]):  # the trailing "" dispatches an event left open
            if line.startswith(":"):
                continue  # a comment (keep-alive)
            if line:
                field, _, value = line.partition(":")
                if field == "data":
                    data.append(value[1:] if value.startswith(" ") else value)
                continue
            if not data:
                continue
            payload, data = "\n".join(data), []
            if payload.strip() == "[DONE]":
                return
            try:
                event = json.loads(payload)
            except json.JSONDecodeError as exc:
                raise LLMError(
                    f"The server at {self.base_url} sent a malformed event: {self._redact(payload[:120])!r}",
                    "Check the server's log; try again.",
                ) from exc
            if isinstance(event, dict) and event.get("error"):
                raise LLMError(
                    f"The server at {self.base_url} failed while answering: {self._message_of(event)}",
                    "Check the server's log; try again.",
                )
            choice = self._choice(event)
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield text
            finished = finished or bool(choice.get("finish_reason"))
        if not finished:
            raise LLMError(
                f"The answer from {self.base_url} stopped before its end (no [DONE] in the stream).",
                "Try again; if it repeats, check the server's log.",
            )

    # -- errors --------------------------------------------------------------------------------

    @staticmethod
    def _same(served: str, wanted: str) -> bool:
        return served in (wanted, f"{wanted}:latest") or wanted == f"{served}:latest"

    def _serves(self, served: list[str]) -> bool:
        return any(self._same(s, self.model) for s in served)

    @staticmethod
    def _choice(event: Any) -> dict[str, Any]:
        choices = event.get("choices") if isinstance(event, dict) else None
        return choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._not_openai(
                f"{response.request.method} {response.request.url.path} did not answer JSON"
            ) from exc

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _message_of(self, payload: Any) -> str:
        """The error text of a server's JSON error (OpenAI, vLLM, llama.cpp, FastAPI shapes), shortened."""
        found: Any = payload
        if isinstance(payload, dict):
            found = payload.get("error") or payload.get("message") or payload.get("detail") or payload
            if isinstance(found, dict):
                found = found.get("message") or found
        text = found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)
        return self._redact(" ".join(text.split())[:300])

    def _http_error(self, response: httpx.Response, request: str) -> LLMError:
        status = response.status_code
        try:
            message = self._message_of(response.json())
        except (json.JSONDecodeError, UnicodeDecodeError):
            message = self._redact(" ".join(response.text.split())[:300])
        lower = message.lower()
        if status in (401, 403):
            key = "rejected the API key" if self._secret else "wants an API key"
            return LLMUnavailableError(
                f"The server at {self.base_url} {key} ({status} on {request}; setting OPENAI_API_KEY).",
                "Set OPENAI_API_KEY to a key this server accepts.",
            )
        if status in (400, 404, 422) and "model" in lower and any(w in lower for w in _MISSING_MODEL_WORDS):
            return self._missing()
        if status == 404:
            return self._not_openai(f"{request} answered 404 Not Found")
        if status in (400, 413, 422) and any(w in lower for w in _CONTEXT_WORDS):
            return LLMError(
                f"The prompt does not fit the context of {self.model!r} at {self.base_url}: {message}",
                "Lower TOP_K, or set OPENAI_CONTEXT_WINDOW to the context size the server runs with.",
            )
        if status in (429, 503):
            return LLMUnavailableError(
                f"The server at {self.base_url} is busy or still loading ({status}): {message}",
                "Try again in a minute.",
            )
        return LLMError(
            f"The server at {self.base_url} answered {status} to {request}: {message}",
            "Check the server's log.",
        )

    def _missing(self, served: list[str] | None = None) -> LLMModelMissingError:
        listed = f" It serves: {', '.join(served[:10])}." if served else ""
        return LLMModelMissingError(
            f"The model {self.model!r} (setting OPENAI_MODEL) is not served at {self.base_url}.{listed}",
            f"Set OPENAI_MODEL to a model listed at {self.base_url}/models, or leave it empty to use the first.",
        )

    def _not_openai(self, what: str) -> LLMUnavailableError:
        return LLMUnavailableError(
            f"No OpenAI-compatible API at {self.base_url} (setting OPENAI_BASE_URL): {what}.",
            "OPENAI_BASE_URL is the API root, which usually ends in /v1 (e.g. http://127.0.0.1:8000/v1).",
        )

    def _translate(self, exc: Exception) -> LLMError:
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return LLMUnavailableError(
                f"No server answers at {self.base_url} (setting OPENAI_BASE_URL).", START_HINT
            )
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeoutError(
                f"The server at {self.base_url} did not answer within {self.timeout:g} s (setting LLM_TIMEOUT).",
                "Try again, use a smaller model, or raise LLM_TIMEOUT.",
            )
        if isinstance(exc, httpx.TransportError):  # reached, but the answer broke off
            return LLMError(
                f"The connection to {self.base_url} broke while it was answering ({type(exc).__name__}).",
                "Try again; if it repeats, check the server's log.",
            )
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return LLMUnavailableError(
                f"OPENAI_BASE_URL {self.base_url!r} is not a usable URL ({exc}).",
                "Set it to the API root, e.g. http://127.0.0.1:8000/v1.",
            )
        return LLMError(
            f"The OpenAI-compatible backend failed: {type(exc).__name__}: {self._redact(str(exc))[:200]}",
            "Check the server's log.",
        )
