"""The extractive answerer: no LLM; the retrieved sentences that best answer the question, cited."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .citations import Citation, citation_for, coverage, idf_weights, passage_sentences
from .retrieve import Hit
from .text import lemmas

# Questions that want a number or a date: prefer sentences that have digits.
_WANTS_NUMBER = re.compile(
    r"\b(сколько|скольк\w+|на\s+сколько|какой\s+процент|каков\w*\s+(?:объем|рост|доля)|когда|в\s+каком\s+году|"
    r"до\s+какого|how\s+many|how\s+much|what\s+percent|when)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Candidate:
    hit_rank: int  # 1-based, the citation number
    hit: Hit
    text: str
    score: float
    position: tuple[str, int]


def _candidates(question_terms: Sequence[str], context_terms: Sequence[str], hits: Sequence[Hit],
                wants_number: bool) -> list[Candidate]:  # fmt: skip
    idf = idf_weights(list(question_terms) + list(context_terms), hits)
    top = max((h.score for h in hits), default=1.0) or 1.0
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for rank, hit in enumerate(hits, start=1):
        for span in passage_sentences(hit):
            position = (hit.chunk.doc_id, hit.chunk.start + span.start)
            if position in seen:  # the same sentence in an overlapping chunk
                continue
            seen.add(position)
            terms = set(lemmas(span.text))
            score = coverage(question_terms, terms, idf)
            if context_terms:
                score = 0.75 * score + 0.25 * coverage(context_terms, terms, idf)
            if wants_number and _DIGIT.search(span.text):
                score *= 1.25
            if span.text.rstrip().endswith(":"):  # a speaker caption introduces, it does not answer
                score *= 0.8
            score = score * (0.85 + 0.15 * hit.score / top)
            out.append(Candidate(rank, hit, span.text, score, position))
    return sorted(out, key=lambda c: (-c.score, c.hit_rank, c.position))


def extract_answer(
    question: str,
    hits: Sequence[Hit],
    *,
    context: str = "",
    max_sentences: int = 2,
    min_score: float = 0.3,
) -> tuple[str, list[Citation]] | None:
    """(answer text with [n] markers, citations), or None when no sentence answers well enough.

    `context` is the previous question of a follow-up: it helps choose sentences, with less weight.
    """
    question_terms = lemmas(question)
    context_terms = [t for t in lemmas(context) if t not in question_terms]
    if not hits or not (question_terms or context_terms):
        return None
    ranked = _candidates(question_terms or context_terms, context_terms, hits, bool(_WANTS_NUMBER.search(question)))
    if not ranked or ranked[0].score < min_score:
        return None
    chosen = [ranked[0]]
    for cand in ranked[1:]:
        if len(chosen) >= max_sentences or cand.score < 0.8 * ranked[0].score:
            break
        if cand.text not in {c.text for c in chosen}:
            chosen.append(cand)
    chosen.sort(key=lambda c: c.position)  # read in document order
    parts = [f"{c.text.rstrip()} [{c.hit_rank}]" for c in chosen]
    citations: dict[int, Citation] = {}
    for c in chosen:
        citations.setdefault(c.hit_rank, citation_for(c.hit_rank, c.hit, c.text, c.score))
    return " ".join(parts), [citations[n] for n in sorted(citations)]
