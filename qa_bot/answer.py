"""Stage 6: answer a question from the retrieved passages, with verified citations.

An LLM backend writes the answer when one is configured; otherwise, and whenever the LLM fails
or answers without valid citations, the extractive answerer quotes the documents instead.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .citations import REFUSAL, Citation, is_refusal, verify
from .errors import LLMError, LLMModelMissingError, LLMTimeoutError, LLMUnavailableError, UsageError
from .extractive import extract_answer
from .ingest import format_date
from .llm import LLMBackend, Message
from .prompts import render
from .retrieve import Hit, Retriever
from .safety import fence_text
from .settings import RetrievalMode, Settings
from .text import lemmas

log = logging.getLogger(__name__)

EXTRACTIVE = "extractive"
REWRITE_MAX_TOKENS = 96


@dataclass
class Answer:
    """The structured result; `to_dict()` is the `--json` contract the bot and the evaluation read."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    passages: list[Hit]
    backend: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    notice: str | None = None  # for the person asking (Russian): why the answer looks the way it does
    detail: str | None = None  # for the operator (CLI, logs, JSON): the technical reason and what to do
    search_query: str | None = None
    #: True when the final text is what was streamed to `on_delta` (an LLM answer that passed the checks)
    streamed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [
                {
                    "n": c.n, "doc_id": c.doc_id, "title": c.title, "date": c.date,
                    "chunk_id": c.chunk_id, "quote": c.quote, "score": c.score,
                }  # fmt: skip
                for c in self.citations
            ],
            "passages": [
                {"rank": i, "doc_id": h.chunk.doc_id, "chunk_id": h.chunk.chunk_id, "score": round(h.score, 4),
                 "text": h.chunk.text}  # fmt: skip
                for i, h in enumerate(self.passages, start=1)
            ],
            "backend": self.backend,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "notice": self.notice,
            "detail": self.detail,
            "search_query": self.search_query,
        }


NOT_RUSSIAN_NOTICE = (
    "Без языковой модели вопрос не переводится, а документы на русском: задайте его по-русски."
)


