"""Citations: parse [n] markers, check them against the passages, pick the quoted sentence."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .prompts import refusal_phrase, refusal_regex
from .retrieve import Hit
from .safety import instruction_spans
from .text import Span, lemmas, sentences

# [1], [1, 2], [1-3], [1][2], 【1】, [^1]
_MARKER = re.compile(r"\s*[\[【]\^?\s*(\d{1,2}(?:\s*(?:[,;]|[-–—])\s*\d{1,2})*)\s*[\]】]")
# The refusal sentence has one source, prompts/refusal.md: the prompts tell the model to write it, and
# detection below recognises it, so editing the file cannot break one without the other.
REFUSAL = refusal_phrase()
_REFUSAL_RE = refusal_regex()


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    date: str | None
    chunk_id: str
    quote: str
    score: float


def is_refusal(text: str) -> bool:
    """True when the whole text is the refusal phrase (not a longer output that merely contains it)."""
    plain = re.sub(r"\[\d+\]|[\s«»\"'.!]+", " ", text).strip()
    return bool(_REFUSAL_RE.match(plain)) and len(plain) <= len(REFUSAL) + 20


def _expand(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        bounds = re.split(r"\s*[-–—]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            out += list(range(lo, hi + 1)) if 0 < hi - lo < 10 else [lo, hi]
        elif part.isdigit():
            out.append(int(part))
    return out


def normalise_markers(text: str, valid: int) -> str:
    """Rewrite every marker as [a][b], dropping numbers outside 1..valid."""

    def repl(m: re.Match[str]) -> str:
        keep = [n for n in dict.fromkeys(_expand(m.group(1))) if 1 <= n <= valid]
        return "".join(f"[{n}]" for n in keep)

    return _MARKER.sub(repl, text)


def claims(text: str) -> list[tuple[str, list[int]]]:
    """The answer's sentences with the markers that follow each one (markers are moved to their claim)."""
    out: list[tuple[str, list[int]]] = []
    for span in sentences(re.sub(r"\s+", " ", text)):
        numbers = [int(n) for n in re.findall(r"\[(\d+)\]", span.text)]
        plain = re.sub(r"\[\d+\]", "", span.text).strip()
        if not plain and out:  # a marker stranded after the full stop belongs to the sentence before
            out[-1][1].extend(numbers)
        elif plain:
            out.append((plain, numbers))
    return out


def idf_weights(terms: Sequence[str], hits: Sequence[Hit]) -> dict[str, float]:
    """IDF of the terms over the retrieved passages (a local, cheap estimate)."""
    n = len(hits) or 1
    df = {t: sum(t in h.chunk.terms for h in hits) for t in set(terms)}
    return {t: math.log(1 + (n + 1) / (df[t] + 0.5)) for t in df}


def coverage(terms: Sequence[str], candidate: set[str], idf: dict[str, float]) -> float:
    """IDF-weighted share of `terms` found in `candidate`."""
    unique = set(terms)
    total = sum(idf.get(t, 1.0) for t in unique)
    return sum(idf.get(t, 1.0) for t in unique if t in candidate) / total if total else 0.0


def passage_sentences(hit: Hit) -> list[Span]:
    """The passage's sentences a user may be shown: none that the model is never shown either (a sentence
    that addresses a model, and what follows it in its paragraph; see safety.instruction_spans)."""
    text = hit.chunk.text
    hidden = instruction_spans(text)
    return [
        s for s in sentences(text)
        if len(s.text) > 3 and not any(start < s.end and s.start < end for start, end in hidden)
    ]  # fmt: skip


def best_sentence(hit: Hit, terms: Sequence[str], idf: dict[str, float]) -> tuple[str, float]:
    """The sentence of the passage that covers most of `terms`, with its coverage."""
    best, best_score = "", -1.0
    for span in passage_sentences(hit):
        score = coverage(terms, set(lemmas(span.text)), idf)
        if score > best_score:
            best, best_score = span.text, score
    return best, max(best_score, 0.0)


def citation_for(n: int, hit: Hit, quote: str, score: float) -> Citation:
    return Citation(
        n=n,
        doc_id=hit.chunk.doc_id,
        title=hit.document.title,
        date=hit.document.date,
        chunk_id=hit.chunk.chunk_id,
        quote=quote,
        score=round(score, 4),
    )


def verify(text: str, hits: Sequence[Hit], min_support: float = 0.2) -> tuple[str, list[Citation]]:
    """Keep only markers whose passage supports the claim; attach the best quote to each.

    Returns the answer text with unsupported or invalid markers removed, and the citations
    ordered by number. An empty list means the answer is not grounded.
    """
    text = normalise_markers(text, len(hits))
    kept: dict[int, tuple[str, float]] = {}
    rebuilt: list[str] = []
    for claim, numbers in claims(text):
        terms = lemmas(claim)
        idf = idf_weights(terms, hits)
        ok: list[int] = []
        for n in dict.fromkeys(numbers):
            hit = hits[n - 1]
            support = coverage(terms, set(hit.chunk.terms), idf)
            if support < min_support:
                continue
            quote, score = best_sentence(hit, terms, idf)
            if quote and (n not in kept or score > kept[n][1]):
                kept[n] = (quote, score)
            ok.append(n)
        rebuilt.append(claim + "".join(f" [{n}]" if i == 0 else f"[{n}]" for i, n in enumerate(ok)))
    citations = [citation_for(n, hits[n - 1], *kept[n]) for n in sorted(kept)]
    return " ".join(rebuilt), citations
