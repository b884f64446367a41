"""Stage 4: the persistent hybrid index (FAISS vectors + BM25 lemmas + readable chunk metadata).

On disk, `INDEX_DIR/CURRENT` names the generation folder in use. An update writes a complete new
generation next to it and then replaces CURRENT atomically, so a crash or Ctrl-C mid-index leaves
the previous index in use.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .chunk import Chunk, chunk_document
from .embed import Embedder
from .errors import IndexBusyError, IndexCorruptError, IndexMismatchError, IndexMissingError
from .ingest import Document, format_date, ingest
from .lexical import LexicalIndex
from .settings import Settings
from .store import FaissStore
from .text import lemmas

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
RUN_INDEX = "Run: qa-bot index"


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
    }
    if dimension is not None:
        out["embedding_dimension"] = dimension
    return out


def check_manifest(manifest: dict, settings: Settings, where: Path | None) -> None:
    """Raise IndexMismatchError when the manifest records other settings than the current ones."""
    expected = settings_fingerprint(settings)
    diff = {k: (manifest.get(k), v) for k, v in expected.items() if manifest.get(k) != v}
    if diff:
        what = "; ".join(f"{k}: index has {old!r}, settings say {new!r}" for k, (old, new) in diff.items())
        raise IndexMismatchError(
            f"The index in {where} was built with other settings ({what}).",
            "Rebuild it with: qa-bot index --rebuild (or restore the old settings in .env).",
        )


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
    """A loaded, read-only generation of the index."""

    def __init__(
        self,
        folder: Path | None,
        manifest: dict,
        documents: dict[str, DocumentInfo],
        chunks: list[StoredChunk],
        store: FaissStore,
        lexical: LexicalIndex,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.store = store
        self.lexical = lexical
        self.row_of_vector = {c.vector_id: row for row, c in enumerate(chunks)}

    # -- the read interface retrieval uses (a server-backed store implements the same) -------

    @property
    def chunk_count(self) -> int:
        return len(self.chunks)

    def chunk(self, row: int) -> StoredChunk:
        """The chunk stored under `row` (the key the searches below return)."""
        return self.chunks[row]

    def knows(self, term: str) -> bool:
        """True when some chunk contains the lemma `term`."""
        return self.lexical.knows(term)

    @property
    def vocabulary(self) -> list[str]:
        return self.lexical.vocabulary

    def document_frequency(self) -> dict[str, int]:
        """How many chunks contain each lemma."""
        return self.lexical.document_frequency()

    def _allowed_rows(self, doc_ids: Collection[str] | None) -> set[int] | None:
        if doc_ids is None:
            return None
        wanted = set(doc_ids)
        return {row for row, c in enumerate(self.chunks) if c.doc_id in wanted}

    def lexical_search(
        self, terms: Sequence[str], k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        """(row, BM25 score) of the k best chunks with a positive score, best first; only chunks of
        `doc_ids` when given (the filter applies before the top k is cut)."""
        allowed = self._allowed_rows(doc_ids)
        if allowed is None:
            scores, rows = self.lexical.search(terms, k)
            return [(int(r), float(s)) for r, s in zip(rows, scores, strict=True)]
        if not allowed:
            return []
        scores = self.lexical.scores(terms)
        ranked = sorted((r for r in allowed if r < len(scores) and scores[r] > 0), key=lambda r: (-scores[r], r))
        return [(r, float(scores[r])) for r in ranked[:k]]

    def dense_search(
        self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        """(row, cosine) of the k nearest chunks, best first; only chunks of `doc_ids` when given."""
        allowed = self._allowed_rows(doc_ids)
        if allowed is not None:
            if not allowed:
                return []
            ids = np.array([self.chunks[r].vector_id for r in sorted(allowed)], dtype=np.int64)
            matrix = self.store.vectors(ids)
            sims = matrix @ np.asarray(vector, dtype=np.float32).ravel()
            order = np.argsort(-sims, kind="stable")[:k]
            return [(self.row_of_vector[int(ids[i])], float(sims[i])) for i in order]
        scores, ids = self.store.search(vector, k)
        return [
            (self.row_of_vector[int(v)], float(s))
            for s, v in zip(scores[0], ids[0], strict=True)
            if v >= 0 and int(v) in self.row_of_vector
        ]

    @property
    def embedding_model(self) -> str:
        return str(self.manifest["embedding_model"])

    def check_settings(self, settings: Settings) -> None:
        """Raise IndexMismatchError when the index was built with other settings."""
        check_manifest(self.manifest, settings, self.folder)

    @classmethod
    def empty(cls, settings: Settings, dimension: int) -> Index:
        manifest = settings_fingerprint(settings, dimension) | {"next_id": 0, "documents": {}}
        return cls(None, manifest, {}, [], FaissStore(dimension), LexicalIndex.build([]))

    @classmethod
    def load(cls, index_dir: Path) -> Index:
        """The current generation in `index_dir`; clear errors when it is missing or damaged."""
        folder, manifest = read_manifest(index_dir)
        try:
            documents = {
                d["doc_id"]: DocumentInfo(**d)
                for d in json.loads((folder / "documents.json").read_text(encoding="utf-8"))
            }
            chunks = []
            with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
                for line in fh:
                    row = json.loads(line)
                    row["terms"] = tuple(row["terms"])
                    chunks.append(StoredChunk(**row))
            store = FaissStore.load(folder, int(manifest["embedding_dimension"]), str(manifest.get("faiss_kind", "flat")))
            lexical = LexicalIndex.load(folder, len(chunks))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(
                f"The index in {folder} is damaged or incomplete ({type(exc).__name__}: {exc}).",
                "Rebuild it: qa-bot index --rebuild",
            ) from exc
        if len(store) < len(chunks) or (store.kind == "flat" and len(store) != len(chunks)):
            raise IndexCorruptError(
                f"The index in {folder} is inconsistent ({len(store)} vectors for {len(chunks)} chunks).",
                "Rebuild it: qa-bot index --rebuild",
            )
        return cls(folder, manifest, documents, chunks, store, lexical)

    def save(self, index_dir: Path) -> Path:
        """Write this index as a new generation and make it current (atomic switch)."""
        index_dir.mkdir(parents=True, exist_ok=True)
        name = f"gen-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        tmp = index_dir / f".{name}.tmp"
        tmp.mkdir()
        try:
            (tmp / "documents.json").write_text(
                json.dumps([asdict(d) for d in self.documents.values()], ensure_ascii=False, indent=1), "utf-8"
            )
            with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
                for c in self.chunks:
                    fh.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
            self.store.save(tmp)
            self.lexical.save(tmp)
            self.manifest["sizes"] = _sizes(tmp)  # lets a later update notice a damaged file without loading it
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
        _remove_old_generations(index_dir, keep=name)
        return self.folder


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
    for path in index_dir.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith("gen-") or path.name.endswith(".tmp")):
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
                f"Another qa-bot process is updating the index in {index_dir}.", "Wait for it to finish and retry."
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


def update_index(
    settings: Settings,
    embedder: Embedder | Callable[[], Embedder],
    folders: Sequence[Path] | None = None,
    *,
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Index | None, IndexReport]:
    """Bring the index in INDEX_DIR up to date with the documents: embed only new or changed ones.

    Files whose path, size and modification time match the manifest are not even read, and an
    unchanged corpus loads neither the index nor the model (`embedder` may be a factory): the
    returned Index is then None. `progress(done, total)` is called as chunks are embedded.
    """
    started = time.perf_counter()
    folders = list(folders or [settings.docs_dir])
    index_dir = settings.index_dir
    with writer_lock(index_dir):
        report = IndexReport()
        folder, manifest = _previous_manifest(settings, rebuild, report)
        known: dict[str, dict] = manifest.get("files", {}) if manifest else {}
        stamps: dict[str, dict] = {}

        def unchanged(path: Path) -> bool:
            st = path.stat()
            stamps[path.stem] = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
            return known.get(path.stem) == stamps[path.stem]

        ingested = ingest(folders, unchanged)
        report.warnings += ingested.warnings
        docs = {d.doc_id: d for d in ingested.documents}
        old_hashes: dict[str, str] = dict(manifest["documents"]) if manifest else {}
        current = set(docs) | set(ingested.unchanged)
        report.added = sorted(d for d in docs if d not in old_hashes)
        report.changed = sorted(d for d in docs if d in old_hashes and old_hashes[d] != docs[d].sha256)
        report.removed = sorted(d for d in old_hashes if d not in current)
        report.documents = len(current)
        stamps = {d: stamps[d] for d in sorted(current)}
        to_embed = [docs[d] for d in report.added + report.changed]
        if manifest is not None and folder is not None and not (to_embed or report.removed):
            if manifest.get("files") != stamps:  # touched but identical files: remember their new times
                _write_json_atomic(folder / "manifest.json", manifest | {"files": stamps})
            report.chunks = int(manifest.get("chunks", 0))
            report.seconds = time.perf_counter() - started
            return None, report

        model = embedder if isinstance(embedder, Embedder) else embedder()
        index = Index.load(index_dir) if manifest is not None else Index.empty(settings, model.dimension)
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
        vectors = model.embed_passages([index_text(titles[c.doc_id], c.text) for c in new_chunks], tick)
        gone = set(report.removed) | set(report.changed)
        kept = [c for c in index.chunks if c.doc_id not in gone]
        index.store.remove(np.array([c.vector_id for c in index.chunks if c.doc_id in gone], dtype=np.int64))
        index.store.add(np.array([c.vector_id for c in new_chunks], dtype=np.int64), vectors)
        chunks = kept + new_chunks
        store = index.store.fitted(settings.faiss_index, np.array([c.vector_id for c in chunks], dtype=np.int64))
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        infos = {d: index.documents[d] for d in current if d not in docs}
        infos |= {d.doc_id: DocumentInfo(d.doc_id, d.title, d.date, d.source, d.sha256, d.path, 0) for d in docs.values()}
        documents = {d: replace(infos[d], chunks=counts.get(d, 0)) for d in sorted(infos)}
        manifest = settings_fingerprint(settings, model.dimension) | {
            "next_id": next_id,
            "documents": {d: documents[d].sha256 for d in documents},
            "files": stamps,
            "faiss_kind": store.kind,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "chunks": len(chunks),
        }
        result = Index(None, manifest, documents, chunks, store, LexicalIndex.build([c.terms for c in chunks]))
        result.save(index_dir)
        report.chunks = len(chunks)
        report.embedded_chunks = total
        report.written = True
        report.seconds = time.perf_counter() - started
        return result, report


def _previous_manifest(settings: Settings, rebuild: bool, report: IndexReport) -> tuple[Path | None, dict | None]:
    """The current manifest if it can be built upon; a damaged one is reported and rebuilt from scratch."""
    if rebuild:
        return None, None
    try:
        folder, manifest = read_manifest(settings.index_dir)
    except IndexMissingError:
        return None, None
    except IndexCorruptError as exc:
        report.warnings.append(f"{exc.message} Rebuilding it from the documents.")
        return None, None
    check_manifest(manifest, settings, folder)
    if _sizes(folder) != manifest.get("sizes"):
        report.warnings.append(f"The index in {folder} is damaged or incomplete. Rebuilding it from the documents.")
        return None, None
    return folder, manifest
