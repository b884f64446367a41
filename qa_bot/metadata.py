"""Answers from what the index knows about the documents: their dates, sources and what they are about.

«Когда опубликована статья о …?», «Какое агентство сообщило …?», «Какие документы упоминают …?» and
«Что писали 7 октября?» are answered from document metadata, each document cited with its lead.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import messages
from .citations import Citation, citation_for, passage_sentences
from .dates import MetaQuestion, _data
from .index import DocumentInfo
from .ingest import format_date
from .retrieve import Hit, Retriever
from .text import STOP_WORDS, lemmas, related, words

MENTION_COVERAGE = 0.5  # a passage "mentions" the topic when it covers this share of the topic's words


LEAD_CHARS = 160  # a lead is the opening sentences up to at least this long (a dateline alone says nothing)


def _lead(hit: Hit) -> str:
    """The opening sentences of a passage: for the first chunk of a news text, its headline and lead."""
    taken: list[str] = []
    for span in passage_sentences(hit):
        taken.append(span.text.strip())
        if sum(len(t) for t in taken) >= LEAD_CHARS:
            break
    return " ".join(taken)


def is_overview(question_without_dates: str) -> bool:
    """True when, dates removed, the question only asks what was published («Что писали …?», «Какие новости …?»)."""
    cues = tuple(_data("dates_ru.json")["news_cues"])
    content = [w for w in words(question_without_dates) if w not in STOP_WORDS and not w.isdigit()]
    return all(w.startswith(cues) for w in content)


def _first_chunks(retriever: Retriever, doc_ids: Sequence[str], k: int) -> list[Hit]:
    """A hit for the opening passage of each document (best dated first)."""
    index = retriever.index
    firsts: dict[str, Hit] = {}
    for chunk in index.chunks_of(doc_ids):
        if chunk.doc_id not in firsts or chunk.start < firsts[chunk.doc_id].chunk.start:
            firsts[chunk.doc_id] = Hit(chunk=chunk, document=index.documents[chunk.doc_id], score=1.0, relevance=1.0)
    ordered = sorted(firsts.values(), key=lambda h: (h.document.date or "", h.document.title), reverse=True)
    return ordered[:k]


def overview(retriever: Retriever, doc_ids: Sequence[str], k: int) -> tuple[str, list[Citation], list[Hit]]:
    """What the documents of a period say: each one's date and lead, cited."""
    hits = _first_chunks(retriever, doc_ids, k)
    lines, citations = [], []
    for n, hit in enumerate(hits, start=1):
        lead = _lead(hit)
        lines.append(f"{format_date(hit.document.date)}: {lead} [{n}]")
        citations.append(citation_for(n, hit, lead, 1.0))
    return "\n".join(lines), citations, hits


def about_documents(meta: MetaQuestion, hits: list[Hit]) -> tuple[str, list[Citation], list[Hit]] | None:
    """The answer to a question about the documents themselves, from the passages found for its topic."""
    if not hits:
        return None
    mentioning = [h for h in hits if h.coverage >= MENTION_COVERAGE or _tells_of(h, meta)]
    if meta.kind == "mentions":
        chosen = _distinct_documents(mentioning or hits[:1])
    else:
        chosen = mentioning[:1]  # the document the topic points to, if one tells of it at all
    if not chosen:
        return None
    lines, citations = [], []
    for n, hit in enumerate(chosen, start=1):
        info: DocumentInfo = hit.document  # type: ignore[assignment]
        date = format_date(info.date)
        if meta.kind == "date":
            text = messages.published(info.title, date)
        elif meta.kind == "source":
            text = messages.reported_by(info.title, info.source) if info.source else messages.no_source(info.title)
        else:
            text = f"«{info.title}» ({date})"
        lines.append(f"{text} [{n}]")
        citations.append(citation_for(n, hit, _best_quote(hit, meta), hit.coverage))
    if meta.kind == "mentions":
        return messages.MENTIONED_IN + "\n" + "\n".join(lines), citations, chosen
    return " ".join(lines), citations, chosen


def _tells_of(hit: Hit, meta: MetaQuestion) -> bool:
    """The passage has words of the families of more than MENTION_COVERAGE of the topic's words («статья про
    театр» is the one on «театрально-концертной площадке»; «про погоду в Твери» is not one that names Тверь)."""
    wanted = set(lemmas(" ".join(meta.words)))
    have = {part for t in lemmas(hit.chunk.text) for part in (t, *t.split("-"))}  # «театрально-концертный»
    return bool(wanted) and sum(any(related(w, h) for h in have) for w in wanted) > MENTION_COVERAGE * len(wanted)


def _distinct_documents(hits: list[Hit]) -> list[Hit]:
    """The first hit of each document, in rank order."""
    first: dict[str, Hit] = {}
    for h in hits:
        first.setdefault(h.chunk.doc_id, h)
    return list(first.values())


def _best_quote(hit: Hit, meta: MetaQuestion) -> str:
    """The passage sentence that names the topic best (the dateline or headline when nothing does)."""
    wanted = set(lemmas(" ".join(meta.words)))
    spans = passage_sentences(hit)
    if not spans:
        return hit.chunk.text[:200]
    best = max(spans, key=lambda s: (len(wanted & set(lemmas(s.text))), -s.start))
    return best.text.strip()
