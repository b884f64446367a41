"""Stage 4b: the lexical index: BM25 over Russian lemmas (pymorphy3), one postings file per segment.

Each segment of the embedded index (segments.py) keeps compressed-row postings of its own chunks:
for every lemma the local rows holding it and their BM25 term weight
`tf / (tf + k1 * (1 - b + b * dl / avgdl))` (Lucene's formula, as bm25s computes it), with `avgdl`
of the whole collection when the segment was written. The inverse document frequency is applied at
query time from the document frequencies of all segments, so adding or dropping one document writes
only a small new segment instead of re-indexing every chunk. Arrays are memory-mapped: a question
reads only the postings of its own lemmas.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from .errors import IndexCorruptError

K1 = 1.2
B = 0.75
SEARCH_COST = 16  # one binary search in a postings list costs about this many sequential additions


def idf(n: int, df: int) -> float:
    """Lucene's BM25 idf for a lemma found in `df` of `n` chunks."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class Postings:
    """BM25 postings of one segment: lemma -> (local rows, term weights without idf)."""

    VOCABULARY = "vocabulary.json"
    # raw little-endian files, name.bin; `peak` is each lemma's largest weight (for pruning)
    ARRAYS: ClassVar[dict[str, str]] = {"indptr": "<i8", "rows": "<i4", "weights": "<f4", "peak": "<f4"}

    def __init__(
        self, vocabulary: list[str], indptr: np.ndarray, rows: np.ndarray, weights: np.ndarray, peak: np.ndarray
    ) -> None:
        self.vocabulary = vocabulary
        self.term_id = {t: i for i, t in enumerate(vocabulary)}
        self.indptr = indptr
        self.rows = rows
        self.weights = weights
        self.peak = peak

    @classmethod
    def build(cls, corpus: Sequence[Sequence[str]], avgdl: float) -> Postings:
        """Postings of `corpus` (row i = corpus[i], a chunk's lemmas in order) for a collection whose
        mean chunk length is `avgdl` lemmas."""
        term_id: dict[str, int] = {}
        lengths = np.fromiter((len(tokens) for tokens in corpus), dtype=np.int64, count=len(corpus))
        tokens = np.fromiter(
            (term_id.setdefault(t, len(term_id)) for chunk in corpus for t in chunk),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        n = max(len(corpus), 1)
        rows_of_tokens = np.repeat(np.arange(len(corpus), dtype=np.int64), lengths)
        keys, tf = np.unique(tokens * n + rows_of_tokens, return_counts=True)  # by lemma, then row
        terms, rows = np.divmod(keys, n)
        norm = K1 * (1 - B + B * lengths[rows] / max(avgdl, 1e-9))
        weights = (tf / (tf + norm)).astype(np.float32)
        indptr = np.zeros(len(term_id) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(term_id)), out=indptr[1:])
        peak = np.maximum.reduceat(weights, indptr[:-1]) if len(weights) else np.zeros(0, np.float32)
        return cls(list(term_id), indptr, rows.astype(np.int32), weights, peak.astype(np.float32))

    def document_frequency(self, term: str) -> int:
        i = self.term_id.get(term)
        return 0 if i is None else int(self.indptr[i + 1] - self.indptr[i])

    def frequencies(self) -> dict[str, int]:
        df = np.diff(self.indptr)
        return {t: int(df[i]) for i, t in enumerate(self.vocabulary)}

    def scores(self, weighted_terms: Iterable[tuple[str, float]], size: int) -> np.ndarray:
        """BM25 score of each of the segment's `size` rows; `weighted_terms` are (lemma, idf), a lemma
        given twice counting twice (as bm25s does)."""
        rows: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for term, w in weighted_terms:
            i = self.term_id.get(term)
            if i is None:
                continue
            lo, hi = int(self.indptr[i]), int(self.indptr[i + 1])
            rows.append(self.rows[lo:hi])
            weights.append(self.weights[lo:hi] * np.float32(w))
        if not rows:
            return np.zeros(size, dtype=np.float32)
        return np.bincount(np.concatenate(rows), np.concatenate(weights), minlength=size).astype(np.float32)

    def top(
        self,
        weighted_terms: Iterable[tuple[str, float]],
        k: int,
        size: int,
        dead: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the k best rows with a positive score, best first (ties: lower row first),
        as ranking `scores()` would give them, without scoring every row.

        `dead` (a boolean mask over the rows) leaves rows out; `allowed` (sorted rows) keeps only those.
        Lemmas are added rarest first (MaxScore): once the k-th best partial score exceeds what the
        remaining, more common lemmas could add at most (idf times their largest weight), no row
        outside the candidates can reach the top k, and only candidates that still could are
        completed by binary search in the common lemmas' postings.
        """
        summed: dict[int, float] = {}
        for term, w in weighted_terms:
            i = self.term_id.get(term)
            if i is not None:
                summed[i] = summed.get(i, 0.0) + w
        if not summed or k < 1:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        plan = sorted(summed.items(), key=lambda iw: -iw[1] * float(self.peak[iw[0]]))
        if allowed is not None:
            rows = allowed[~dead[allowed]] if dead is not None else allowed
            return _best(rows, self._complete(rows, np.zeros(len(rows), np.float32), plan), k)
        bounds = [w * float(self.peak[i]) for i, w in plan]
        acc = np.zeros(size, dtype=np.float32)
        seen: list[np.ndarray] = []
        touched = 0
        for j, (i, w) in enumerate(plan):
            lo, hi = int(self.indptr[i]), int(self.indptr[i + 1])
            acc[self.rows[lo:hi]] += self.weights[lo:hi] * np.float32(w)
            seen.append(self.rows[lo:hi])
            touched += hi - lo
            rest = sum(bounds[j + 1 :])
            if not rest:
                continue  # nothing left to prune
            if len(seen) == 1:
                cand = np.asarray(seen[0])
            elif touched > size // 8:
                cand = np.flatnonzero(acc)  # one pass over the rows beats sorting this many
            else:
                cand = np.unique(np.concatenate(seen))
            if dead is not None:
                cand = cand[~dead[cand]]
            if len(cand) < k:
                continue
            theta = float(np.partition(acc[cand], len(cand) - k)[len(cand) - k])
            if theta > rest * (1 + 1e-5) + 1e-6:  # float32 sums: a margin, never a wrong prune
                hopeful = cand[acc[cand] + rest * (1 + 1e-5) + 1e-6 > theta]
                left = sum(int(self.indptr[i2 + 1] - self.indptr[i2]) for i2, _ in plan[j + 1 :])
                if len(hopeful) * SEARCH_COST < left:  # binary searches cheaper than adding the rest
                    return _best(hopeful, self._complete(hopeful, acc[hopeful], plan[j + 1 :]), k)
        cand = np.flatnonzero(acc)
        if dead is not None:
            cand = cand[~dead[cand]]
        return _best(cand, acc[cand], k)

    def _complete(self, rows: np.ndarray, partial: np.ndarray, plan: list[tuple[int, float]]) -> np.ndarray:
        """`partial` scores of the sorted `rows` plus what the lemmas of `plan` add to them."""
        out = np.array(partial, dtype=np.float32)
        for i, w in plan:
            lo, hi = int(self.indptr[i]), int(self.indptr[i + 1])
            found = self.rows[lo:hi]
            pos = np.minimum(np.searchsorted(found, rows), max(hi - lo - 1, 0))
            hit = found[pos] == rows if hi > lo else np.zeros(len(rows), bool)
            out[hit] += self.weights[lo + pos[hit]] * np.float32(w)
        return out

    def save(self, folder: Path) -> None:
        (folder / self.VOCABULARY).write_text(
            json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8"
        )
        for name, dtype in self.ARRAYS.items():
            np.ascontiguousarray(getattr(self, name), dtype=dtype).tofile(folder / f"{name}.bin")

    @classmethod
    def load(cls, folder: Path) -> Postings:
        """Memory-mapped raw arrays (no .npy header: numpy parses those with `ast`, which CPython 3.11
        can fail at when several threads load at once)."""
        try:
            vocabulary = json.loads((folder / cls.VOCABULARY).read_text(encoding="utf-8"))
            indptr = _mapped(folder / "indptr.bin", cls.ARRAYS["indptr"], len(vocabulary) + 1)
            pairs = int(indptr[-1])
            rows = _mapped(folder / "rows.bin", cls.ARRAYS["rows"], pairs)
            weights = _mapped(folder / "weights.bin", cls.ARRAYS["weights"], pairs)
            peak = _mapped(folder / "peak.bin", cls.ARRAYS["peak"], len(vocabulary))
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"The BM25 postings in {folder} cannot be read ({type(exc).__name__}: {exc}).",
                "Rebuild the index: qa-bot index --rebuild",
            ) from exc
        return cls(vocabulary, indptr, rows, weights, peak)


def _best(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (row, score) with a positive score: highest score first, then lowest row."""
    keep = scores > 0
    rows, scores = rows[keep], scores[keep]
    if len(rows) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[part], scores[part]
    order = np.lexsort((rows, -scores))
    return rows[order].astype(np.int64), scores[order]


def _mapped(path: Path, dtype: str, count: int) -> np.ndarray:
    size = path.stat().st_size
    if size != count * np.dtype(dtype).itemsize:
        raise ValueError(f"{path.name} holds {size} bytes, {count} values expected")
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,)) if count else np.zeros(0, dtype=dtype)
