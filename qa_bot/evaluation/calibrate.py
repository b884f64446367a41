"""Fit the refusal model (qa_bot/refusal.py) on the dev splits of the gold files; the test splits are never read.

    python -m qa_bot.evaluation.calibrate --model e5-small --model navec \
        --set eval/gold.jsonl=seeds,eval/distractors --set eval/gold_encyclopedia.jsonl=eval/encyclopedia

Two collections of different kinds (news articles with look-alikes, encyclopedic articles) by default, so
that the weights do not learn one collection's scale. For each embedding model and collection it indexes
the documents into a temporary folder, answers every dev question
with the refusal policy switched off, records the evidence of the extractive answer, and fits a
logistic regression (answerable = 1) on standardised features with a little L2, each weight kept to the
direction its evidence means (SIGNS: a feature fitted against it is left out); the threshold keeps false
refusals on dev at or under the target while refusing as many unanswerable ones as it can, midway between
the last answerable question it refuses and the first it keeps. Questions answered from the documents'
metadata, and those the hard rules refuse (refusal.py), are left out: the model is never asked about them.
A lexical model without the encoder feature is fitted too (for encoders not calibrated here).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from ..answer import Answerer
from ..dates import metadata_question
from ..pipeline import Pipeline
from ..questions import is_russian
from ..refusal import LEXICAL, MODEL_FILE, Evidence
from ..retrieve import Retriever
from ..settings import Settings
from .gold import GoldItem, load_gold, select_split

FEATURES = [f for f in Evidence.__dataclass_fields__ if f not in ("names", "of_other", "not_yet", "not_most", "other_time", "other_kind")]  # hard rules (refusal.py)
# the direction each feature may push towards answering (+1), refusing (-1), or either (0): more of the
# question covered never argues for a refusal, a missing part never for an answer; a weight against its sign
# only fits the dev questions' accidents (features moving together): that feature is left out, the rest refit
SIGNS = {
    "coverage": 1, "own_coverage": 1, "similarity": 1, "type_ok": 1, "passage_coverage": 1, "russian": 0,
    "unknown": -1, "missing": -1, "topic_only": -1, "event_missing": -1, "focus_missing": -1,
}  # fmt: skip
DEFAULT_SETS = ["eval/gold.jsonl=seeds,eval/distractors", "eval/gold_encyclopedia.jsonl=eval/encyclopedia"]
MAX_FALSE_REFUSALS = 0.05
L2 = 1.0  # ridge penalty of the fit (features are 0..1)


def collect(settings: Settings, items: list[GoldItem], folders: list[Path]) -> list[tuple[Evidence, int]]:
    """(evidence, label) of every dev item that reaches the refusal policy."""
    out: list[tuple[Evidence, int]] = []
    with tempfile.TemporaryDirectory(prefix="qa-bot-calibrate-") as tmp:
        local = settings.model_copy(update={"index_dir": Path(tmp) / "index"})
        pipeline = Pipeline(local)
        pipeline.update(folders)
        retriever = Retriever(pipeline.index, pipeline.embedder, dense_weight=local.hybrid_dense_weight)
        answerer = Answerer(retriever, None, local)
        for g in items:
            text = g.question
            if is_russian(text) and metadata_question(text) is not None:
                continue  # answered from the documents' metadata; the policy is never asked
            query, context, hits = answerer._retrieve(text, list(g.history), local.top_k, None)
            if is_russian(query) and retriever.unknown_names(query):
                continue  # refused by the unknown-name rule before the policy is asked
            found = answerer.extraction(text, hits, context)
            if found is None:
                continue
            evidence = answerer.evidence(text, hits, found)
            if answerer.refusal_model.refused_by_rule(evidence):
                continue
            out.append((evidence, int(g.answerable)))
    return out


def fit_signed(rows: list[tuple[Evidence, int]], features: list[str], l2: float = L2) -> dict:
    """`fit`, leaving out one at a time the feature whose weight goes most against its sign (SIGNS)."""
    features = list(features)
    while True:
        model = fit(rows, features, l2)
        against = {f: SIGNS.get(f, 0) * w for f, w in zip(features, model["weights"], strict=True)}
        worst = min(against, key=lambda f: against[f])
        if against[worst] >= 0:
            return model
        features.remove(worst)


def fit(rows: list[tuple[Evidence, int]], features: list[str], l2: float = L2) -> dict:
    """Logistic regression by Newton's method with an L2 penalty (not on the bias); threshold from dev.

    The features are standardised for the fit, so that the penalty does not shrink a feature for its narrow
    range (encoder cosines vary over a few hundredths); the weights are written back in raw units."""
    raw = np.array([e.vector(features) for e, _ in rows], dtype=np.float64)
    y = np.array([label for _, label in rows], dtype=np.float64)
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a constant feature stays as it is
    x = (raw - mean) / scale
    xb = np.hstack([x, np.ones((len(y), 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.eye(xb.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(xb @ w)))
        gradient = xb.T @ (p - y) + penalty @ w
        hessian = xb.T @ (xb * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    p = 1 / (1 + np.exp(-(xb @ w)))
    threshold = choose_threshold(p, y)
    refused_unanswerable = float(np.mean(p[y == 0] < threshold)) if (y == 0).any() else 0.0
    false_refusals = float(np.mean(p[y == 1] < threshold)) if (y == 1).any() else 0.0
    weights = w[:-1] / scale
    bias = w[-1] - float(weights @ mean)
    return {
        "features": features,
        "weights": [round(float(v), 4) for v in weights],
        "bias": round(float(bias), 4),
        "threshold": round(threshold, 4),
        "dev": {"rows": len(y), "refused_unanswerable": round(refused_unanswerable, 3),
                "false_refusals": round(false_refusals, 3)},
    }  # fmt: skip


def choose_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """A threshold whose false-refusal rate on dev stays within MAX_FALSE_REFUSALS, midway in its gap."""
    positives = np.sort(p[y == 1])
    if not len(positives):
        return 0.5
    allowed = int(np.floor(MAX_FALSE_REFUSALS * len(positives)))
    # refusing below positives[allowed] refuses exactly `allowed` answerable questions; the bar sits midway
    # between the last answerable question refused and the first one kept, not against the latter
    below = positives[allowed - 1] if allowed else max(0.0, positives[0] - 0.02)
    return float((below + positives[allowed]) / 2)


def parse_set(value: str) -> tuple[Path, list[Path]]:
    """«GOLD=DIR,DIR» -> (gold file, document folders)."""
    gold, _, folders = value.partition("=")
    if not folders:
        raise argparse.ArgumentTypeError(f"expected GOLD=DIR[,DIR...], got {value!r}")
    return Path(gold), [Path(f) for f in folders.split(",") if f]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="sets", type=parse_set, action="append", default=None,
                        help="GOLD=DIR[,DIR...]: a gold file and the documents it asks about (repeatable)")  # fmt: skip
    parser.add_argument("--model", action="append", default=None, help="EMBEDDING_MODEL to calibrate (repeatable)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "data" / MODEL_FILE)
    args = parser.parse_args(argv)
    sets = args.sets or [parse_set(v) for v in DEFAULT_SETS]
    models: dict[str, dict] = {}
    lexical_rows: list[tuple[Evidence, int]] = []
    for name in args.model or ["e5-small", "navec"]:
        rows = [r for gold, folders in sets for r in collect(Settings(embedding_model=name),
                                                             select_split(load_gold(gold), "dev"), folders)]  # fmt: skip
        models[name] = fit_signed(rows, FEATURES)
        lexical_rows = lexical_rows or rows
        print(name, json.dumps(models[name], ensure_ascii=False))
    models[LEXICAL] = fit_signed(lexical_rows, [f for f in FEATURES if f != "similarity"])
    print(LEXICAL, json.dumps(models[LEXICAL], ensure_ascii=False))
    described = "; ".join(f"{g} over {', '.join(map(str, fs))}" for g, fs in sets)
    payload = {
        "_note": f"Written by python -m qa_bot.evaluation.calibrate from the dev splits of {described}; "
        "do not edit by hand. Features: " + ", ".join(FEATURES) + " (see qa_bot/refusal.py).",
        "models": models,
    }
    args.out.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()

