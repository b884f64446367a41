"""Stage 4c: immutable segments of the embedded index, so one changed document costs one small write.

A segment is a folder under `INDEX_DIR/segments/` written once and never changed:

- `chunks.sqlite`: the chunks (text, offsets, lemmas) keyed by local row, and per document its rows;
  a lookup reads one row from disk, nothing of it is held in memory;
- BM25 postings of its chunks (lexical.py, memory-mapped);
- `vectors.faiss`: their vectors (exact, or HNSW for a large segment), loaded on the first dense search;
- `segment.json`: sizes and the first vector id (a segment's chunks have consecutive ids).

A generation (index.py) lists its segments and, per segment, the documents deleted from it since it
was written (tombstones). Updating a document writes a new segment with its chunks and a tombstone
for the old ones; `merge_plan` folds small segments together (and rewrites those that are mostly
tombstones) so that the number of segments stays logarithmic in the collection size.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import IndexCorruptError
from .lexical import Postings
from .store import AUTO_HNSW_FROM, FaissStore

FOLDER = "segments"
MERGE_FACTOR = 8  # this many segments of one size tier are merged into one of the next tier
MAX_DEAD_SHARE = 0.25  # a segment with more of its chunks deleted than this is rewritten
REBUILD = "Rebuild it: qa-bot index --rebuild"

_SCHEMA = """
CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT, doc_id TEXT, idx INTEGER,
                     start INTEGER, "end" INTEGER, text TEXT, terms TEXT);
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, first INTEGER, count INTEGER, terms INTEGER);
"""


@dataclass(frozen=True)
class Span:
    """A document's chunks in a segment: local rows first..first+count-1, `terms` lemmas in all."""

    first: int
    count: int
    terms: int

    @property
    def rows(self) -> np.ndarray:
        return np.arange(self.first, self.first + self.count, dtype=np.int64)


def vector_kind(setting: str, size: int) -> str:
    """FAISS_INDEX for a segment of `size` chunks: `auto` is exact below AUTO_HNSW_FROM, HNSW above."""
    return setting if setting != "auto" else ("hnsw" if size >= AUTO_HNSW_FROM else "flat")


