"""Stage 4a: the vector store. FAISS on disk behind a small interface a server-backed store can replace."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import IndexCorruptError

if TYPE_CHECKING:
    import faiss


def _faiss():
    """faiss, imported on the first vector operation (a BM25-only question never pays for it)."""
    import faiss

    return faiss

# Every search here is one question: OpenMP's thread start-up costs more than it saves (BENCHMARKS.md:
# hybrid p95 at 10k chunks 16 ms with the default threads, 4 ms with one), and the bot runs several
# searches in parallel threads anyway. The setting is per thread, so search() applies it each time.


class VectorStore(ABC):
    """Vectors keyed by int64 ids; inner-product search over L2-normalised vectors (cosine).

    What the embedded index needs of a vector store; a server store (Milvus) keeps vectors next to
    the chunks instead and implements the Index read interface directly (milvus_store.py).
    """

    dimension: int
    kind: str  # recorded in the manifest; `load` gets it back

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    @abstractmethod
    def remove(self, ids: np.ndarray) -> None: ...

    @abstractmethod
    def search(
        self, queries: np.ndarray, k: int, ids: np.ndarray | None = None, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of shape (n_queries, k), best first; missing hits have id -1. With `ids`,
        only those vectors are candidates, with `exclude` all but those (filters apply before the
        top k is cut)."""

    @abstractmethod
    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of `ids`, in that order."""

    @abstractmethod
    def fitted(self, setting: str, live_ids: np.ndarray) -> VectorStore:
        """This store, or a rebuilt one better suited to `live_ids` under the index-kind `setting`."""

    @abstractmethod
    def save(self, folder: Path) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, folder: Path, dimension: int, kind: str) -> VectorStore: ...

    @abstractmethod
    def __len__(self) -> int: ...


def make_vector_store(dimension: int, kind: str = "flat") -> VectorStore:
    """An empty in-process vector store (the embedded index's and the baseline's)."""
    return FaissStore(dimension, kind)


AUTO_HNSW_FROM = 50_000  # FAISS_INDEX=auto: exact search below this many chunks, HNSW from here on
EXACT_SUBSET_UP_TO = 20_000  # HNSW: a document filter this small is scored exactly
MAX_STALE_SHARE = 0.25  # HNSW cannot delete: removed vectors stay hidden until they are this share


class FaissStore(VectorStore):
    """Exact (`flat`) or approximate (`hnsw`) FAISS index wrapped in an id map.

    HNSW cannot delete: removed ids stay in the graph (the retriever ignores ids it does not know)
    until `fitted()` rebuilds the graph.
    """

    FILE = "vectors.faiss"

    def __init__(self, dimension: int, kind: str = "flat", index: faiss.Index | None = None) -> None:
        self.dimension = dimension
        self.kind = kind
        self.index = index if index is not None else _faiss().IndexIDMap2(self._base(dimension, kind))

    @staticmethod
    def _base(dimension: int, kind: str) -> faiss.Index:
        faiss = _faiss()
        if kind == "hnsw":
            base = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efSearch = 128  # recall@10 0.94-0.97 (BENCHMARKS.md)
            return base
        return faiss.IndexFlatIP(dimension)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) and self.kind == "flat":
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dimension), np.float32)
        return self.index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))

    def fitted(self, setting: str, live_ids: np.ndarray) -> FaissStore:
        """This store, or a rebuilt one when FAISS_INDEX asks for another kind or HNSW holds too many removed ids."""
        kind = setting if setting != "auto" else ("hnsw" if len(live_ids) >= AUTO_HNSW_FROM else "flat")
        stale = len(self) - len(live_ids)
        if kind == self.kind and stale <= MAX_STALE_SHARE * max(1, len(self)):
            return self
        rebuilt = FaissStore(self.dimension, kind)
        rebuilt.add(live_ids, self.vectors(live_ids))
        return rebuilt

    def search(
        self, queries: np.ndarray, k: int, ids: np.ndarray | None = None, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        faiss.omp_set_num_threads(1)  # per calling thread: the bot searches from worker threads
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self))) if len(self) else 1
        if ids is None and exclude is not None and len(exclude):
            hidden = faiss.IDSelectorBatch(np.ascontiguousarray(exclude, dtype=np.int64))
            selector = faiss.IDSelectorNot(hidden)
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=max(128, k))
                if self.kind == "hnsw"
                else faiss.SearchParameters(sel=selector)
            )
            return self.index.search(queries, k, params=params)
        if ids is None:
            return self.index.search(queries, k)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.kind == "hnsw" and len(ids) <= EXACT_SUBSET_UP_TO:
            # a graph walk with a tight filter misses neighbours: score a small subset exactly
            sims = queries @ self.vectors(ids).T
            top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            pad = k - top.shape[1]
            scores = np.take_along_axis(sims, top, axis=1)
            found = ids[top]
            if pad > 0:
                scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
                found = np.pad(found, ((0, 0), (0, pad)), constant_values=-1)
            return scores.astype(np.float32), found
        selector = faiss.IDSelectorBatch(ids)
        params = (
            faiss.SearchParametersHNSW(sel=selector, efSearch=max(128, k))
            if self.kind == "hnsw"
            else faiss.SearchParameters(sel=selector)
        )
        return self.index.search(queries, k, params=params)

    def save(self, folder: Path) -> None:
        _faiss().write_index(self.index, str(folder / self.FILE))

    @classmethod
    def load(cls, folder: Path, dimension: int, kind: str) -> FaissStore:
        path = folder / cls.FILE
        try:
            index = _faiss().read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(
                f"The vector index {path} cannot be read ({str(exc).splitlines()[0]}).",
                "Rebuild it: qa-bot index --rebuild",
            ) from exc
        if index.d != dimension:
            raise IndexCorruptError(
                f"The vector index {path} has dimension {index.d}, the manifest says {dimension}.",
                "Rebuild it: qa-bot index --rebuild",
            )
        return cls(dimension, kind, index)

    def __len__(self) -> int:
        return int(self.index.ntotal)
