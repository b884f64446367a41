"""Prompts for the LLM: the answer prompt packed to the context window, and the follow-up rewrite."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .citations import is_refusal
from .ingest import format_date
from .llm import LLMBackend, Message
from .prompts import render
from .questions import is_russian
from .retrieve import Hit
from .safety import fence_text
from .text import lemmas

REWRITE_MAX_TOKENS = 96


def answer_messages(
    backend: LLMBackend, question: str, hits: Sequence[Hit], max_tokens: int
) -> tuple[list[Message], int]:
    """The answer prompt with as many passages as the backend's context holds; (messages, passages used).

    Passages are untrusted data: fenced, with instruction-like text hidden. The question is the
    user's own and goes in as asked (only the fence's angle brackets are kept out of it).
    """
    system = render("answer_system")
    blocks = [
        render(
            "passage",
            n=str(i),
            title=fence_text(h.document.title),
            date=format_date(h.document.date),
            text=fence_text(h.chunk.text),
        )
        for i, h in enumerate(hits, start=1)
    ]
    asked = question.replace("<", "‹").replace(">", "›")
    window = backend.context_window
    while True:
        user = render("answer_user", passages="\n".join(blocks), question=asked)
        messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        if window is None or len(blocks) <= 1:
            return messages, len(blocks)
        used = sum(backend.count_tokens(m["content"]) + 8 for m in messages)
        if used + max_tokens <= window:
            return messages, len(blocks)
        blocks.pop()  # drop the lowest-ranked passage until the prompt fits


def rewrite_messages(question: str, history: Sequence[str]) -> list[Message]:
    listed = "\n".join(f"- {h}" for h in history) or "(нет)"
    return [
        {"role": "system", "content": render("rewrite_system")},
        {"role": "user", "content": render("rewrite_user", history=listed, question=question)},
    ]


def first_line(text: str) -> str:
    return next((ln.strip(" «»\"'") for ln in text.splitlines() if ln.strip()), "")


def plausible_rewrite(line: str, question: str, history: Sequence[str]) -> bool:
    """A rewrite is used only if it is a short Russian question about the same things (small models echo
    their prompt or answer instead)."""
    if not 3 <= len(line) <= 300 or not is_russian(line) or is_refusal(line):
        return False
    if line in render("rewrite_system") + render("rewrite_user"):
        return False
    if not is_russian(question) and not history:
        return True  # a translation shares no words with the question
    asked = set(lemmas(" ".join([question, *history])))
    return bool(set(lemmas(line)) & asked) or not asked


def tidy(text: str) -> str:
    """Model output without chat-template debris and without sentences repeated verbatim."""
    text = re.sub(r"<end_of_turn>|<start_of_turn>\w*|<\|im_end\|>|<\|eot_id\|>", " ", text)
    seen: set[str] = set()
    kept = []
    for line in re.split(r"(?<=[.!?])\s+", text.strip()):
        key = re.sub(r"\W+", " ", line.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            kept.append(line)
    return " ".join(kept)