def write_segment(
    root: Path, chunks: Sequence, vectors: np.ndarray, first_id: int, kind: str, avgdl: float
) -> str:
    """Write `chunks` (StoredChunks in document order, their vector ids first_id.. in order) as a new
    segment under `root`; returns its name. The folder appears complete or not at all."""
    name = f"seg-{first_id:012d}-{uuid.uuid4().hex[:6]}"
    tmp = root / f".{name}.tmp"
    tmp.mkdir(parents=True)
    try:
        db = sqlite3.connect(tmp / Segment.DB)
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
            (
                (row, c.chunk_id, c.doc_id, c.index, c.start, c.end, c.text, " ".join(c.terms))
                for row, c in enumerate(chunks)
            ),
        )
        spans: dict[str, list[int]] = {}
        for row, c in enumerate(chunks):
            span = spans.setdefault(c.doc_id, [row, 0, 0])
            span[1] += 1
            span[2] += len(c.terms)
        db.executemany("INSERT INTO documents VALUES (?,?,?,?)", ((d, *s) for d, s in spans.items()))
        db.commit()
        db.close()
        Postings.build([c.terms for c in chunks], avgdl).save(tmp)
        store = FaissStore(vectors.shape[1], kind)
        store.add(np.arange(len(chunks), dtype=np.int64), vectors)
        store.save(tmp)
        meta = {"first_id": first_id, "count": len(chunks), "kind": kind, "dimension": int(vectors.shape[1]),
                "terms": int(sum(len(c.terms) for c in chunks)), "avgdl": avgdl}  # fmt: skip
        (tmp / Segment.META).write_text(json.dumps(meta), encoding="utf-8")
        for path in tmp.iterdir():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        meta["sizes"] = {p.name: p.stat().st_size for p in tmp.iterdir() if p.name != Segment.META}
        (tmp / Segment.META).write_text(json.dumps(meta), encoding="utf-8")
        tmp.rename(root / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return name


class Segment:
    """One segment opened for reading; `dead` are the documents the generation deleted from it."""

    META = "segment.json"
    DB = "chunks.sqlite"

    def __init__(self, folder: Path, dead: Collection[str] = ()) -> None:
        self.folder = folder
        self.name = folder.name
        try:
            self.meta = json.loads((folder / self.META).read_text(encoding="utf-8"))
            self.first_id = int(self.meta["first_id"])
            self.size = int(self.meta["count"])
            self.kind = str(self.meta["kind"])
            self.dimension = int(self.meta["dimension"])
            sizes = self.file_sizes()
            if sizes != self.meta["sizes"]:
                raise ValueError(f"its files are not the ones written ({sorted(sizes)})")
            self._db = sqlite3.connect(f"file:{folder / self.DB}?mode=ro&immutable=1", uri=True,
                                       check_same_thread=False)  # fmt: skip
            self.all_spans = {
                d: Span(first, count, terms)
                for d, first, count, terms in self._db.execute(
                    "SELECT doc_id, first, count, terms FROM documents"
                )
            }
        except (OSError, ValueError, KeyError, sqlite3.Error) as exc:
            raise IndexCorruptError(
                f"The index segment {folder} is damaged or missing ({type(exc).__name__}: {exc}).", REBUILD
            ) from exc
        self.postings = Postings.load(folder)
        self._lock = threading.Lock()
        self._store: FaissStore | None = None
        self._set_dead(dead)

    def _set_dead(self, dead: Collection[str]) -> None:
        self.dead_docs = frozenset(d for d in dead if d in self.all_spans)
        self.spans = {d: s for d, s in self.all_spans.items() if d not in self.dead_docs}
        gone = [self.all_spans[d].rows for d in self.dead_docs]
        self.dead_rows = np.sort(np.concatenate(gone)) if gone else np.zeros(0, dtype=np.int64)
        self.dead_mask: np.ndarray | None = None
        if gone:
            self.dead_mask = np.zeros(self.size, dtype=bool)
            self.dead_mask[self.dead_rows] = True
        self.live = self.size - len(self.dead_rows)
        self.live_terms = sum(s.terms for s in self.spans.values())

    def without(self, doc_ids: Collection[str]) -> Segment:
        """This segment as a newer generation sees it: `doc_ids` deleted too (files and loaded
        vectors are shared, nothing is re-read)."""
        other = copy.copy(self)
        other._set_dead(self.dead_docs | set(doc_ids))
        return other

    # -- chunks ----------------------------------------------------------------------------------

    def rows(self, first: int, count: int) -> list[tuple]:
        with self._lock:
            return self._db.execute(
                'SELECT row, chunk_id, doc_id, idx, start, "end", text, terms FROM chunks '
                "WHERE row >= ? AND row < ? ORDER BY row",
                (first, first + count),
            ).fetchall()

    def all_rows(self) -> list[tuple]:
        return self.rows(0, self.size)

    # -- search ----------------------------------------------------------------------------------

    def allowed_rows(self, doc_ids: Collection[str] | None) -> np.ndarray | None:
        """Local rows of `doc_ids` (None: no filter)."""
        if doc_ids is None:
            return None
        parts = [self.spans[d].rows for d in doc_ids if d in self.spans]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def lexical(
        self, weighted_terms: list[tuple[str, float]], k: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        """(vector id, BM25) of this segment's k best live rows with a positive score."""
        if not self.live or (allowed is not None and not len(allowed)):
            return []
        rows, scores = self.postings.top(weighted_terms, k, self.size, self.dead_mask, allowed)
        return [(self.first_id + int(r), float(s)) for r, s in zip(rows, scores, strict=True)]

    @property
    def store(self) -> FaissStore:
        with self._lock:
            if self._store is None:
                self._store = FaissStore.load(self.folder, self.dimension, self.kind)
                if len(self._store) != self.size:
                    raise IndexCorruptError(
                        f"The index segment {self.folder} holds {len(self._store)} vectors for {self.size} chunks.",
                        REBUILD,
                    )
            return self._store

    def dense(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """(vector id, cosine) of this segment's k nearest live rows."""
        if not self.live or (allowed is not None and not len(allowed)):
            return []
        scores, found = self.store.search(
            vector, k, allowed, exclude=self.dead_rows if allowed is None else None
        )
        return [
            (self.first_id + int(r), float(s)) for s, r in zip(scores[0], found[0], strict=True) if r >= 0
        ]

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.store.vectors(rows)

    def file_sizes(self) -> dict[str, int]:
        return {p.name: p.stat().st_size for p in self.folder.iterdir() if p.name != self.META}


def tier(live: int) -> int:
    """The size tier of a segment with `live` chunks (powers of MERGE_FACTOR)."""
    return int(math.log(max(live, 1), MERGE_FACTOR))


def merge_plan(segments: Sequence[Segment]) -> list[Segment]:
    """The segments to fold into one now: every segment that is mostly tombstones, and the segments of
    a size tier once it holds MERGE_FACTOR of them (smallest tier first). Empty: nothing to merge."""
    chosen = [s for s in segments if s.size and (s.size - s.live) > MAX_DEAD_SHARE * s.size]
    rest = [s for s in segments if s not in chosen]
    tiers: dict[int, list[Segment]] = {}
    for s in rest:
        tiers.setdefault(tier(s.live), []).append(s)
    for t in sorted(tiers):
        if len(tiers[t]) >= MERGE_FACTOR:
            chosen += tiers[t]
            break
    return chosen
