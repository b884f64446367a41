"""The refusal model's fit (qa_bot/evaluation/calibrate.py) on evidence drawn at random: weights keep the
direction their evidence means, the threshold keeps false refusals within the target, and the fitted
model refuses what its evidence says is unanswerable."""

from __future__ import annotations

import numpy as np

from qa_bot.evaluation.calibrate import MAX_FALSE_REFUSALS, choose_threshold, fit_signed
from qa_bot.refusal import Evidence, RefusalModel


def _rows(n: int, seed: int = 7) -> list[tuple[Evidence, int]]:
    """Answerable questions cover more and hold the asked kind more often; `unknown` is noise whose
    fitted weight may come out either way, `missing` is pure noise made to lean the wrong way."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        coverage = float(np.clip(rng.normal(0.65 if label else 0.4, 0.15), 0, 1))
        type_ok = float(rng.random() < (0.9 if label else 0.4))
        missing = float(np.clip(rng.normal(0.3 if label else 0.2, 0.1), 0, 1))  # against its sign (-1)
        evidence = Evidence(
            coverage=coverage, own_coverage=coverage, similarity=0.0, type_ok=type_ok, passage_coverage=coverage,
            unknown=float(rng.random() * 0.2), russian=1.0, missing=missing,
        )  # fmt: skip
        rows.append((evidence, label))
    return rows


def test_the_fit_keeps_each_weight_to_its_sign_and_false_refusals_within_the_target() -> None:
    rows = _rows(400)
    model = fit_signed(rows, ["own_coverage", "type_ok", "missing"])
    weights = dict(zip(model["features"], model["weights"], strict=True))
    assert "missing" not in weights  # fitted against its meaning: left out
    assert weights["own_coverage"] > 0 and weights["type_ok"] > 0
    assert model["dev"]["false_refusals"] <= MAX_FALSE_REFUSALS
    assert model["dev"]["refused_unanswerable"] > 0.3  # it does refuse: not a threshold at zero
    fitted = RefusalModel(model["features"], model["weights"], model["bias"], model["threshold"])
    held_out = _rows(400, seed=8)
    refused = [not fitted.answers(e) for e, label in held_out if label == 0]
    answered = [fitted.answers(e) for e, label in held_out if label == 1]
    assert np.mean(refused) > 0.3 and np.mean(answered) > 0.85


def test_the_threshold_sits_midway_in_the_gap_after_the_allowed_false_refusals() -> None:
    p = np.array([0.1, 0.2, 0.3] + [0.5 + i / 100 for i in range(40)])
    y = np.array([0, 0, 0] + [1] * 40)
    allowed = int(MAX_FALSE_REFUSALS * 40)  # two answerable questions may be refused
    threshold = choose_threshold(p, y)
    assert np.sum(p[y == 1] < threshold) == allowed
    assert threshold == (0.5 + (allowed - 1) / 100 + 0.5 + allowed / 100) / 2
    assert choose_threshold(p[:3], y[:3]) == 0.5  # no answerable question: nothing to keep within
