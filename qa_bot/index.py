"""Stage 4: the persistent hybrid index (FAISS vectors + BM25 lemmas + readable chunk metadata).

On disk, `INDEX_DIR/CURRENT` names the generation folder in use. An update writes a complete new
generation next to it and then replaces CURRENT atomically, so a crash or Ctrl-C mid-index leaves
the previous index in use. Retired generations stay on disk for a while (a reader may have read
CURRENT just before the switch), and `Index.load` retries once when CURRENT moved under it.
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
from .lexical import LexicalIndex
from .settings import Settings
from .store import FaissStore, VectorStore, make_vector_store
from .text import lemmas

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
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

    This class is the embedded store: vectors in a VectorStore (FAISS), BM25 in a LexicalIndex,
    chunk metadata in chunks.jsonl. `MilvusIndex` (milvus_store.py) implements the same read
    interface and `with_changes` over a Milvus collection; retrieval uses only that interface.
    """

    STORE = "faiss"

    def __init__(
        self,
        folder: Path | None,
        manifest: dict,
        documents: dict[str, DocumentInfo],
        chunks: list[StoredChunk],
        store: VectorStore,
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

    @cached_property
    def _rows_of_doc(self) -> dict[str, np.ndarray]:
        rows: dict[str, list[int]] = {}
        for row, c in enumerate(self.chunks):
            rows.setdefault(c.doc_id, []).append(row)
        return {d: np.array(r, dtype=np.int64) for d, r in rows.items()}

    def _allowed_rows(self, doc_ids: Collection[str]) -> np.ndarray:
        parts = [self._rows_of_doc[d] for d in set(doc_ids) if d in self._rows_of_doc]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def lexical_search(
        self, terms: Sequence[str], k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        """(row, BM25 score) of the k best chunks with a positive score, best first; only chunks of
        `doc_ids` when given (the filter applies before the top k is cut)."""
        if doc_ids is None:
            scores, rows = self.lexical.search(terms, k)
            return [(int(r), float(s)) for r, s in zip(rows, scores, strict=True)]
        allowed = self._allowed_rows(doc_ids)
        if not len(allowed) or k < 1:
            return []
        scores = self.lexical.scores(terms)
        if not len(scores):
            return []
        sub = scores[allowed]
        top = np.argsort(-sub, kind="stable")[:k]
        return [(int(allowed[i]), float(sub[i])) for i in top if sub[i] > 0]

    def dense_search(
        self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        """(row, cosine) of the k nearest chunks, best first; only chunks of `doc_ids` when given."""
        ids = None
        if doc_ids is not None:
            allowed = self._allowed_rows(doc_ids)
            if not len(allowed):
                return []
            ids = np.array([self.chunks[r].vector_id for r in allowed], dtype=np.int64)
        scores, found = self.store.search(vector, k, ids)
        return [
            (self.row_of_vector[int(v)], float(s))
            for s, v in zip(scores[0], found[0], strict=True)
            if v >= 0 and int(v) in self.row_of_vector
        ]

    def chunks_of(self, doc_ids: Collection[str]) -> list[StoredChunk]:
        """Every stored chunk of these documents."""
        return [self.chunks[int(r)] for r in self._allowed_rows(doc_ids)]

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
        return cls(None, manifest, {}, [], make_vector_store(dimension), LexicalIndex.build([]))

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
            chunks = []
            with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
                for line in fh:
                    row = json.loads(line)
                    row["terms"] = tuple(row["terms"])
                    chunks.append(StoredChunk(**row))
            store = FaissStore.load(
                folder, int(manifest["embedding_dimension"]), str(manifest.get("faiss_kind", "flat"))
            )
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

    def with_changes(
        self,
        settings: Settings,
        gone: set[str],
        new_chunks: list[StoredChunk],
        vectors: np.ndarray,
        documents: dict[str, DocumentInfo],
        manifest: dict,
    ) -> Index:
        """This index without the chunks of `gone`, plus `new_chunks`, written as the new generation."""
        kept = [c for c in self.chunks if c.doc_id not in gone]
        self.store.remove(np.array([c.vector_id for c in self.chunks if c.doc_id in gone], dtype=np.int64))
        self.store.add(np.array([c.vector_id for c in new_chunks], dtype=np.int64), vectors)
        chunks = kept + new_chunks
        store = self.store.fitted(
            settings.faiss_index, np.array([c.vector_id for c in chunks], dtype=np.int64)
        )
        manifest = manifest | {"faiss_kind": store.kind, "chunks": len(chunks)}
        result = Index(
            None, manifest, documents, chunks, store, LexicalIndex.build([c.terms for c in chunks])
        )
        result.save(settings.index_dir)
        return result

    def _write_payload(self, folder: Path) -> None:
        """Everything but documents.json and the manifest, into a new generation's folder."""
        with (folder / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for c in self.chunks:
                fh.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
        self.store.save(folder)
        self.lexical.save(folder)

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
    if _sizes(folder) != manifest.get("sizes"):
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
