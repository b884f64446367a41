"""The extractive answerer: no LLM; the retrieved sentences that best answer the question, cited."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .citations import Citation, citation_for, idf_weights, passage_sentences
from .retrieve import Hit
from .text import lemmas

# Questions that want a number or a date: prefer sentences that have one.
_WANTS_NUMBER = re.compile(
    r"(?<!\w)(сколько|скольк\w+|скока|на\s+сколько|когда|в\s+каком\s+году|до\s+какого\s+года|"
    r"как\w*\s+(?:процент\w*|сумм\w*|доллар\w*|дол(?:я|и|ю|е|ей|ям|ями|ях)|объ[её]м\w*)|"
    r"how\s+many|how\s+much|what\s+percent|when)(?!\w)",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:тысяч|тыс|млн|миллион|миллиард|полмиллиард|полумиллиард|десят|сотн|процент)", re.IGNORECASE
)
_ENDS_LIKE_SENTENCE = re.compile(r"[.!?…\"»)]\s*$")
# Units that a "how many / which year" question asks in ("в каком году", "сколько лет", "сколько
# человек"): a sentence answers in them only next to a number ("18 лет", "в 2030 году"), not by
# "в этом году", which news sentences are full of.
_ASKED_UNIT = re.compile(r"(?<!\w)(?:как\w*|скольк\w*)\s+(год\w*|лет|человек\w*)(?!\w)", re.IGNORECASE)
_UNITS = {
    "год": re.compile(r"\d\S*\s+(?:год|года|году|годом|годы|годов|годах|лет|гг?\.?)(?!\w)", re.IGNORECASE),
    "человек": re.compile(r"\d\S*\s+(?:тыс\.?\s+|млн\s+)?(?:человек|чел\.)", re.IGNORECASE),
}


@dataclass(frozen=True)
class Candidate:
    hit_rank: int  # 1-based: the citation number
    hit: Hit
    text: str
    terms: frozenset[str]  # the sentence's lemmas
    context: frozenset[str]  # lemmas of the sentences around it
    weight: float  # multiplier from the passage rank and sentence shape
    position: tuple[str, int]
    has_number: bool


def _candidates(hits: Sequence[Hit], asked_units: frozenset[str] = frozenset()) -> list[Candidate]:
    top = max((h.score for h in hits), default=1.0) or 1.0
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for rank, hit in enumerate(hits, start=1):
        spans = passage_sentences(hit)
        terms = [_counted_terms(s.text, asked_units) for s in spans]
        for i, span in enumerate(spans):
            position = (hit.chunk.doc_id, hit.chunk.start + span.start)
            if position in seen:  # the same sentence in an overlapping chunk
                continue
            seen.add(position)
            around = frozenset().union(*terms[max(0, i - 1) : i], *terms[i + 1 : i + 2]) - terms[i]
            weight = 0.6 + 0.4 * hit.score / top
            if not _ENDS_LIKE_SENTENCE.search(span.text) or span.text.rstrip().endswith(":"):
                weight *= 0.75  # captions and headings introduce, they do not answer
            has_number = bool(_NUMBER.search(span.text))
            out.append(Candidate(rank, hit, span.text, terms[i], around, weight, position, has_number))
    return out


def _asked_units(question: str) -> frozenset[str]:
    return frozenset(u for m in _ASKED_UNIT.finditer(question) for u in _UNITS if lemmas(m.group(1)) == [u])


def _counted_terms(sentence: str, asked_units: frozenset[str]) -> frozenset[str]:
    """The sentence's lemmas, without an asked unit that no number goes with."""
    terms = frozenset(lemmas(sentence))
    return terms - {u for u in asked_units if u in terms and not _UNITS[u].search(sentence)}


def _gain(cand: Candidate, wanted: dict[str, float], covered: set[str]) -> float:
    """IDF mass of not-yet-covered question lemmas in the sentence (neighbours count half)."""
    total = sum(wanted.values()) or 1.0
    own = sum(w for t, w in wanted.items() if t in cand.terms and t not in covered)
    near = sum(w for t, w in wanted.items() if t in cand.context and t not in cand.terms and t not in covered)
    return cand.weight * (own + 0.5 * near) / total


def extract_answer(
    question: str,
    hits: Sequence[Hit],
    *,
    context: str = "",
    question_terms: Sequence[str] | None = None,
    max_sentences: int = 2,
    min_score: float = 0.2,
    min_gain: float = 0.12,
) -> tuple[str, list[Citation]] | None:
    """(answer text with [n] markers, citations), or None when no sentence answers well enough.

    Sentences are chosen greedily: the best one, then one more only if it covers enough of the
    question that the first left out. `context` (the previous question of a follow-up) counts at
    a third of the weight of the question's own words.
    """
    question_terms = list(question_terms) if question_terms is not None else lemmas(question)
    context_terms = [t for t in lemmas(context) if t not in question_terms]
    if not hits or not (question_terms or context_terms):
        return None
    idf = idf_weights(question_terms + context_terms, hits)
    wanted = {t: idf[t] for t in question_terms} | {t: idf[t] / 3 for t in context_terms}
    if not question_terms:
        wanted = {t: idf[t] for t in context_terms}
    wants_number = bool(_WANTS_NUMBER.search(question))
    candidates = _candidates(hits, _asked_units(question))
    chosen: list[Candidate] = []
    covered: set[str] = set()
    for _ in range(max_sentences):
        # a question asking "how many / when" is answered first by a sentence that holds a number
        scored = [
            (c, _gain(c, wanted, covered))
            for c in candidates
            if c not in chosen and (chosen or not wants_number or c.has_number)
        ]
        if not scored:
            break
        best, gain = max(scored, key=lambda cg: (cg[1], -cg[0].hit_rank, -cg[0].position[1]))
        if gain < (min_score if not chosen else min_gain):
            break
        chosen.append(best)
        covered |= best.terms
    if not chosen:
        return None
    citations: dict[int, Citation] = {}
    for c in chosen:  # in the order chosen: a passage's quote is its best sentence
        citations.setdefault(c.hit_rank, citation_for(c.hit_rank, c.hit, c.text, _gain(c, wanted, set())))
    chosen.sort(key=lambda c: (c.hit_rank, c.position))  # the answer reads in document order
    return " ".join(f"{c.text.rstrip()} [{c.hit_rank}]" for c in chosen), [citations[n] for n in sorted(citations)]
