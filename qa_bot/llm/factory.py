"""Pick the backend named by LLM_BACKEND.

`auto`: the OpenAI-compatible server when OPENAI_BASE_URL is set and it answers, else Ollama when
reachable, else extractive answers. A backend that cannot start (llama-cpp-python not installed, no
OPENAI_BASE_URL, ...) gives extractive answers with the reason, as a server that is down does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..errors import LLMError, LLMUnavailableError
from ..settings import Settings
from .base import LLMBackend

log = logging.getLogger(__name__)

NAMES = ("auto", "ollama", "openai", "llamacpp", "extractive")
Made = tuple[LLMBackend | None, LLMError | None]


def make_backend(settings: Settings, name: str | None = None) -> Made:
    """(backend or None for extractive answers, why there is no LLM when one was wanted).

    Raises LLMError only for an unknown backend name.
    """
    name = name or settings.llm_backend
    if name == "extractive":
        return None, None
    if name == "auto":
        return _auto(settings)
    if name == "ollama":
        return _ollama(settings), None
    if name == "openai":
        return _started(name, lambda: _openai(settings, probe=not settings.openai_model))
    if name == "llamacpp":
        return _started(name, lambda: _llamacpp(settings))
    raise LLMError(f"Unknown LLM_BACKEND {name!r}.", f"Use one of: {', '.join(NAMES)}.")


def _auto(settings: Settings) -> Made:
    first: LLMError | None = None
    if settings.openai_base_url:
        backend, first = _started("auto", lambda: _openai(settings, probe=True))
        if backend is not None:
            return backend, None
    backend, reason = _started("auto", lambda: _checked(_ollama(settings)))
    if backend is not None:
        return backend, None
    return None, first or reason  # OPENAI_BASE_URL was set on purpose: its failure is the one to show


def _started(name: str, start: Callable[[], LLMBackend]) -> Made:
    try:
        return start(), None
    except LLMError as exc:
        log.info("LLM_BACKEND=%s: %s Using extractive answers.", name, exc)
        return None, exc


def _checked(backend: LLMBackend) -> LLMBackend:
    backend.check()
    return backend


def _ollama(settings: Settings) -> LLMBackend:
    from .ollama_backend import OllamaBackend

    return OllamaBackend(settings.ollama_host, settings.ollama_model, timeout=settings.llm_timeout)


def _openai(settings: Settings, *, probe: bool) -> LLMBackend:
    """The OpenAI-compatible backend; `probe` checks the server now (and picks the model if none is set)."""
    from .openai_backend import OpenAIBackend

    if not settings.openai_base_url:
        raise LLMUnavailableError(
            "LLM_BACKEND=openai needs OPENAI_BASE_URL, the server's API root.",
            "Set it, e.g. OPENAI_BASE_URL=http://127.0.0.1:8000/v1 (vLLM, llama.cpp server, LM Studio), "
            "or choose another LLM_BACKEND.",
        )
    backend = OpenAIBackend(
        settings.openai_base_url,
        settings.openai_model,
        api_key=settings.openai_api_key,
        timeout=settings.llm_timeout,
        context_window=settings.openai_context_window,
    )
    return _checked(backend) if probe else backend


def _llamacpp(settings: Settings) -> LLMBackend:
    from .llamacpp_backend import LlamaCppBackend, default_gguf, require_llama_cpp

    require_llama_cpp()  # before looking for a model: the missing package is the thing to fix
    path = settings.llamacpp_model_path or default_gguf(settings.models_dir)
    return LlamaCppBackend(path, n_ctx=settings.llamacpp_n_ctx, threads=settings.llamacpp_threads)
