"""Stage 4b: the lexical index: BM25 (bm25s) over Russian lemmas (pymorphy3)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from .errors import IndexCorruptError

logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex:
    """BM25 over pre-lemmatised passages; rows are in the order the token lists were given."""

    FOLDER = "bm25"

    def __init__(self, model: bm25s.BM25 | None, size: int) -> None:
        self.model = model
        self.size = size

    @classmethod
    def build(cls, corpus_tokens: Sequence[Sequence[str]]) -> LexicalIndex:
        if not corpus_tokens:
            return cls(None, 0)
        model = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        model.index([list(tokens) for tokens in corpus_tokens], show_progress=False)
        return cls(model, len(corpus_tokens))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every row for the query's lemmas (zeros when no lemma is known)."""
        if self.model is None:
            return np.zeros(0, dtype=np.float32)
        ids = self.model.get_tokens_ids(list(query_tokens))
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores_from_ids(ids), dtype=np.float32)

    def knows(self, token: str) -> bool:
        return self.model is not None and token in self.model.vocab_dict

    @property
    def vocabulary(self) -> list[str]:
        return [t for t in self.model.vocab_dict if t] if self.model is not None else []

    def document_frequency(self) -> dict[str, int]:
        """How many rows contain each term."""
        if self.model is None:
            return {}
        df = np.diff(np.asarray(self.model.scores["indptr"]))
        return {t: int(df[i]) for t, i in self.model.vocab_dict.items() if t and i < len(df)}

    def search(self, query_tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the k best rows, best first, rows with score 0 left out."""
        scores = self.scores(query_tokens)
        if not len(scores):
            return scores, np.zeros(0, dtype=np.int64)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return scores[top], top.astype(np.int64)

    def save(self, folder: Path) -> None:
        if self.model is None:
            return
        self.model.save(str(folder / self.FOLDER), show_progress=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        if size == 0:
            return cls(None, 0)
        try:
            model = bm25s.BM25.load(str(folder / cls.FOLDER), show_progress=False, verbosity=0)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(
                f"The BM25 index in {folder / cls.FOLDER} cannot be read ({exc}).",
                "Rebuild it: qa-bot index --rebuild",
            ) from exc
        return cls(model, size)