def is_russian(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return not letters or sum("а" <= c.lower() <= "я" or c.lower() == "ё" for c in letters) >= 0.5 * len(letters)


def clean_question(question: str, limit: int) -> tuple[str, str | None]:
    """The question stripped and cut to `limit` characters; (text, notice or None)."""
    text = re.sub(r"\s+", " ", question or "").strip()
    if not text or not re.search(r"\w", text):
        raise UsageError("Вопрос пуст: напишите, что вы хотите узнать из документов.")
    if len(text) <= limit:
        return text, None
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut, f"Вопрос слишком длинный ({len(text)} символов): использованы первые {len(cut)}."


class Answerer:
    """Question → retrieval → refusal check → generation → citation check → Answer."""

    def __init__(
        self,
        retriever: Retriever,
        backend: LLMBackend | None,
        settings: Settings,
        *,
        fallback_reason: LLMError | None = None,
    ) -> None:
        self.retriever = retriever
        self.backend = backend
        self.settings = settings
        self.fallback_reason = fallback_reason  # why LLM_BACKEND=auto answers without an LLM

    @property
    def _refusal_threshold(self) -> float:
        # An LLM reads paraphrases that share few words with the passage and refuses by itself,
        # so it gets a lower bar than the extractive answerer, which can only match words.
        if self.backend is not None:
            return self.settings.llm_refusal_threshold
        return self.settings.refusal_threshold

    @property
    def backend_label(self) -> str:
        return self.backend.label if self.backend else EXTRACTIVE

    def answer(
        self,
        question: str,
        history: Sequence[str] = (),
        *,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer `question` (earlier questions of the chat in `history`, oldest first).

        `on_delta` receives the LLM's text as it is generated; with no generation (extractive answer,
        refusal) it receives the whole answer once. When the LLM fails or cites nothing mid-stream, the
        streamed text is abandoned: `Answer.streamed` is False and the final `Answer.answer` replaces it.
        Raises UsageError for an empty question.
        """
        started = time.perf_counter()
        text, notice = clean_question(question, self.settings.max_question_chars)
        notices = [n for n in (notice,) if n]
        details = [str(self.fallback_reason)] if self.fallback_reason else []
        if self.fallback_reason:
            notices.insert(0, llm_failure_notice(self.fallback_reason))
        turns = self.settings.history_turns
        history = [h for h in history if h and h.strip()][-turns:] if turns else []
        k = k or self.settings.top_k

        query = self._search_query(text, history)
        hits = self.retriever.search(query, k, mode)
        retrieved = time.perf_counter()
        result = Answer(
            question=text, answer=REFUSAL, refused=True, citations=[], passages=hits,
            backend=self.backend_label, search_query=query if query != text else None,
        )  # fmt: skip

        emitted = False  # whether on_delta already received LLM text
        russian = is_russian(query)
        if self.backend is None and not russian:
            notices.append(NOT_RUSSIAN_NOTICE)
        unknown = self.retriever.unknown_names(query) if russian else []
        if unknown:  # the question is about something no document mentions
            notices.append("В документах не упоминается: " + ", ".join(dict.fromkeys(unknown)) + ".")
        elif not hits or hits[0].relevance < self._refusal_threshold:
            pass  # nothing relevant enough: refuse without calling the LLM
        elif self.backend is not None:
            emitted = self._generate(result, query, hits, notices, details, on_delta)
        else:
            self._extract(result, text, hits, history)
        if on_delta and not result.streamed and not emitted:
            on_delta(result.answer)  # nothing was streamed: deliver the whole answer as one piece
        done = time.perf_counter()
        result.timings_ms = {
            "retrieve": (retrieved - started) * 1000,
            "generate": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        result.notice = " ".join(notices) or None
        result.detail = " ".join(details) or None
        return result

    # -- steps -------------------------------------------------------------------------------

    def _search_query(self, question: str, history: list[str]) -> str:
        """A standalone Russian question for retrieval (LLM rewrite, or the previous question prepended)."""
        if not history and is_russian(question):
            return question
        if self.backend is not None:
            try:
                rewritten = self.backend.complete(
                    self._rewrite_messages(question, history), max_tokens=REWRITE_MAX_TOKENS, temperature=0.0
                )
                line = next((ln.strip(" «»\"'") for ln in rewritten.splitlines() if ln.strip()), "")
                if self._plausible_rewrite(line, question, history):
                    return line
            except LLMError as exc:
                log.warning("question rewrite failed: %s", exc)
        return f"{history[-1]} {question}" if history else question

    @staticmethod
    def _plausible_rewrite(line: str, question: str, history: list[str]) -> bool:
        """A rewrite is used only if it is a short Russian question about the same things (small models echo
        their prompt or answer instead)."""
        if not 3 <= len(line) <= 300 or not is_russian(line) or is_refusal(line):
            return False
        prompt = render("rewrite_system") + render("rewrite_user")
        if line in prompt:
            return False
        if not is_russian(question) and not history:
            return True  # a translation shares no words with the question
        asked = set(lemmas(" ".join([question, *history])))
        return bool(set(lemmas(line)) & asked) or not asked

    def _rewrite_messages(self, question: str, history: list[str]) -> list[Message]:
        listed = "\n".join(f"- {h}" for h in history) or "(нет)"
        return [
            {"role": "system", "content": render("rewrite_system")},
            {"role": "user", "content": render("rewrite_user", history=listed, question=question)},
        ]

    def build_messages(self, question: str, hits: Sequence[Hit]) -> tuple[list[Message], int]:
        """The answer prompt with as many passages as the backend's context holds; (messages, passages used)."""
        assert self.backend is not None
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
        window = self.backend.context_window
        while True:
            user = render("answer_user", passages="\n".join(blocks), question=fence_text(question))
            messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
            if window is None or len(blocks) <= 1:
                return messages, len(blocks)
            used = sum(self.backend.count_tokens(m["content"]) + 8 for m in messages)
            if used + self.settings.llm_max_tokens <= window:
                return messages, len(blocks)
            blocks.pop()  # drop the lowest-ranked passage until the prompt fits

    def _generate(
        self,
        result: Answer,
        query: str,
        hits: list[Hit],
        notices: list[str],
        details: list[str],
        on_delta: Callable[[str], None] | None,
    ) -> bool:
        """Fill `result` from the LLM (or the extractive fallback); True when deltas were streamed."""
        assert self.backend is not None
        messages, used = self.build_messages(query, hits)
        pieces: list[str] = []
        try:
            for delta in self.backend.stream(
                messages, max_tokens=self.settings.llm_max_tokens, temperature=self.settings.llm_temperature
            ):
                pieces.append(delta)
                if on_delta:
                    on_delta(delta)
        except LLMError as exc:
            log.warning("LLM failed, answering extractively: %s", exc)
            notices.append(llm_failure_notice(exc))
            details.append(str(exc))
            self._extract(result, query, hits, [])
            return bool(pieces)
        raw = _tidy("".join(pieces))
        if is_refusal(raw):
            result.answer, result.refused, result.citations = REFUSAL, True, []
            return bool(pieces)
        text, citations = verify(raw, hits[:used])
        if not citations:
            notices.append("Ответ модели не опирался на источники, поэтому показан ответ из цитат документов.")
            self._extract(result, query, hits, [])
            return bool(pieces)
        result.answer, result.refused, result.citations = text, False, citations
        result.streamed = bool(on_delta)
        return bool(pieces)

    def _extract(self, result: Answer, question: str, hits: list[Hit], history: list[str]) -> None:
        found = extract_answer(
            question,
            hits,
            context=history[-1] if history else "",
            question_terms=self.retriever.query_terms(question),
        )
        result.backend = EXTRACTIVE
        if found is None:
            result.answer, result.refused, result.citations = REFUSAL, True, []
        else:
            result.answer, result.citations = found
            result.refused = False


def llm_failure_notice(exc: LLMError) -> str:
    """A short Russian note for users; the details go to the log."""
    if isinstance(exc, LLMTimeoutError):
        why = "языковая модель не ответила вовремя"
    elif isinstance(exc, LLMModelMissingError):
        why = "языковая модель не установлена"
    elif isinstance(exc, LLMUnavailableError):
        why = "языковая модель недоступна"
    else:
        why = "языковая модель ответила с ошибкой"
    return f"{why.capitalize()}, поэтому ответ составлен из цитат документов."


def _tidy(text: str) -> str:
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
