"""Stage 4 on Milvus (STORE=milvus): chunks, their lemmas (BM25) and vectors in one collection.

`MILVUS_URI` a local path runs Milvus Lite embedded (default INDEX_DIR/milvus.db); an http(s) URI
talks to a Milvus standalone or cluster with the same code. Lexical search runs inside Milvus over
the pymorphy3-lemmatised, lower-case text (the `standard` tokenizer then only splits it), so both
stores rank from the same lemmas. Chunk metadata and the document date are scalar fields, so a
document filter runs in the engine before the top k is cut. Documents are deleted and upserted by
doc id; the generation folder keeps the manifest, documents.json and the lemma document frequencies.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexCorruptError, QaBotError
from .index import DocumentInfo, Index, StoredChunk
from .settings import Settings

log = logging.getLogger(__name__)

MAX_TEXT = 65_535  # VARCHAR limit (bytes)
BATCH = 1_000  # rows per upsert / query page
CACHE = 4_096  # chunks kept from search results for the chunk(row) calls that follow
CHUNK_FIELDS = ["pk", "chunk_id", "doc_id", "idx", "start", "end", "text", "lemmas"]
_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


class StoreUnavailableError(QaBotError):
    """The Milvus server cannot be reached (or Milvus Lite cannot start)."""


def milvus_uri(settings: Settings) -> str:
    return settings.milvus_uri or str(settings.index_dir / "milvus.db")


def collection_name(settings: Settings) -> str:
    """MILVUS_COLLECTION, or one per index folder (the eval's temporary index never touches the user's)."""
    if settings.milvus_collection:
        return settings.milvus_collection
    return "qa_bot_" + hashlib.sha1(str(settings.index_dir.resolve()).encode()).hexdigest()[:12]


def _is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://", "grpc://"))


def client_for(settings: Settings, uri: str) -> Any:
    """One MilvusClient per URI and process (Milvus Lite starts its engine once)."""
    token = settings.milvus_token.get_secret_value() if settings.milvus_token else ""
    key = (uri, hashlib.sha256(token.encode()).hexdigest())
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        try:
            MilvusClient = _import_client()
        except ImportError as exc:
            raise StoreUnavailableError(
                "STORE=milvus needs pymilvus (and milvus-lite for a local file).",
                "Install them: pip install 'qa-bot[milvus]' (or set STORE=faiss).",
            ) from exc
        except Exception as exc:
            raise StoreUnavailableError(
                f"pymilvus cannot start: {str(exc).splitlines()[0][:200]}.",
                "Check the MILVUS_* variables in the environment, or set STORE=faiss.",
            ) from exc
        if not _is_server(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            # Milvus Lite's in-process gRPC server logs a stack trace for each call it does not
            # implement (AllocTimestamp, asked by pymilvus for strong consistency): not an error for us
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # its lock error is ours to explain
            logging.getLogger("pymilvus").setLevel(logging.ERROR)  # "no mvccTs from Lite, client ts used"
        try:
            client = MilvusClient(uri, token=token, timeout=5) if _is_server(uri) else MilvusClient(uri)
        except Exception as exc:  # pymilvus raises MilvusException, gRPC and OS errors
            where = uri if _is_server(uri) else f"Milvus Lite ({uri})"
            hint = (
                "Start the server (see README: docker compose), check MILVUS_URI and MILVUS_TOKEN, or set STORE=faiss."
                if _is_server(uri)
                else "Milvus Lite opens a file in one process at a time: stop the other qa-bot process, or use a server."
            )
            raise StoreUnavailableError(
                f"Cannot reach {where}: {str(exc).splitlines()[0][:200]}.", hint
            ) from exc
        _clients[key] = client
        return client


def _import_client() -> Any:
    """pymilvus.MilvusClient. pymilvus reads MILVUS_URI from the environment when imported and
    rejects a Milvus Lite file there, which is how our own MILVUS_URI names one: hide it meanwhile."""
    if "pymilvus" in sys.modules:
        from pymilvus import MilvusClient

        return MilvusClient
    ours = os.environ.get("MILVUS_URI")
    if ours is not None and not _is_server(ours):
        del os.environ["MILVUS_URI"]
    try:
        from pymilvus import MilvusClient
    finally:
        if ours is not None:
            os.environ["MILVUS_URI"] = ours
    return MilvusClient


def _expr_in(field: str, values: Collection[str]) -> str:
    return f"{field} in {json.dumps(sorted(values), ensure_ascii=False)}"


class MilvusCollection:
    """The collection holding one index's chunks."""

    def __init__(self, settings: Settings, uri: str | None = None, name: str | None = None) -> None:
        self.settings = settings
        self.uri = uri or milvus_uri(settings)
        self.client = client_for(settings, self.uri)
        self.name = name or collection_name(settings)

    def exists(self) -> bool:
        return bool(self.client.has_collection(self.name))

    def recreate(self, dimension: int) -> None:
        """Drop the collection if it exists and create it empty."""
        from pymilvus import DataType, Function, FunctionType

        if self.exists():
            self.client.drop_collection(self.name)
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=512)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
        schema.add_field("date", DataType.VARCHAR, max_length=16)
        for name in ("idx", "start", "end"):
            schema.add_field(name, DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("lemmas", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})  # fmt: skip
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_function(Function(name="lemmas_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["lemmas"], output_field_names=["sparse"]))  # fmt: skip
        index_params = self.client.prepare_index_params()
        index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                               params={"bm25_k1": 1.2, "bm25_b": 0.75})  # fmt: skip
        if self.settings.faiss_index == "flat":
            index_params.add_index("dense", index_type="FLAT", metric_type="IP")
        else:
            index_params.add_index(
                "dense", index_type="HNSW", metric_type="IP", params={"M": 32, "efConstruction": 200}
            )
        self.client.create_collection(
            self.name, schema=schema, index_params=index_params, consistency_level="Strong"
        )

    def upsert(
        self, chunks: Sequence[StoredChunk], vectors: np.ndarray, dates: dict[str, str | None]
    ) -> None:
        for start in range(0, len(chunks), BATCH):
            rows = [
                {
                    "pk": c.vector_id, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "date": dates.get(c.doc_id) or "",
                    "idx": c.index, "start": c.start, "end": c.end, "text": _fit(c.text), "lemmas": _fit(" ".join(c.terms)),
                    "dense": np.asarray(v, dtype=np.float32).tolist(),
                }
                for c, v in zip(chunks[start : start + BATCH], vectors[start : start + BATCH], strict=True)
            ]  # fmt: skip
            self.client.upsert(self.name, rows)

    def chunks_of(self, doc_ids: Collection[str], fields: list[str] | None = None) -> Iterator[dict]:
        """Every stored row of these documents, page by page."""
        ids = sorted(doc_ids)
        for start in range(0, len(ids), 200):
            expr = _expr_in("doc_id", ids[start : start + 200])
            iterator = self.client.query_iterator(self.name, batch_size=BATCH, filter=expr,
                                                  output_fields=fields or CHUNK_FIELDS)  # fmt: skip
            try:
                while page := iterator.next():
                    yield from page
            finally:
                iterator.close()

    def delete_documents(self, doc_ids: Collection[str]) -> None:
        ids = sorted(doc_ids)
        for start in range(0, len(ids), 200):
            self.client.delete(self.name, filter=_expr_in("doc_id", ids[start : start + 200]))

    def search(
        self, field: str, data: Any, k: int, doc_ids: Collection[str] | None, params: dict
    ) -> list[dict]:
        expr = _expr_in("doc_id", doc_ids) if doc_ids is not None else ""
        found = self.client.search(self.name, data=[data], anns_field=field, limit=k, filter=expr,
                                   output_fields=CHUNK_FIELDS, search_params=params)  # fmt: skip
        return list(found[0]) if found else []

    def get(self, pks: list[int]) -> list[dict]:
        return list(self.client.get(self.name, ids=pks, output_fields=CHUNK_FIELDS))


def _fit(text: str) -> str:
    """Cut a string to the VARCHAR limit (bytes, at a character boundary)."""
    data = text.encode("utf-8")
    return text if len(data) <= MAX_TEXT else data[:MAX_TEXT].decode("utf-8", "ignore")


def _chunk(row: dict) -> StoredChunk:
    return StoredChunk(row["chunk_id"], row["doc_id"], int(row["idx"]), int(row["start"]), int(row["end"]),
                       row["text"], vector_id=int(row["pk"]), terms=tuple(row["lemmas"].split()))  # fmt: skip


class MilvusIndex(Index):
    """The Index read interface over a Milvus collection; `row` is the chunk's primary key."""

    STORE = "milvus"
    VOCABULARY = "vocabulary.json"

    def __init__(
        self,
        folder: Path | None,
        manifest: dict,
        documents: dict[str, DocumentInfo],
        frequencies: dict[str, int],
        collection: MilvusCollection,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.documents = documents
        self.frequencies = frequencies
        self.collection = collection
        self._cache: OrderedDict[int, StoredChunk] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- read interface ----------------------------------------------------------------------

    @property
    def chunk_count(self) -> int:
        return int(self.manifest.get("chunks", 0))

    def chunk(self, row: int) -> StoredChunk:
        with self._cache_lock:
            if row in self._cache:
                return self._cache[row]
        rows = self.collection.get([row])
        if not rows:
            raise KeyError(f"chunk {row} is not in the Milvus collection {self.collection.name}")
        return self._remember(rows)[0]

    def _remember(self, rows: list[dict]) -> list[StoredChunk]:
        chunks = [_chunk(r.get("entity", r) | {"pk": r.get("pk", r.get("id"))}) for r in rows]
        with self._cache_lock:
            for c in chunks:
                self._cache[c.vector_id] = c
                self._cache.move_to_end(c.vector_id)
            while len(self._cache) > CACHE:
                self._cache.popitem(last=False)
        return chunks

    def knows(self, term: str) -> bool:
        return term in self.frequencies

    @property
    def vocabulary(self) -> list[str]:
        return list(self.frequencies)

    def document_frequency(self) -> dict[str, int]:
        return dict(self.frequencies)

    def _known(self, rows: list[dict]) -> list[tuple[StoredChunk, float]]:
        """Hits as (chunk, distance), without chunks of documents this generation does not list
        (another process may be updating the shared collection)."""
        chunks = self._remember(rows)
        return [
            (c, float(r["distance"])) for c, r in zip(chunks, rows, strict=True) if c.doc_id in self.documents
        ]

    def lexical_search(
        self, terms: Sequence[str], k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        known = [t for t in terms if t in self.frequencies]
        if not known or k < 1 or (doc_ids is not None and not doc_ids):
            return []
        rows = self.collection.search("sparse", " ".join(known), k, doc_ids, {"metric_type": "BM25"})
        # Milvus Lite reports BM25 as negative distances, a server as positive scores: the magnitude is the score
        return [(c.vector_id, abs(d)) for c, d in self._known(rows) if d != 0]

    def dense_search(
        self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        if k < 1 or (doc_ids is not None and not doc_ids):
            return []
        data = np.asarray(vector, dtype=np.float32).ravel().tolist()
        rows = self.collection.search(
            "dense", data, k, doc_ids, {"metric_type": "IP", "params": {"ef": max(128, k)}}
        )
        return [(c.vector_id, d) for c, d in self._known(rows)]

    def chunks_of(self, doc_ids: Collection[str]) -> list[StoredChunk]:
        return [_chunk(r) for r in self.collection.chunks_of(doc_ids)]

    # -- generations ---------------------------------------------------------------------------

    @classmethod
    def empty(cls, settings: Settings, manifest: dict) -> MilvusIndex:  # type: ignore[override]
        collection = MilvusCollection(settings)
        collection.recreate(int(manifest["embedding_dimension"]))
        manifest = manifest | {"store": "milvus", "milvus_collection": collection.name, "chunks": 0}
        if not _is_server(collection.uri):  # a Lite file is found again by readers given no settings
            manifest["milvus_lite_path"] = str(Path(collection.uri).resolve())
        return cls(None, manifest, {}, {}, collection)

    @classmethod
    def open(
        cls, folder: Path, manifest: dict, documents: dict[str, DocumentInfo], settings: Settings
    ) -> MilvusIndex:
        uri = settings.milvus_uri or manifest.get("milvus_lite_path")
        collection = MilvusCollection(settings, uri, str(manifest.get("milvus_collection", "")))
        if not collection.exists():
            raise IndexCorruptError(
                f"The index in {folder} lives in the Milvus collection {collection.name!r}, "
                f"which {collection.uri} does not hold (MILVUS_URI changed, or the collection was dropped?).",
                "Restore the settings, or rebuild it: qa-bot index --rebuild",
            )
        collection.client.load_collection(collection.name)  # a new process finds it released
        frequencies = json.loads((folder / cls.VOCABULARY).read_text(encoding="utf-8"))
        return cls(folder, manifest, documents, frequencies, collection)

    def with_changes(
        self,
        settings: Settings,
        gone: set[str],
        new_chunks: list[StoredChunk],
        vectors: np.ndarray,
        documents: dict[str, DocumentInfo],
        manifest: dict,
    ) -> Index:
        """Delete the chunks of `gone`, upsert `new_chunks`, and write the new generation's files.

        The collection is shared by all generations: a crash before the switch leaves chunks the
        current generation does not list (searches skip them; the next update replaces them).
        """
        frequencies = dict(self.frequencies)
        removed = 0
        if gone:
            for row in self.collection.chunks_of(gone, ["pk", "lemmas"]):
                removed += 1
                for term in set(row["lemmas"].split()):
                    if frequencies.get(term, 0) <= 1:
                        frequencies.pop(term, None)
                    else:
                        frequencies[term] -= 1
            self.collection.delete_documents(gone)
        self.collection.upsert(new_chunks, vectors, {d: i.date for d, i in documents.items()})
        for c in new_chunks:
            for term in set(c.terms):
                frequencies[term] = frequencies.get(term, 0) + 1
        chunks = self.chunk_count - removed + len(new_chunks)
        kept = {k: self.manifest[k] for k in ("milvus_collection", "milvus_lite_path") if k in self.manifest}
        manifest = manifest | kept | {"store": "milvus", "chunks": chunks}
        result = MilvusIndex(None, manifest, documents, frequencies, self.collection)
        result.save(settings.index_dir)
        return result

    def _write_payload(self, folder: Path) -> None:
        (folder / self.VOCABULARY).write_text(
            json.dumps(self.frequencies, ensure_ascii=False), encoding="utf-8"
        )
