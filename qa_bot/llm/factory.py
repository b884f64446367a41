"""Pick the backend named by LLM_BACKEND; `auto` means Ollama when reachable, else extractive."""

from __future__ import annotations

import logging

from ..errors import LLMError
from ..settings import Settings
from .base import LLMBackend

log = logging.getLogger(__name__)


def make_backend(settings: Settings, name: str | None = None) -> tuple[LLMBackend | None, LLMError | None]:
    """(backend or None for extractive answers, why `auto` fell back to extractive answers).

    Raises LLMError when a backend was asked for explicitly and cannot run.
    """
    name = name or settings.llm_backend
    if name == "extractive":
        return None, None
    if name in ("ollama", "auto"):
        from .ollama_backend import OllamaBackend

        backend = OllamaBackend(settings.ollama_host, settings.ollama_model, timeout=settings.llm_timeout)
        if name == "ollama":
            return backend, None
        try:
            backend.check()
        except LLMError as exc:
            log.info("LLM_BACKEND=auto: %s Using extractive answers.", exc)
            return None, exc
        return backend, None
    if name == "llamacpp":
        from .llamacpp_backend import LlamaCppBackend, default_gguf

        path = settings.llamacpp_model_path or default_gguf(settings.models_dir)
        return LlamaCppBackend(path, n_ctx=settings.llamacpp_n_ctx, threads=settings.llamacpp_threads), None
    raise LLMError(f"Unknown LLM_BACKEND {name!r}.", "Use one of: auto, ollama, llamacpp, extractive.")
