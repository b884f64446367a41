"""Stage 4: the persistent hybrid index (FAISS vectors + BM25 lemmas + readable chunk metadata).

On disk, `INDEX_DIR/CURRENT` names the generation folder in use. An update writes a complete new
generation next to it and then replaces CURRENT atomically, so a crash or Ctrl-C mid-index leaves
the previous index in use. Retired generations stay on disk for a while (a reader may have read
CURRENT just before the switch), and `Index.load` retries once when CURRENT moved under it.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from .chunk import Chunk, chunk_document
from .collection import Scan, belongs_to, check_new_source, rebuilt_text, resolve_source, scan, stamp
from .embed import Embedder
from .errors import (
    DocumentsError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    QaBotError,
)
from .ingest import SUPPORTED_SUFFIXES, Document, format_date
from .lexical import idf
from .segments import FOLDER as SEGMENTS
from .segments import Segment, merge_plan, vector_kind, write_segment
from .settings import Settings
from .text import lemmas

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: segments (SQLite chunks, per-segment BM25 and vectors); 1 had one chunks.jsonl
MILVUS_FORMATS = (1, 2)  # a Milvus generation is laid out as it was in format 1
CURRENT = "CURRENT"
RUN_INDEX = "Run: qa-bot index"
KEEP_RETIRED = 1  # retired generations always kept besides the current one
RETIRED_GRACE_SECONDS = 600.0  # older retired generations are deleted once retired this long


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    title: str
    date: str | None
    source: str | None
    sha256: str
    path: str
    chunks: int

    @property
    def date_display(self) -> str:
        return format_date(self.date)


@dataclass(frozen=True)
class StoredChunk(Chunk):
    """A chunk as indexed: its FAISS id and the lemmas BM25 saw."""

    vector_id: int = -1
    terms: tuple[str, ...] = ()


@dataclass
class IndexReport:
    documents: int = 0
    chunks: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    embedded_chunks: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    written: bool = False


def index_text(title: str, text: str) -> str:
    """What retrieval sees of a chunk: the document title as context, then the passage."""
    return f"{title}\n{text}"


def settings_fingerprint(settings: Settings, dimension: int | None = None) -> dict[str, object]:
    """The manifest fields that must match the current settings for the index to be usable."""
    out: dict[str, object] = {
        "format_version": FORMAT_VERSION,
        "embedding_model": settings.embedding_model,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "faiss_index": settings.faiss_index,
        "store": settings.store,
    }
    if dimension is not None:
        out["embedding_dimension"] = dimension
    return out


def check_manifest(manifest: dict, settings: Settings, where: Path | None) -> None:
    """Raise IndexMismatchError when the manifest records other settings than the current ones."""
    expected = settings_fingerprint(settings)
    have = {"store": "faiss"} | manifest  # indexes written before STORE existed are FAISS ones
    diff = {k: (have.get(k), v) for k, v in expected.items() if have.get(k) != v}
    if diff:
        what = "; ".join(f"{k}: index has {old!r}, settings say {new!r}" for k, (old, new) in diff.items())
        raise IndexMismatchError(
            f"The index in {where} was built with other settings ({what}).",
            "Rebuild it with: qa-bot index --rebuild (or restore the old settings in .env).",
        )


def read_pointer(index_dir: Path) -> str | None:
    """The generation name CURRENT holds, or None when there is none (a cheap check for readers)."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def current_folder(index_dir: Path) -> Path:
    """The generation folder named by CURRENT; IndexMissingError when there is none."""
    pointer = index_dir / CURRENT
    if not pointer.exists():
        raise IndexMissingError(f"No index in {index_dir}.", f"{RUN_INDEX} (it reads the documents folder).")
    return index_dir / pointer.read_text(encoding="utf-8").strip()


def read_manifest(index_dir: Path) -> tuple[Path, dict]:
    """(generation folder, manifest) without loading vectors or chunks."""
    folder = current_folder(index_dir)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"The index manifest in {folder} cannot be read ({type(exc).__name__}: {exc}).",
            "Rebuild it: qa-bot index --rebuild",
        ) from exc
    if manifest.get("store") == "milvus" and manifest.get("format_version") in MILVUS_FORMATS:
        manifest["format_version"] = FORMAT_VERSION
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"The index in {index_dir} has format {manifest.get('format_version')}, this version reads {FORMAT_VERSION}.",
            "Rebuild it: qa-bot index --rebuild",
        )
    return folder, manifest


