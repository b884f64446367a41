"""Metric functions over plain values, so anyone can recompute them from the JSON items."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from ..text import normalize_for_match

_MARKERS = re.compile(r"\[\d+\]")


def answer_text(answer: str) -> str:
    """The answer without citation markers, normalised (lower case, ё→е, no punctuation)."""
    return normalize_for_match(_MARKERS.sub(" ", answer))


def has_key_fact(answer: str, key_facts: Sequence[str]) -> bool:
    text = answer_text(answer)
    return any(normalize_for_match(f) and normalize_for_match(f) in text for f in key_facts)


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = answer_text(prediction).split(), answer_text(reference).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def chrf(prediction: str, reference: str, n: int = 6, beta: float = 2.0) -> float:
    """chrF (Popović 2015): character n-gram F-beta, n = 1..6, spaces removed, averaged over n."""
    pred, ref = answer_text(prediction).replace(" ", ""), answer_text(reference).replace(" ", "")
    precisions, recalls = [], []
    for order in range(1, n + 1):
        p = Counter(pred[i : i + order] for i in range(len(pred) - order + 1))
        r = Counter(ref[i : i + order] for i in range(len(ref) - order + 1))
        if not p or not r:
            continue
        match = sum((p & r).values())
        precisions.append(match / sum(p.values()))
        recalls.append(match / sum(r.values()))
    if not precisions:
        return 0.0
    prec, rec = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if prec == 0 and rec == 0:
        return 0.0
    return (1 + beta**2) * prec * rec / (beta**2 * prec + rec)


def recall_at(retrieved: Sequence[str], gold: set[str], k: int) -> float:
    return float(any(d in gold for d in retrieved[:k]))


def mrr_at(retrieved: Sequence[str], gold: set[str], k: int) -> float:
    for rank, doc in enumerate(retrieved[:k], start=1):
        if doc in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at(retrieved: Sequence[str], gold: set[str], k: int) -> float:
    """Binary-gain nDCG over the ranked passages; a gold document gains only at its first passage."""
    seen: set[str] = set()
    dcg = 0.0
    for rank, doc in enumerate(retrieved[:k], start=1):
        if doc in gold and doc not in seen:
            dcg += 1.0 / math.log2(rank + 1)
        seen.add(doc)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(gold), k) + 1))
    return dcg / ideal if ideal else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
