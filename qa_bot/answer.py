"""Stage 6: answer a question from the retrieved passages, with verified citations.

An LLM backend writes the answer when one is configured; otherwise, and whenever the LLM fails
or answers without valid citations, the extractive answerer quotes the documents instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from . import messages
from .citations import REFUSAL, Citation, is_refusal, verify
from .dates import (
    DateQuery,
    MetaQuestion,
    date_in_ranges,
    latest_day,
    metadata_question,
    nearest_dates,
    parse_question_dates,
    period_query,
)
from .errors import LLMError, LLMModelMissingError, LLMTimeoutError, LLMUnavailableError
from .extractive import Extraction, extract_answer
from .ingest import format_date
from .llm import LLMBackend, Message
from .metadata import about_documents, is_overview, overview
from .prompting import (
    REWRITE_MAX_TOKENS,
    answer_messages,
    first_line,
    plausible_rewrite,
    rewrite_messages,
    tidy,
)
from .questions import answer_type, clean_question, is_russian, leans_on_history
from .refusal import LEXICAL, Evidence, RefusalModel, model_for
from .retrieve import Hit, Retriever
from .slots import asked_events
from .settings import RetrievalMode, Settings

log = logging.getLogger(__name__)

EXTRACTIVE = "extractive"
WEAK_STANDALONE = 0.3  # a question whose best passage covers less of it may lean on the conversation
RECENCY_POOL = 4  # «последние новости»: rank this many times k by relevance, then let age decide
RECENCY_HALF_LIFE_DAYS = 30  # a document this much older than the newest one counts half
SENTENCE_CACHE = 4096  # sentence vectors kept per answerer (the same passages come back often)


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


class Answerer:
    """Question → retrieval → refusal check → generation → citation check → Answer."""

    def __init__(
        self,
        retriever: Retriever,
        backend: LLMBackend | None,
        settings: Settings,
        *,
        fallback_reason: LLMError | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.retriever = retriever
        self.backend = backend
        self.settings = settings
        self.fallback_reason = fallback_reason  # why LLM_BACKEND=auto answers without an LLM
        self._fallback_told = False
        self.today = today  # relative dates («вчера», «на прошлой неделе») count from this day
        self._sentence_vectors: dict[str, np.ndarray] = {}

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
        since: date | None = None,
        until: date | None = None,
    ) -> Answer:
        """Answer `question` (earlier questions of the chat in `history`, oldest first).

        Dates in the question («7 октября», «в сентябре 2025», «на прошлой неделе») or `since`/`until`
        restrict the documents searched (a question's own dates only when some document is dated);
        questions about the documents themselves are answered from
        their metadata.

        `on_delta` receives the LLM's text as it is generated; with no generation (extractive answer,
        refusal) it receives the whole answer once. When the LLM fails or cites nothing mid-stream, the
        streamed text is abandoned: `Answer.streamed` is False and the final `Answer.answer` replaces it.
        Raises UsageError for an empty question.
        """
        started = time.perf_counter()
        text, notice = clean_question(question, self.settings.max_question_chars)
        notices = [n for n in (notice,) if n]
        details: list[str] = []
        if self.fallback_reason and not self._fallback_told:
            self._fallback_told = True  # once per session; the technical reason goes to the log
            notices.insert(0, llm_failure_notice(self.fallback_reason))
            details.append(str(self.fallback_reason))
        turns = self.settings.history_turns
        history = [h for h in history if h and h.strip()][-turns:] if turns else []
        k = k or self.settings.top_k
        russian = is_russian(text)

        when = self._dates(text, since, until) if russian or since or until else DateQuery(stripped=text)
        asked = when.stripped.strip() if when.spans and when.stripped.strip() else text
        doc_ids = self._documents_in(when) if when.has_filter else None
        meta = metadata_question(asked) if russian else None
        if meta is not None or (doc_ids is not None and is_overview(asked)) or not doc_ids and when.has_filter:
            return self._about_documents(text, asked, meta, when, doc_ids, k, mode, notices, started, on_delta)

        loaded_before = self.retriever.embedder_loaded
        query, context, hits = self._retrieve(asked, history, k, mode, doc_ids, when.recency)
        retrieved = time.perf_counter()
        load_ms = 0.0 if loaded_before or not self.retriever.embedder_loaded else self.retriever.embedder.load_ms
        result = Answer(
            question=text, answer=REFUSAL, refused=True, citations=[], passages=hits,
            backend=self.backend_label, search_query=query if query != text else None,
        )  # fmt: skip

        emitted = False  # whether on_delta already received LLM text
        unknown = self.retriever.unknown_names(query)
        if unknown:  # the question is about something no document mentions
            notices.append(messages.not_mentioned(unknown))
        elif self.backend is not None:
            if hits and hits[0].relevance >= self.settings.llm_refusal_threshold:
                emitted = self._generate(result, query, hits, notices, details, on_delta)
            # else nothing relevant enough: refuse without calling the LLM
        elif russian or self._uses_encoder and self.retriever.embedder.multilingual or self._translated(query):
            self._extract(result, asked, hits, context, trust=doc_ids is not None)
            if result.refused and not russian:
                notices.append(messages.NOT_RUSSIAN)
        else:  # nothing can match a question in another language without an LLM or a multilingual encoder
            notices.append(messages.NOT_RUSSIAN)
        if on_delta and not result.streamed and not emitted:
            on_delta(result.answer)  # nothing was streamed: deliver the whole answer as one piece
        done = time.perf_counter()
        result.timings_ms = {
            "retrieve": (retrieved - started) * 1000 - load_ms,  # the model's first load is reported apart
            "generate": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        if load_ms:
            result.timings_ms["load_model"] = load_ms
        result.notice = " ".join(notices) or None
        result.detail = " ".join(details) or None
        return result

    # -- steps -------------------------------------------------------------------------------

    def _retrieve(
        self,
        text: str,
        history: list[str],
        k: int,
        mode: RetrievalMode | None,
        doc_ids: list[str] | None = None,
        recent: bool = False,
    ) -> tuple[str, str, list[Hit]]:
        """(search query, conversation context for the answer, passages).

        The conversation is used only when the question needs it: it refers back («А он…?», «там»),
        or it finds little on its own. A question that stands on its own starts a new topic.
        """

        def search(query: str) -> list[Hit]:
            if not recent:
                hits = self.retriever.search(query, k, mode, doc_ids)
            else:
                hits = self._by_recency(self.retriever.search(query, k * RECENCY_POOL, mode, doc_ids))[:k]
            return self.retriever.with_named_documents(query, hits, mode, doc_ids)

        if not history:
            query = self._rewrite(text, []) if not is_russian(text) else text
            return query, "", search(query)
        if not leans_on_history(text):
            hits = search(text)
            if hits and hits[0].relevance >= WEAK_STANDALONE and is_russian(text):
                return text, "", hits  # a topic switch: the history would only pull the old topic back
        query = self._rewrite(text, history)
        hits = search(query)
        if query == f"{history[-1]} {text}":
            # a follow-up is about what the conversation was about: «она» is the minister of the previous
            # answer, so the answer comes from that document when it has anything to say
            topic = _standalone(history)
            before = self.retriever.search(topic, 1, mode, doc_ids)
            names = self.retriever.name_terms(text)
            if before and not (names and not all(n in self.retriever.document_terms(before[0].chunk.doc_id) for n in names)):
                # (unless the question names what that document does not: «А у Тверской области?»)
                key = before[0].chunk.doc_id
                within = [h for h in search(query) if h.chunk.doc_id == key] if recent else (
                    self.retriever.search(query, k, mode, [key])
                )
                hits = within or hits
            return query, history[-1], hits
        return query, "", hits

    # -- dates and questions about the documents ----------------------------------------------

    def _dates(self, text: str, since: date | None, until: date | None) -> DateQuery:
        today = self.today()
        if since or until:
            explicit = period_query(since, until, today)
            return replace(explicit, stripped=text)
        when = parse_question_dates(text, today)
        documents = self.retriever.index.documents.values()
        if when.spans and not when.invalid and not any(info.date for info in documents):
            # no document is dated (an encyclopedia, a manual): «в 2013 году» tells of the content, not a filter
            return DateQuery(stripped=text)
        return when

    def _documents_in(self, when: DateQuery) -> list[str]:
        return [d for d, info in self.retriever.index.documents.items() if date_in_ranges(info.date, when)]

    def _by_recency(self, hits: list[Hit]) -> list[Hit]:
        """«Последние новости о …»: fused scores decay with the document's age (newest document = age 0)."""
        today = self.today()
        days = {h.chunk.doc_id: latest_day(h.document.date, today) for h in hits}
        newest = max((d for d in days.values() if d), default=None)
        if newest is None:
            return hits

        def decayed(h: Hit) -> float:
            day = days[h.chunk.doc_id]
            age = (newest - day).days if day else RECENCY_HALF_LIFE_DAYS * 4
            return h.score * 0.5 ** (age / RECENCY_HALF_LIFE_DAYS)

        return sorted(hits, key=decayed, reverse=True)

    def _about_documents(
        self,
        text: str,
        asked: str,
        meta: MetaQuestion | None,
        when: DateQuery,
        doc_ids: list[str] | None,
        k: int,
        mode: RetrievalMode | None,
        notices: list[str],
        started: float,
        on_delta: Callable[[str], None] | None,
    ) -> Answer:
        """Answers from document metadata: a date filter nothing matches, a period overview, or a question about
        the documents themselves (when published, which source, which documents mention X)."""
        result = Answer(question=text, answer=REFUSAL, refused=True, citations=[], passages=[], backend=EXTRACTIVE)
        found = None
        if when.invalid:
            result.answer = when.invalid
        elif when.has_filter and not doc_ids:
            dates = [info.date for info in self.retriever.index.documents.values()]
            result.answer = messages.no_documents_for_dates([format_date(d) for d in nearest_dates(dates, when)])
        elif meta is not None:
            topic = meta.topic or asked
            unknown = self.retriever.unknown_names(topic)
            if unknown:  # «Когда опубликована статья о Мурманске?» where no document mentions it
                notices.append(messages.not_mentioned(unknown))
            else:
                found = about_documents(meta, self.retriever.search(topic, k, mode, doc_ids))
        else:
            found = overview(self.retriever, doc_ids or [], k)
        if found is not None:
            result.answer, result.citations, result.passages = found
            result.refused = False
        if on_delta:
            on_delta(result.answer)
        total = (time.perf_counter() - started) * 1000
        result.timings_ms = {"retrieve": total, "generate": 0.0, "total": total}
        result.notice = " ".join(notices) or None
        return result

    def _rewrite(self, question: str, history: list[str]) -> str:
        """A standalone Russian question for retrieval (LLM rewrite, or the previous question prepended)."""
        if self.backend is not None:
            try:
                rewritten = self.backend.complete(
                    rewrite_messages(question, history), max_tokens=REWRITE_MAX_TOKENS, temperature=0.0
                )
                line = first_line(rewritten)
                if plausible_rewrite(line, question, history):
                    return line
            except LLMError as exc:
                log.warning("question rewrite failed: %s", exc)
        return f"{history[-1]} {question}" if history else question

    def build_messages(self, question: str, hits: Sequence[Hit]) -> tuple[list[Message], int]:
        """The answer prompt with as many passages as the backend's context holds; (messages, passages used)."""
        assert self.backend is not None
        return answer_messages(self.backend, question, hits, self.settings.llm_max_tokens)

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
        messages_, used = self.build_messages(query, hits)
        pieces: list[str] = []
        try:
            for delta in self.backend.stream(
                messages_, max_tokens=self.settings.llm_max_tokens, temperature=self.settings.llm_temperature
            ):
                pieces.append(delta)
                if on_delta:
                    on_delta(delta)
        except LLMError as exc:
            log.warning("LLM failed, answering extractively: %s", exc)
            notices.append(llm_failure_notice(exc))
            details.append(str(exc))
            self._extract(result, query, hits, "")
            return bool(pieces)
        raw = tidy("".join(pieces))
        if is_refusal(raw):
            result.answer, result.refused, result.citations = REFUSAL, True, []
            return bool(pieces)
        text, citations = verify(raw, hits[:used])
        if not citations:
            notices.append(messages.LLM_UNGROUNDED)
            self._extract(result, query, hits, "")
            return bool(pieces)
        result.answer, result.refused, result.citations = text, False, citations
        result.streamed = bool(on_delta)
        return bool(pieces)

    def _extract(self, result: Answer, question: str, hits: list[Hit], context: str, *, trust: bool = False) -> None:
        """The extractive answer, or a refusal when the refusal policy finds the evidence too thin
        (`trust`: the documents were already narrowed down by date, so any cover of the question will do)."""
        result.backend = EXTRACTIVE
        result.answer, result.refused, result.citations = REFUSAL, True, []
        found = self.extraction(question, hits, context)
        if found is None:
            return
        if (trust and found.coverage > 0) or self.refusal_model.answers(self.evidence(question, hits, found)):
            result.answer, result.citations, result.refused = found.answer, found.citations, False

    def _translated(self, question: str) -> bool:
        """A question in English reads, word by word, as Russian words the collection has (english.py), so
        BM25 and the sentence choice can match it without a multilingual encoder."""
        terms = self.retriever.query_terms(question)
        return sum(self.retriever.index.knows(t) for t in terms) >= 2

    def extraction(self, question: str, hits: list[Hit], context: str = "") -> Extraction | None:
        return extract_answer(
            question,
            hits,
            question_terms=self.retriever.query_terms(question),
            kind=answer_type(question),
            context=context,
            similarity=self._similarity(question) if self._uses_encoder else None,
            knows=self.retriever.index.knows,
            names=self.retriever.name_terms(question),
            document_terms=self.retriever.document_terms,
            name_words=self.retriever.name_terms(question, known_only=False),
            events=self._events(question),
            adjacent=self.retriever.adjacent,
        )

    def _events(self, question: str) -> list[str]:
        """Index terms of the question's event verbs (slots.asked_events), a misspelt one read as the closest
        word of the collection. A verb the collection never uses is left to `unknown`: measured on dev,
        counting it as a missing event (or looking for its other aspect, «расширить» for «расширять»)
        refused more answerable questions than unanswerable ones."""
        terms = (self.retriever.term(word) for word in asked_events(question))
        return [t for t in terms if self.retriever.index.knows(t)]

    def evidence(self, question: str, hits: list[Hit], found: Extraction) -> Evidence:
        terms = self.retriever.query_terms(question)
        unknown = sum(not self.retriever.index.knows(t) for t in terms) / len(terms) if terms else 1.0
        return Evidence(
            coverage=found.coverage,
            own_coverage=found.own_coverage,
            similarity=found.similarity,
            type_ok=float(found.type_ok),
            passage_coverage=hits[0].relevance if hits else 0.0,
            unknown=unknown,
            russian=float(is_russian(question)),
            names=found.names_found,
            missing=found.missing,
            topic_only=float(found.topic_only),
            of_other=float(found.of_other),
            event_missing=float(found.event_missing),
            focus_missing=float(found.focus_missing),
            not_yet=float(found.not_yet),
            not_most=float(found.not_most),
            other_time=float(found.other_time),
            other_kind=float(found.other_kind),
        )

    @property
    def refusal_model(self) -> RefusalModel:
        # without the encoder (RETRIEVAL_MODE=bm25) there is no similarity to weigh: the model fitted without it
        return model_for(self.retriever.index.embedding_model if self._uses_encoder else LEXICAL)

    @property
    def _uses_encoder(self) -> bool:
        return self.retriever.mode != "bm25" and self.settings.retrieval_mode != "bm25"

    def _similarity(self, question: str) -> Callable[[list[str]], np.ndarray]:
        """Encoder cosines of the question to sentences; sentence vectors are cached."""
        embedder = self.retriever.embedder
        query = self.retriever.query_vector(question)

        def sims(texts: list[str]) -> np.ndarray:
            missing = [t for t in dict.fromkeys(texts) if t not in self._sentence_vectors]
            if missing:
                if len(self._sentence_vectors) + len(missing) > SENTENCE_CACHE:
                    self._sentence_vectors.clear()
                for t, v in zip(missing, embedder.embed_passages(missing), strict=True):
                    self._sentence_vectors[t] = v
            if not texts:
                return np.zeros(0, dtype=np.float32)
            return np.stack([self._sentence_vectors[t] for t in texts]) @ query

        return sims


def _standalone(history: Sequence[str]) -> str:
    """The last question of a conversation with the ones it leans on («Кто открыл титан?» + «А когда он родился?»)."""
    parts = [history[-1]]
    for earlier in reversed(history[:-1]):
        if not leans_on_history(parts[0]):
            break
        parts.insert(0, earlier)
    return " ".join(parts)


def llm_failure_notice(exc: LLMError) -> str:
    """A short Russian note for users; the details go to the log."""
    if isinstance(exc, LLMTimeoutError):
        return messages.llm_fallback("timeout")
    if isinstance(exc, LLMModelMissingError):
        return messages.llm_fallback("missing")
    if isinstance(exc, LLMUnavailableError):
        return messages.llm_fallback("unavailable")
    return messages.llm_fallback("error")
