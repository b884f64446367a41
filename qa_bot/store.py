"""Stage 4a: the vector store. FAISS on disk behind a small interface a server-backed store can replace."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorruptError

# Every search here is one question: OpenMP's thread start-up costs more than it saves (BENCHMARKS.md:
# hybrid p95 at 10k chunks 16 ms with the default threads, 4 ms with one), and the bot runs several
# searches in parallel threads anyway. The setting is per thread, so search() applies it each time.


class VectorStore(ABC):
    """Vectors keyed by int64 ids; inner-product search over L2-normalised vectors (cosine)."""

    dimension: int

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    @abstractmethod
    def remove(self, ids: np.ndarray) -> None: ...

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of shape (n_queries, k); missing hits have id -1."""

    @abstractmethod
    def save(self, folder: Path) -> None: ...

    @abstractmethod
    def __len__(self) -> int: ...


AUTO_HNSW_FROM = 50_000  # FAISS_INDEX=auto: exact search below this many chunks, HNSW from here on
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
        self.index = index if index is not None else faiss.IndexIDMap2(self._base(dimension, kind))

    @staticmethod
    def _base(dimension: int, kind: str) -> faiss.Index:
        if kind == "hnsw":
            base = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efSearch = 128  # recall@10 0.94-0.97 (BENCHMARKS.md)
            return base
        return faiss.IndexFlatIP(dimension)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) and self.kind == "flat":
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of `ids`, in that order."""
        stored = faiss.vector_to_array(self.index.id_map)
        row = {int(i): r for r, i in enumerate(stored)}
        everything = faiss.downcast_index(self.index.index).reconstruct_n(0, len(stored))
        return everything[[row[int(i)] for i in ids]] if len(ids) else np.zeros((0, self.dimension), np.float32)

    def fitted(self, setting: str, live_ids: np.ndarray) -> FaissStore:
        """This store, or a rebuilt one when FAISS_INDEX asks for another kind or HNSW holds too many removed ids."""
        kind = setting if setting != "auto" else ("hnsw" if len(live_ids) >= AUTO_HNSW_FROM else "flat")
        stale = len(self) - len(live_ids)
        if kind == self.kind and stale <= MAX_STALE_SHARE * max(1, len(self)):
            return self
        rebuilt = FaissStore(self.dimension, kind)
        rebuilt.add(live_ids, self.vectors(live_ids))
        return rebuilt

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        faiss.omp_set_num_threads(1)  # per calling thread: the bot searches from worker threads
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self))) if len(self) else 1
        return self.index.search(queries, k)

    def save(self, folder: Path) -> None:
        faiss.write_index(self.index, str(folder / self.FILE))

    @classmethod
    def load(cls, folder: Path, dimension: int, kind: str) -> FaissStore:
        path = folder / cls.FILE
        try:
            index = faiss.read_index(str(path))
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
