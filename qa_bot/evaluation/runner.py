"""Run the gold questions through the pipeline variants on a temporary index of their own."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..answer import Answerer
from ..errors import LLMError, UsageError
from ..ingest import ingest
from ..llm import LLMBackend, make_backend
from ..pipeline import Pipeline
from ..retrieve import Retriever
from ..settings import Settings
from . import metrics as m
from .baseline import BaselineRetriever
from .gold import GoldItem

RETRIEVAL_DEPTH = 10
MODES = ("bm25", "dense", "hybrid")
BASELINE = "baseline"
PRIMARY = "answer.key_fact_recall"


@dataclass
class RunResult:
    name: str
    mode: str
    backend: str
    metrics: dict[str, float] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)


def score(items: Sequence[dict[str, Any]], gold: Sequence[GoldItem]) -> dict[str, float]:
    """The flat metrics of one run, computed from its JSON items alone."""
    by_id = {g.id: g for g in gold}
    answerable = [(it, by_id[it["id"]]) for it in items if by_id[it["id"]].answerable]
    unanswerable = [(it, by_id[it["id"]]) for it in items if not by_id[it["id"]].answerable]
    out: dict[str, float] = {}
    for k in (1, 3, 5):
        out[f"retrieval.recall@{k}"] = m.mean([m.recall_at(it["retrieved"], set(g.sources), k) for it, g in answerable])
    out["retrieval.mrr@10"] = m.mean([m.mrr_at(it["retrieved"], set(g.sources), 10) for it, g in answerable])
    out["retrieval.ndcg@10"] = m.mean([m.ndcg_at(it["retrieved"], set(g.sources), 10) for it, g in answerable])

    def answered(it: dict[str, Any]) -> str:
        return "" if it["refused"] else it["answer"]

    out["answer.key_fact_recall"] = m.mean([float(m.has_key_fact(answered(it), g.key_facts)) for it, g in answerable])
    out["answer.token_f1"] = m.mean([m.token_f1(answered(it), g.answer) for it, g in answerable])
    out["answer.chrf"] = m.mean([m.chrf(answered(it), g.answer) for it, g in answerable])
    precisions, recalls = [], []
    for it, g in answerable:
        cited = {c["doc_id"] for c in it["citations"]} if not it["refused"] else set()
        if cited:
            precisions.append(len(cited & set(g.sources)) / len(cited))
        recalls.append(len(cited & set(g.sources)) / len(set(g.sources)))
    out["citations.precision"] = m.mean(precisions)
    out["citations.recall"] = m.mean(recalls)
    out["refusal.accuracy"] = m.mean([float(it["refused"]) for it, _ in unanswerable])
    out["refusal.false_rate"] = m.mean([float(it["refused"]) for it, _ in answerable])
    latencies = [float(it["latency_ms"]) for it in items]
    out["latency.p50_ms"] = m.percentile(latencies, 50)
    out["latency.p95_ms"] = m.percentile(latencies, 95)
    return {k: round(v, 4) for k, v in out.items()}


def _item(g: GoldItem, answer: Any, retrieved: list[str]) -> dict[str, Any]:
    return {
        "id": g.id,
        "question": g.question,
        "answer": answer.answer,
        "refused": answer.refused,
        "citations": [{"doc_id": c.doc_id, "chunk_id": c.chunk_id, "quote": c.quote} for c in answer.citations],
        "retrieved": retrieved,
        "latency_ms": round(answer.timings_ms["total"], 1),
        "backend": answer.backend,
        "notice": answer.notice,
    }


def run_one(
    name: str,
    answerer: Answerer,
    retriever: Retriever | BaselineRetriever,
    mode: str,
    gold: Sequence[GoldItem],
    tick: Callable[[], None] | None = None,
) -> RunResult:
    result = RunResult(name=name, mode=mode, backend=answerer.backend_label)
    for g in gold:
        answer = answerer.answer(g.question, list(g.history), mode=None if mode == BASELINE else mode)  # type: ignore[arg-type]
        query = answer.search_query or answer.question
        hits = retriever.search(query, RETRIEVAL_DEPTH, None if mode == BASELINE else mode)  # type: ignore[arg-type]
        # what the answer was given first (a date filter or a metadata lookup narrows it), then the deeper search
        shown = [h.chunk.chunk_id for h in answer.passages]
        ranked = [h.chunk.doc_id for h in answer.passages] + [h.chunk.doc_id for h in hits if h.chunk.chunk_id not in shown]
        result.items.append(_item(g, answer, ranked[:RETRIEVAL_DEPTH]))
        if tick:
            tick()
    result.metrics = score(result.items, gold)
    return result


def evaluate(
    settings: Settings,
    gold: Sequence[GoldItem],
    folders: Sequence[Path],
    *,
    modes: Sequence[str] = ("hybrid",),
    backends: Sequence[str] = ("extractive",),
    baseline: bool = False,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> list[RunResult]:
    """Index `folders` into a temporary index and run every (backend, mode) pair, plus the baseline."""
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        raise UsageError(f"Unknown retrieval mode(s): {', '.join(unknown)}.", f"Use {', '.join(MODES)} or all.")
    with tempfile.TemporaryDirectory(prefix="qa-bot-eval-") as tmp:
        local = settings.model_copy(update={"index_dir": Path(tmp) / "index"})
        pipeline = Pipeline(local)
        pipeline.update(list(folders))
        retriever = Retriever(pipeline.index, pipeline.embedder, dense_weight=local.hybrid_dense_weight)
        made: list[tuple[str, LLMBackend | None, LLMError | None]] = []
        for name in backends:
            backend, reason = make_backend(local, name)
            made.append((name, backend, reason))
        base = BaselineRetriever(ingest(folders).documents, pipeline.embedder()) if baseline else None
        runs_total = len(made) * (len(modes) + (1 if base else 0)) * len(gold)
        if on_total:
            on_total(runs_total)
        tick = (lambda: progress(1)) if progress else None
        results: list[RunResult] = []
        for name, backend, reason in made:
            answerer = Answerer(retriever, backend, local, fallback_reason=reason)
            for mode in modes:
                results.append(run_one(f"{mode}/{name}", answerer, retriever, mode, gold, tick))
            if base is not None:
                plain = Answerer(base, backend, local, fallback_reason=reason)  # type: ignore[arg-type]
                results.append(run_one(f"{BASELINE}/{name}", plain, base, BASELINE, gold, tick))
        return results
