"""Stage 4a: the vector store. FAISS on disk behind a small interface a server-backed store can replace."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorruptError

# Every search here is one question: OpenMP's thread start-up costs more than it saves (measured in
# BENCHMARKS.md: hybrid p95 at 10k chunks 16 ms with the default threads, 4 ms with one), and the bot
# runs several searches in parallel threads anyway.
faiss.omp_set_num_threads(1)


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


class FaissStore(VectorStore):
    """Exact (`flat`) or approximate (`hnsw`) FAISS index wrapped in an id map."""

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
        if not len(ids):
            return
        if self.kind == "flat":
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))
            return
        # HNSW cannot delete: rebuild from the stored vectors without the removed ids
        drop = set(int(i) for i in ids)
        keep = np.array([i for i in faiss.vector_to_array(self.index.id_map) if int(i) not in drop], dtype=np.int64)
        vectors = np.vstack([self.index.reconstruct(int(i)) for i in keep]) if len(keep) else None
        self.index = faiss.IndexIDMap2(self._base(self.dimension, self.kind))
        if vectors is not None:
            self.add(keep, vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
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
