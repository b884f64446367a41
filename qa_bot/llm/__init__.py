"""Stage 6a: answer generation backends behind one small interface (setting LLM_BACKEND)."""

from __future__ import annotations

from .base import LLMBackend, Message
from .factory import make_backend

__all__ = ["LLMBackend", "Message", "make_backend"]
