"""When to say «В документах нет ответа»: a small logistic model over the evidence, fitted on the dev split.

The evidence (all in 0..1, general to any collection): how much of the question the chosen sentences
and the best sentence cover, the best encoder similarity among the chosen sentences, whether the answer
holds the asked-for kind (a number that counts what was asked, a name beside the asked role: slots.py),
how much of the question the best passage covers, how much of the question's words the collection does
not know at all, whether the question is in Russian, and whether the answer's sentences and their
neighbours miss what the question is about (its event verb for when/who/where, the thing whose name is
asked, everything but its names). The weights live in `qa_bot/data/refusal_model.json`, written by
`python -m qa_bot.evaluation.calibrate` from the dev splits of the gold files, each weight kept to the
direction its evidence means; the test splits are never used for it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib.resources import files

MODEL_FILE = "refusal_model.json"
LEXICAL = "lexical"  # the model without the encoder feature, for encoders it was not fitted with


@dataclass(frozen=True)
class Evidence:
    coverage: float
    own_coverage: float
    similarity: float
    type_ok: float
    passage_coverage: float
    unknown: float
    russian: float
    names: float = 1.0  # share of the question's proper names that the answer's documents mention
    missing: float = 0.0  # question words the collection uses that the answer's sentences and neighbours lack
    topic_only: float = 0.0  # 1: the answer shares the question's names and nothing of what it asks about them
    of_other: float = 0.0  # 1: the answer states the asked attribute of something else (a rule, not a feature)
    event_missing: float = 0.0  # 1: a when/who/where question's event (its verb) is not near the answer
    focus_missing: float = 0.0  # 1: the thing whose name is asked is not near the answer
    not_yet: float = 0.0  # 1: a past event asked of, the answer tells it only as to come (a rule, not a feature)
    not_most: float = 0.0  # 1: the question asks for the most (first, last), the answer does not say so (a rule)
    other_time: float = 0.0  # 1: the question names a month or year, the answer only others (a rule)
    other_kind: float = 0.0  # 1: the answer is of another one of the asked thing, or names it only in contrast (a rule)

    def vector(self, names: list[str]) -> list[float]:
        values = asdict(self)
        return [values[n] for n in names]


@dataclass(frozen=True)
class RefusalModel:
    features: list[str]
    weights: list[float]
    bias: float
    threshold: float

    def probability(self, evidence: Evidence) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, evidence.vector(self.features), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @staticmethod
    def refused_by_rule(evidence: Evidence) -> bool:
        """Refusals that need no model: not one word of a Russian question in the answer; the question
        names what the answer's documents never mention, or asks an attribute the answer gives of something
        else (the answer is about something else), or asks what has happened of what the answer says is still
        to come, or asks which is the most (the first, the last) and the answer says of nothing that it is,
        or asks of a month or year and the answer tells of others, or names one thing and the answer tells of
        another of its kind or names it only in contrast («в отличие от …»)."""
        return (
            bool(evidence.russian and evidence.coverage == 0)
            or evidence.names < 1
            or bool(evidence.of_other)
            or bool(evidence.not_yet)
            or bool(evidence.not_most)
            or bool(evidence.other_time)
            or bool(evidence.other_kind)
        )

    def answers(self, evidence: Evidence) -> bool:
        return not self.refused_by_rule(evidence) and self.probability(evidence) >= self.threshold


@lru_cache(maxsize=1)
def _models() -> dict[str, dict]:
    return json.loads(files("qa_bot").joinpath("data", MODEL_FILE).read_text(encoding="utf-8"))["models"]


def model_for(embedding_model: str) -> RefusalModel:
    """The model fitted with this encoder's similarities, else the lexical one."""
    models = _models()
    raw = models.get(embedding_model) or models[LEXICAL]
    return RefusalModel(raw["features"], raw["weights"], raw["bias"], raw["threshold"])
