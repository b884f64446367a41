"""Stage 3: turn passages and questions into vectors with a sentence-transformers model."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
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
NAVEC_MODEL_VERSION = "navec-news-v1-mean-1"

# Models trained with instruction prefixes; used when the settings give none and the model config has no prompts.
KNOWN_PREFIXES: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "bge-m3": ("", ""),
}


class Embedder(ABC):
    """One small interface for every embedding model: the index and retriever only see this."""

    name: str
    dimension: int

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


def build_navec_model(target: Path) -> None:
    """Wrap navec as a sentence-transformers model (word embeddings + mean pooling) and save it."""
    import torch
    from navec import Navec
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, WordEmbeddings
    from sentence_transformers.sentence_transformer.modules.tokenizer.whitespace import WhitespaceTokenizer

    navec = Navec.load(str(navec_archive()))
    weights = navec.pq.unpack()
    tokenizer = WhitespaceTokenizer(vocab=navec.vocab.words, stop_words=sorted(STOP_WORDS), do_lower_case=True)
    embedding = WordEmbeddings(tokenizer=tokenizer, embedding_weights=torch.from_numpy(weights))
    pooling = Pooling(embedding.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[embedding, pooling], device="cpu")
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")  # two processes may build at once
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    (tmp / "QA_BOT_VERSION").write_text(NAVEC_MODEL_VERSION)
    if (target / "QA_BOT_VERSION").exists():  # another process finished first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
        return
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def load_navec(settings: Settings) -> SentenceTransformer:
    """The navec sentence-transformers model, built once into the cache folder."""
    from sentence_transformers import SentenceTransformer

    target = settings.models_dir / NAVEC_MODEL_VERSION
    marker = target / "QA_BOT_VERSION"
    if not marker.exists():
        log.info("Building the navec sentence-transformers model in %s (once)", target)
        target.parent.mkdir(parents=True, exist_ok=True)
        build_navec_model(target)
    try:
        return SentenceTransformer(str(target), device="cpu", local_files_only=True)
    except Exception:  # a damaged cache: rebuild once
        log.warning("Cached navec model in %s is unreadable; rebuilding it", target)
        shutil.rmtree(target, ignore_errors=True)
        build_navec_model(target)
        return SentenceTransformer(str(target), device="cpu", local_files_only=True)


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
            "or use EMBEDDING_MODEL=navec, which works offline.",
        ) from exc


def load_embedder(settings: Settings) -> Embedder:
    """The embedder named by EMBEDDING_MODEL ("navec" or any sentence-transformers name or path)."""
    name = settings.embedding_model
    if name == NAVEC:
        return SentenceTransformerEmbedder(
            load_navec(settings), NAVEC, batch_size=settings.embedding_batch_size, preprocess=word_vector_text
        )
    hub_cache = settings.models_dir / "hub"
    _check_hub_reachable(name, hub_cache)
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(name, device=settings.embedding_device, cache_folder=str(hub_cache))
    except Exception as exc:  # hub errors, OSError, ValueError: all mean "cannot load this model"
        raise EmbeddingModelError(
            f"Cannot load the embedding model {name!r} (setting EMBEDDING_MODEL): {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}",
            "Check the name or path and your internet connection, or use EMBEDDING_MODEL=navec, "
            "which works offline.",
        ) from exc
    query, passage = _prefixes(settings, model)
    return SentenceTransformerEmbedder(
        model, name, query_prefix=query, passage_prefix=passage, batch_size=settings.embedding_batch_size
    )