def _write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    _fsync_file(tmp)
    os.replace(tmp, path)


class Index:
    """A loaded, read-only generation of the index.

    This class is the embedded store: immutable segments (segments.py), each with its chunks in
    SQLite, BM25 postings and FAISS vectors, minus the documents the generation deleted from them.
    A chunk's key (`row` below) is its vector id, stable across generations. `MilvusIndex`
    (milvus_store.py) implements the same read interface and `with_changes` over a Milvus
    collection; retrieval uses only that interface.
    """

    STORE = "faiss"
    CACHE = 4096  # chunks kept after a lookup (a question reads a few dozen)

    def __init__(self, folder: Path | None, manifest: dict, documents: dict[str, DocumentInfo],
                 segments: Sequence[Segment]) -> None:  # fmt: skip
        self.folder = folder
        self.manifest = manifest
        self.documents = documents
        self.segments = sorted(segments, key=lambda s: s.first_id)
        self._firsts = [s.first_id for s in self.segments]
        self._segment_of_doc = {d: s for s in self.segments for d in s.spans}
        self._cache: OrderedDict[int, StoredChunk] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- the read interface retrieval uses (a server-backed store implements the same) -------

    @property
    def chunk_count(self) -> int:
        return sum(s.live for s in self.segments)

    def _segment(self, row: int) -> Segment:
        i = bisect.bisect_right(self._firsts, row) - 1
        if i < 0 or row - self.segments[i].first_id >= self.segments[i].size:
            raise KeyError(f"chunk {row} is not in this index")
        return self.segments[i]

    def chunk(self, row: int) -> StoredChunk:
        """The chunk stored under `row` (the key the searches below return), read from disk."""
        with self._cache_lock:
            if row in self._cache:
                self._cache.move_to_end(row)
                return self._cache[row]
        segment = self._segment(row)
        (found,) = _stored(segment, segment.rows(row - segment.first_id, 1))
        with self._cache_lock:
            self._cache[row] = found
            while len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        return found

    def knows(self, term: str) -> bool:
        """True when some chunk contains the lemma `term`."""
        return any(term in s.postings.term_id for s in self.segments)

    @cached_property
    def vocabulary(self) -> list[str]:
        if len(self.segments) == 1:
            return self.segments[0].postings.vocabulary
        return list(dict.fromkeys(t for s in self.segments for t in s.postings.vocabulary))

    def document_frequency(self) -> dict[str, int]:
        """How many chunks contain each lemma (chunks of deleted documents count until their segment
        is merged: a small, temporary overestimate)."""
        return dict(self._frequencies)

    @cached_property
    def _frequencies(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for s in self.segments:
            for t, n in s.postings.frequencies().items():
                total[t] = total.get(t, 0) + n
        return total

    def _allowed(self, segment: Segment, doc_ids: Collection[str] | None) -> np.ndarray | None:
        return segment.allowed_rows(
            None if doc_ids is None else [d for d in doc_ids if self._segment_of_doc.get(d) is segment]
        )

    def lexical_search(
        self, terms: Sequence[str], k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        """(row, BM25 score) of the k best chunks with a positive score, best first; only chunks of
        `doc_ids` when given (the filter applies before the top k is cut)."""
        n = self.chunk_count
        if k < 1 or not n:
            return []
        df = {t: sum(s.postings.document_frequency(t) for s in self.segments) for t in set(terms)}
        # a deleted document's chunks count in df until their segment is merged: never above n
        weighted = [(t, idf(n, min(df[t], n))) for t in terms if df[t]]
        if not weighted:
            return []
        found = [hit for s in self.segments for hit in s.lexical(weighted, k, self._allowed(s, doc_ids))]
        return sorted(found, key=lambda h: (-h[1], h[0]))[:k]

    def dense_search(
        self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        """(row, cosine) of the k nearest chunks, best first; only chunks of `doc_ids` when given."""
        if k < 1:
            return []
        found = [hit for s in self.segments for hit in s.dense(vector, k, self._allowed(s, doc_ids))]
        return sorted(found, key=lambda h: (-h[1], h[0]))[:k]

    def all_chunks(self) -> list[StoredChunk]:
        """Every stored chunk, in row order (reads the whole collection: for tools and tests)."""
        return self.chunks_of(self.documents)

    def chunks_of(self, doc_ids: Collection[str]) -> list[StoredChunk]:
        """Every stored chunk of these documents, in row order."""
        out: list[StoredChunk] = []
        for d in set(doc_ids):
            segment = self._segment_of_doc.get(d)
            if segment is not None:
                span = segment.spans[d]
                out += _stored(segment, segment.rows(span.first, span.count))
        return sorted(out, key=lambda c: c.vector_id)

    # -- generations ---------------------------------------------------------------------------

    @property
    def embedding_model(self) -> str:
        return str(self.manifest["embedding_model"])

    def check_settings(self, settings: Settings) -> None:
        """Raise IndexMismatchError when the index was built with other settings."""
        check_manifest(self.manifest, settings, self.folder)

    @classmethod
    def empty(cls, settings: Settings, dimension: int) -> Index:
        """A new, empty index of the kind STORE names (a Milvus collection is emptied)."""
        manifest = settings_fingerprint(settings, dimension) | {"next_id": 0, "documents": {}}
        if settings.store == "milvus":
            from .milvus_store import MilvusIndex

            return MilvusIndex.empty(settings, manifest)
        return cls(None, manifest, {}, [])

    @classmethod
    def load(cls, index_dir: Path, settings: Settings | None = None) -> Index:
        """The current generation in `index_dir`; clear errors when it is missing or damaged.

        A writer may switch CURRENT (and retire the generation just read) while this runs: the load
        is then retried once on the new generation. `settings` give a server store its address and
        token (read from the environment when not given).
        """
        name = read_pointer(index_dir)
        try:
            return cls._load(index_dir, settings)
        except IndexCorruptError:
            if name is None or read_pointer(index_dir) == name:
                raise
            log.info("index generation %s was replaced while loading; loading the new one", name)
            return cls._load(index_dir, settings)

    @classmethod
    def _load(cls, index_dir: Path, settings: Settings | None) -> Index:
        folder, manifest = read_manifest(index_dir)
        try:
            documents = {
                d["doc_id"]: DocumentInfo(**d)
                for d in json.loads((folder / "documents.json").read_text(encoding="utf-8"))
            }
            if manifest.get("store", "faiss") == "milvus":
                from .milvus_store import MilvusIndex

                return MilvusIndex.open(folder, manifest, documents, settings or Settings())
            segments = [
                Segment(index_dir / SEGMENTS / s["name"], s.get("dead", ())) for s in manifest["segments"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(
                f"The index in {folder} is damaged or incomplete ({type(exc).__name__}: {exc}).",
                "Rebuild it: qa-bot index --rebuild",
            ) from exc
        index = cls(folder, manifest, documents, segments)
        if index.chunk_count != int(manifest.get("chunks", -1)) or set(index._segment_of_doc) != set(
            documents
        ):
            raise IndexCorruptError(
                f"The index in {folder} is inconsistent ({index.chunk_count} chunks in its segments, "
                f"the manifest says {manifest.get('chunks')}).",
                "Rebuild it: qa-bot index --rebuild",
            )
        return index

    def with_changes(
        self,
        settings: Settings,
        gone: set[str],
        new_chunks: list[StoredChunk],
        vectors: np.ndarray,
        documents: dict[str, DocumentInfo],
        manifest: dict,
    ) -> Index:
        """This index without the chunks of `gone`, plus `new_chunks`, written as the new generation.

        Only `new_chunks` are written (one new segment) and the old chunks of `gone` become
        tombstones; small segments are merged when a size tier fills up (segments.merge_plan).
        """
        root = settings.index_dir / SEGMENTS
        dead: dict[str, set[str]] = {}
        for d in gone | {c.doc_id for c in new_chunks}:
            if d in self._segment_of_doc:
                dead.setdefault(self._segment_of_doc[d].name, set()).add(d)
        segments = [s.without(dead[s.name]) if s.name in dead else s for s in self.segments]
        segments = [s for s in segments if s.live]
        live = sum(s.live for s in segments) + len(new_chunks)
        terms = sum(s.live_terms for s in segments) + sum(len(c.terms) for c in new_chunks)
        avgdl = terms / live if live else 1.0
        next_id = int(manifest["next_id"])
        if new_chunks:
            first = new_chunks[0].vector_id
            if [c.vector_id for c in new_chunks] != list(range(first, first + len(new_chunks))):
                raise ValueError("new chunks must have consecutive vector ids")
            name = write_segment(
                root, new_chunks, vectors, first, vector_kind(settings.faiss_index, len(new_chunks)), avgdl
            )
            segments.append(Segment(root / name))
        merging = merge_plan(segments)
        if len(merging) > 1 or any(s.dead_docs for s in merging):
            merged, next_id = _merge(root, merging, next_id, settings, avgdl)
            segments = [s for s in segments if s not in merging] + ([merged] if merged is not None else [])
        largest = max(segments, key=lambda s: s.live, default=None)
        manifest = manifest | {
            "next_id": next_id,
            "chunks": live,
            "faiss_kind": largest.kind if largest is not None else vector_kind(settings.faiss_index, 0),
            "segments": [
                {"name": s.name, "dead": sorted(s.dead_docs)}
                for s in sorted(segments, key=lambda s: s.first_id)
            ],
        }
        result = Index(None, manifest, documents, segments)
        result.save(settings.index_dir)
        return result

    def _write_payload(self, folder: Path) -> None:
        """Everything but documents.json and the manifest, into a new generation's folder (the
        embedded store's data lives in its segments, written before the generation)."""

    def save(self, index_dir: Path) -> Path:
        """Write this index as a new generation and make it current (atomic switch)."""
        index_dir.mkdir(parents=True, exist_ok=True)
        previous = read_pointer(index_dir)
        name = f"gen-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        tmp = index_dir / f".{name}.tmp"
        tmp.mkdir()
        try:
            (tmp / "documents.json").write_text(
                json.dumps([asdict(d) for d in self.documents.values()], ensure_ascii=False, indent=1),
                "utf-8",
            )
            self._write_payload(tmp)
            self.manifest["sizes"] = _sizes(
                tmp
            )  # lets a later update notice a damaged file without loading it
            _write_json_atomic(tmp / "manifest.json", self.manifest)
            _fsync_tree(tmp)
            tmp.rename(index_dir / name)
            pointer_tmp = index_dir / f".{CURRENT}.{name}.tmp"
            pointer_tmp.write_text(name + "\n", encoding="utf-8")
            _fsync_file(pointer_tmp)
            os.replace(pointer_tmp, index_dir / CURRENT)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.folder = index_dir / name
        if previous is not None and previous != name and (index_dir / previous).is_dir():
            os.utime(index_dir / previous)  # its mtime now says when it stopped being current
        _remove_old_generations(index_dir, keep=name)
        return self.folder


def _stored(segment: Segment, rows: list[tuple]) -> list[StoredChunk]:
    return [
        StoredChunk(
            chunk_id,
            doc_id,
            idx,
            start,
            end,
            text,
            vector_id=segment.first_id + row,
            terms=tuple(terms.split()),
        )
        for row, chunk_id, doc_id, idx, start, end, text, terms in rows
    ]


def _merge(
    root: Path, merging: list[Segment], next_id: int, settings: Settings, avgdl: float
) -> tuple[Segment | None, int]:
    """One new segment with the live chunks of `merging` (new vector ids from `next_id`), and the next free id."""
    chunks: list[StoredChunk] = []
    vectors: list[np.ndarray] = []
    for segment in sorted(merging, key=lambda s: s.first_id):
        live = np.ones(segment.size, dtype=bool)
        live[segment.dead_rows] = False
        rows = [r for r in segment.all_rows() if live[r[0]]]
        for c in _stored(segment, rows):
            chunks.append(replace(c, vector_id=next_id + len(chunks)))
        vectors.append(segment.vectors(np.array([r[0] for r in rows], dtype=np.int64)))
    if not chunks:
        return None, next_id
    name = write_segment(
        root, chunks, np.concatenate(vectors), next_id, vector_kind(settings.faiss_index, len(chunks)), avgdl
    )
    log.info("merged %d index segments into %s (%d chunks)", len(merging), name, len(chunks))
    return Segment(root / name), next_id + len(chunks)


def _segments_intact(index_dir: Path, manifest: dict) -> bool:
    """True when every segment the manifest lists is on disk with the file sizes it was written with."""
    for entry in manifest.get("segments", ()):
        folder = index_dir / SEGMENTS / str(entry.get("name"))
        try:
            meta = json.loads((folder / Segment.META).read_text(encoding="utf-8"))
            have = {p.name: p.stat().st_size for p in folder.iterdir() if p.name != Segment.META}
        except (OSError, ValueError):
            return False
        if not isinstance(meta, dict) or meta.get("sizes") != have:
            return False
    return True


def _sizes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def _fsync_file(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            _fsync_file(path)


def _remove_old_generations(index_dir: Path, keep: str) -> None:
    """Delete retired generations no reader can still need: the newest retired one is always kept (a
    reader may have read CURRENT just before the switch), older ones once retired for RETIRED_GRACE_SECONDS.
    Left-overs of an interrupted writer go at once (the caller holds the writer lock)."""
    now = time.time()
    retired = sorted(
        (p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("gen-") and p.name != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for path in retired[KEEP_RETIRED:]:
        if now - path.stat().st_mtime > RETIRED_GRACE_SECONDS:
            shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.iterdir():
        if path.name.endswith(".tmp") and path.name.startswith("."):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    _remove_unused_segments(index_dir)


def _remove_unused_segments(index_dir: Path) -> None:
    """Delete segments no generation left on disk lists (merged away, or written by an interrupted
    writer); the caller holds the writer lock."""
    root = index_dir / SEGMENTS
    if not root.is_dir():
        return
    used: set[str] = set()
    for gen in index_dir.iterdir():
        if gen.is_dir() and gen.name.startswith("gen-"):
            with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
                manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
                used |= {str(s["name"]) for s in manifest.get("segments", ())}
    for path in root.iterdir():
        if path.name not in used:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index folder (readers never wait)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(
                f"Another qa-bot process is updating the index in {index_dir}.",
                "Wait for it to finish and retry.",
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_chunks(doc: Document, settings: Settings, first_id: int) -> list[StoredChunk]:
    return [
        StoredChunk(**asdict(c), vector_id=first_id + i, terms=tuple(lemmas(index_text(doc.title, c.text))))
        for i, c in enumerate(chunk_document(doc, settings.chunk_size, settings.chunk_overlap))
    ]


PruneConfirm = Callable[[list[str]], bool]


def update_index(
    settings: Settings,
    embedder: Embedder | Callable[[], Embedder],
    folders: Sequence[Path] | None = None,
    *,
    rebuild: bool = False,
    prune: bool | PruneConfirm = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Index | None, IndexReport]:
    """Bring the index in INDEX_DIR up to date with its sources: embed only new or changed documents.

    `folders` (folders or single files) are ADDED to the sources the manifest remembers; every
    remembered source is re-scanned (DOCS_DIR when the collection is new). Documents whose file is
    gone, or whose source folder has disappeared, are kept and reported; `prune` drops the former
    (a callable is asked first with their doc_ids). Files whose path, size and modification time
    match the manifest are not even read, and an unchanged corpus loads neither the index nor the
    model (`embedder` may be a factory): the returned Index is then None. `progress(done, total)`
    is called as chunks are embedded.
    """
    started = time.perf_counter()
    index_dir = settings.index_dir
    for path in folders or ():
        check_new_source(Path(path))
    with writer_lock(index_dir):
        report = IndexReport()
        folder, manifest, usable = _previous_manifest(settings, rebuild, report)
        given = [resolve_source(Path(f)) for f in folders or ()]
        sources = remembered_sources(manifest, index_dir) if manifest else []
        dropped = (
            [s for s in remembered_sources(manifest, index_dir, "dropped") if s not in given]
            if manifest
            else []
        )
        docs_dir = resolve_source(settings.docs_dir)
        # DOCS_DIR, where the bot's uploads land, is a source of every plain update unless dropped
        if not folders and docs_dir not in sources + dropped and (not sources or Path(docs_dir).is_dir()):
            given = [docs_dir]
        sources += [g for g in given if g not in sources]
        excluded = {
            p: s for p, s in (manifest or {}).get("excluded", {}).items()
            if not any(belongs_to(p, g) for g in given)
        }  # fmt: skip
        files: dict[str, dict] = (manifest or {}).get("files", {})
        found = scan(sources, files if usable else {}, excluded)
        report.warnings += found.warnings
        docs = {d.doc_id: d for d in found.documents}
        old_hashes: dict[str, str] = dict(manifest["documents"]) if manifest else {}
        kept, gone = _unseen(old_hashes, files, found, report)
        if gone and prune and (prune is True or prune(gone)):
            vanished = {str(files.get(d, {}).get("path", "")) for d in gone}
            sources = [s for s in sources if s not in vanished]  # single-file sources whose file is gone
        else:
            kept += gone
            if gone:
                report.warnings.append(
                    f"{len(gone)} indexed document(s) have no file any more ({', '.join(gone[:5])}"
                    f"{'…' if len(gone) > 5 else ''}); they are kept. To drop them: qa-bot index --prune"
                )
        if not usable and kept:  # their vectors cannot be reused: re-embed them from their stored passages
            docs |= _documents_from_index(settings, index_dir, kept, report)
            kept = [d for d in kept if d in docs]
        current = set(docs) | set(found.unchanged) | set(kept)
        if not current and manifest is None:
            raise DocumentsError(
                f"No readable documents in {', '.join(sources)}.",
                f"Add .txt or .md files (UTF-8 or cp1251); supported types: {', '.join(SUPPORTED_SUFFIXES)}.",
            )
        report.added = sorted(d for d in docs if d not in old_hashes or not usable)
        report.changed = sorted(
            d for d in docs if usable and d in old_hashes and old_hashes[d] != docs[d].sha256
        )
        report.removed = sorted(d for d in old_hashes if d not in current)
        report.documents = len(current)
        stamps = {
            d: found.stamps.get(d) or files[d] for d in sorted(current) if d in found.stamps or d in files
        }
        state = {"files": stamps, "sources": stored_sources(sources, index_dir), "excluded": excluded,
                 "dropped": stored_sources(dropped, index_dir)}  # fmt: skip
        to_embed = [docs[d] for d in report.added + report.changed]
        if usable and manifest is not None and folder is not None and not (to_embed or report.removed):
            if any(manifest.get(k) != v for k, v in state.items()):  # touched files, a new source: remember
                _write_json_atomic(folder / "manifest.json", manifest | state)
            report.chunks = int(manifest.get("chunks", 0))
            report.seconds = time.perf_counter() - started
            return None, report

        model = embedder if isinstance(embedder, Embedder) else embedder()
        index = Index.load(index_dir, settings) if usable else Index.empty(settings, model.dimension)
        result = _commit(settings, index, model, to_embed, set(report.removed) | set(report.changed), state, report,
                         progress)  # fmt: skip
        report.seconds = time.perf_counter() - started
        return result, report


def _unseen(
    old_hashes: dict[str, str], files: dict[str, dict], found: Scan, report: IndexReport
) -> tuple[list[str], list[str]]:
    """Indexed documents the scan did not see: (kept, gone). A document of a vanished source folder or
    with an unreadable file is kept; one whose file no longer exists is gone."""
    seen = {d.doc_id for d in found.documents} | set(found.unchanged)
    kept: list[str] = []
    gone: list[str] = []
    for doc_id in sorted(d for d in old_hashes if d not in seen):
        path = str(files.get(doc_id, {}).get("path", ""))
        if path and path in found.missing_sources:  # a single-file source whose file is gone
            gone.append(doc_id)
        elif (
            (path and any(belongs_to(path, s) for s in found.missing_sources))  # its folder vanished
            or doc_id in found.unreadable
            or (path and Path(path).exists())
        ):
            kept.append(doc_id)
        else:
            gone.append(doc_id)
    gone_paths = {str(files.get(d, {}).get("path", "")) for d in gone}
    for source in (s for s in found.missing_sources if s not in gone_paths):
        n = sum(1 for d in kept if belongs_to(str(files.get(d, {}).get("path", "")), source))
        report.warnings.append(
            f"source {source} has disappeared; its {n} indexed document(s) are kept. "
            f"Restore it, or drop it with: qa-bot remove {source}"
        )
    return kept, gone


def remembered_sources(manifest: dict, index_dir: Path, key: str = "sources") -> list[str]:
    """The manifest's sources as absolute paths (those next to the index are stored relative to it,
    so a folder holding both documents and index can be moved or copied)."""
    stored = manifest.get(key)
    if stored is None:
        return _legacy_sources(manifest) if key == "sources" else []
    return [s if Path(s).is_absolute() else resolve_source(index_dir / s) for s in stored]


def stored_sources(sources: Sequence[str], index_dir: Path) -> list[str]:
    """Sources as the manifest keeps them: relative to INDEX_DIR when they lie beside it, else absolute."""
    home = index_dir.resolve()
    return [os.path.relpath(s, home) if Path(s).is_relative_to(home.parent) else s for s in sources]


def _legacy_sources(manifest: dict) -> list[str]:
    """Sources of an index written before sources were remembered: the folders its files came from."""
    folders = {str(Path(str(s["path"])).resolve().parent) for s in manifest.get("files", {}).values()}
    return sorted(folders)


def _documents_from_index(
    settings: Settings, index_dir: Path, doc_ids: list[str], report: IndexReport
) -> dict[str, Document]:
    """Documents put back together from the passages of the current index (for --rebuild when their
    files are out of reach); those the index cannot give back are reported."""
    try:
        old = Index.load(index_dir, settings)
    except QaBotError:
        report.warnings.append(f"{len(doc_ids)} document(s) without a readable file could not be kept: "
                               f"the old index cannot be read ({', '.join(doc_ids[:5])}).")  # fmt: skip
        return {}
    wanted = set(doc_ids)
    pieces: dict[str, list[tuple[int, int, str]]] = {d: [] for d in wanted}
    for c in old.chunks_of(wanted):
        pieces[c.doc_id].append((c.start, c.end, c.text))
    out: dict[str, Document] = {}
    for doc_id in doc_ids:
        info = old.documents.get(doc_id)
        if info is None or not pieces[doc_id]:
            continue
        text = rebuilt_text(pieces[doc_id])
        out[doc_id] = Document(doc_id, info.title, info.date, info.source, text, info.sha256, info.path)
    return out


def _commit(
    settings: Settings,
    index: Index,
    model: Embedder | None,
    to_embed: list[Document],
    gone: set[str],
    state: dict,
    report: IndexReport,
    progress: Callable[[int, int], None] | None = None,
) -> Index:
    """Write a new generation: `index` without the chunks of `gone`, plus `to_embed` embedded."""
    next_id = int(index.manifest["next_id"])
    new_chunks: list[StoredChunk] = []
    for doc in to_embed:
        made = build_chunks(doc, settings, next_id)
        next_id += len(made)
        new_chunks += made
    total = len(new_chunks)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    if progress and total:
        progress(0, total)  # the bar starts when embedding does: its rate is chunks per second
    titles = {d.doc_id: d.title for d in to_embed}
    dimension = model.dimension if model is not None else int(index.manifest["embedding_dimension"])
    vectors = np.zeros((0, dimension), np.float32)
    if total:
        assert model is not None
        vectors = model.embed_passages([index_text(titles[c.doc_id], c.text) for c in new_chunks], tick)
    counts: dict[str, int] = {}
    for c in new_chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    fresh = {d.doc_id for d in to_embed}
    infos = {d: i for d, i in index.documents.items() if d not in gone and d not in fresh}
    for d, info in infos.items():  # same content found at another path (a moved or copied collection)
        path = str(state["files"].get(d, {}).get("path", info.path))
        if path != info.path:
            infos[d] = replace(info, path=path)
    infos |= {d.doc_id: DocumentInfo(d.doc_id, d.title, d.date, d.source, d.sha256, d.path, counts.get(d.doc_id, 0))
              for d in to_embed}  # fmt: skip
    documents = {d: infos[d] for d in sorted(infos)}
    manifest = (
        settings_fingerprint(settings, dimension)
        | {
            "next_id": next_id,
            "documents": {d: documents[d].sha256 for d in documents},
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        | state
    )
    manifest["files"] = {d: s for d, s in state["files"].items() if d in documents}
    result = index.with_changes(settings, gone, new_chunks, vectors, documents, manifest)
    report.chunks = result.chunk_count
    report.embedded_chunks = total
    report.written = True
    return result


def _previous_manifest(
    settings: Settings, rebuild: bool, report: IndexReport
) -> tuple[Path | None, dict | None, bool]:
    """(folder, manifest, usable): the current manifest (its sources are kept even for --rebuild) and
    whether its vectors can be built upon; a damaged index is reported and rebuilt from scratch."""
    try:
        folder, manifest = read_manifest(settings.index_dir)
    except IndexMissingError:
        return None, None, False
    except IndexCorruptError as exc:
        report.warnings.append(f"{exc.message} Rebuilding it from the documents.")
        return None, _raw_manifest(settings.index_dir), False
    if rebuild:
        return folder, manifest, False
    check_manifest(manifest, settings, folder)
    if _sizes(folder) != manifest.get("sizes") or not _segments_intact(settings.index_dir, manifest):
        report.warnings.append(
            f"The index in {folder} is damaged or incomplete. Rebuilding it from the documents."
        )
        return folder, manifest, False
    return folder, manifest, True


def _raw_manifest(index_dir: Path) -> dict | None:
    """Whatever manifest JSON can still be read (for its sources), or None."""
    with contextlib.suppress(OSError, ValueError, QaBotError):
        data = json.loads((current_folder(index_dir) / "manifest.json").read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    return None


@dataclass
class Removal:
    """What `qa-bot remove` will drop, worked out before anything is deleted."""

    doc_ids: list[str] = field(default_factory=list)
    chunks: int = 0
    sources: list[str] = field(default_factory=list)  # remembered sources that are forgotten
    unknown: list[str] = field(default_factory=list)  # targets that match nothing


def plan_removal(settings: Settings, targets: Sequence[str]) -> Removal:
    """Resolve doc ids, file paths and source folders to the documents they name (reads only the manifest)."""
    folder, manifest = read_manifest(settings.index_dir)
    try:
        documents = {
            d["doc_id"]: int(d["chunks"]) for d in json.loads((folder / "documents.json").read_text("utf-8"))
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(
            f"The index in {folder} is damaged ({exc}).", "Rebuild it: qa-bot index --rebuild"
        ) from exc
    files: dict[str, dict] = manifest.get("files", {})
    sources = remembered_sources(manifest, settings.index_dir)
    plan = Removal()
    chosen: set[str] = set()
    for target in targets:
        if target in documents:
            chosen.add(target)
            continue
        path = resolve_source(Path(target))
        matched = {d for d, s in files.items() if d in documents and belongs_to(str(s.get("path", "")), path)}
        if path in sources and path not in plan.sources:
            plan.sources.append(path)
        if matched or path in sources:
            chosen |= matched
        else:
            plan.unknown.append(target)
    plan.doc_ids = sorted(chosen)
    plan.chunks = sum(documents[d] for d in plan.doc_ids)
    return plan


def remove_documents(settings: Settings, plan: Removal) -> IndexReport:
    """Drop the planned documents and sources: a new generation, nothing re-embedded. A dropped file
    that still lies in a remembered source stays out until it changes (or is given again with --docs)."""
    started = time.perf_counter()
    report = IndexReport()
    with writer_lock(settings.index_dir):
        folder, manifest = read_manifest(settings.index_dir)
        check_manifest(manifest, settings, folder)
        index = Index.load(settings.index_dir, settings)
        files: dict[str, dict] = manifest.get("files", {})
        sources = [s for s in remembered_sources(manifest, settings.index_dir) if s not in plan.sources]
        dropped = remembered_sources(manifest, settings.index_dir, "dropped") + plan.sources
        excluded = dict(manifest.get("excluded", {}))
        for doc_id in plan.doc_ids:
            path = Path(str(files.get(doc_id, {}).get("path", "")))
            if path.is_file() and any(belongs_to(str(path), s) for s in sources):
                excluded[str(path)] = stamp(path)
        excluded = {p: s for p, s in excluded.items() if any(belongs_to(p, src) for src in sources)}
        gone = set(plan.doc_ids) & set(index.documents)
        state = {"files": {d: s for d, s in files.items() if d not in gone}, "excluded": excluded,
                 "sources": stored_sources(sources, settings.index_dir),
                 "dropped": stored_sources(dropped, settings.index_dir)}  # fmt: skip
        report.removed = sorted(gone)
        report.documents = len(index.documents) - len(gone)
        _commit(settings, index, None, [], gone, state, report)
    report.seconds = time.perf_counter() - started
    return report
