"""The FAISS store: exact and HNSW search, removals, and the switch FAISS_INDEX=auto makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from support import UDMURTIA

from qa_bot.embed import Embedder
from qa_bot.index import Index, update_index
from qa_bot.retrieve import Retriever
from qa_bot.store import AUTO_HNSW_FROM, FaissStore


def unit_vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_flat_and_hnsw_find_the_same_nearest_vector() -> None:
    vectors = unit_vectors(500)
    ids = np.arange(100, 600, dtype=np.int64)
    for kind in ("flat", "hnsw"):
        store = FaissStore(16, kind)
        store.add(ids, vectors)
        _, found = store.search(vectors[42], 5)
        assert found[0][0] == 142, kind


def test_hnsw_hides_removed_ids_until_compacted() -> None:
    vectors = unit_vectors(400)
    ids = np.arange(400, dtype=np.int64)
    store = FaissStore(16, "hnsw")
    store.add(ids, vectors)
    store.remove(ids[:50])  # HNSW cannot delete: the ids stay until the graph is rebuilt
    assert len(store) == 400
    live = ids[50:]
    assert store.fitted("hnsw", live) is store  # 12.5 % removed: kept as they are
    live = ids[150:]
    compacted = store.fitted("hnsw", live)  # 37.5 % removed: rebuilt from the stored vectors
    assert compacted is not store and len(compacted) == 250
    assert np.allclose(compacted.vectors(live[:3]), vectors[150:153])
    assert compacted.search(vectors[200], 1)[1][0][0] == 200


def test_auto_switches_to_hnsw_for_large_indexes() -> None:
    small = FaissStore(8, "flat")
    small.add(np.arange(10, dtype=np.int64), unit_vectors(10, 8))
    assert small.fitted("auto", np.arange(10, dtype=np.int64)) is small
    ids = np.arange(AUTO_HNSW_FROM, dtype=np.int64)
    vectors = unit_vectors(AUTO_HNSW_FROM, 8, seed=1)
    large = FaissStore(8, "flat")
    large.add(ids, vectors)
    switched = large.fitted("auto", ids)
    assert switched.kind == "hnsw" and len(switched) == AUTO_HNSW_FROM
    assert switched.search(vectors[777], 1)[1][0][0] == 777
    assert large.fitted("flat", ids) is large  # an explicit setting wins


def test_hnsw_index_stays_correct_across_updates(docs: Path, settings_factory, embedder: Embedder) -> None:
    settings = settings_factory(faiss_index="hnsw")
    index, _ = update_index(settings, embedder)
    assert index is not None and index.manifest["faiss_kind"] == "hnsw"
    path = docs / f"{UDMURTIA}.txt"
    path.write_text(
        path.read_text(encoding="utf-8").replace("120 автобусов", "130 автобусов"), encoding="utf-8"
    )
    _, report = update_index(settings, embedder)
    assert report.changed == [UDMURTIA]
    loaded = Index.load(settings.index_dir)
    assert sum(len(s.store) for s in loaded.segments) >= loaded.chunk_count
    hits = Retriever(loaded, embedder).search("Сколько автобусов МАЗ поставят в Удмуртию?", 3, "dense")
    live = {c.vector_id: c for c in loaded.all_chunks()}
    assert hits and all(live.get(h.chunk.vector_id) == h.chunk for h in hits)  # no deleted chunk comes back
    assert not any("120 автобусов" in h.chunk.text for h in hits)
    assert any(
        "130 автобусов" in h.chunk.text for h in Retriever(loaded, embedder).search("130 автобусов МАЗ", 3)
    )


def test_filtered_search_only_returns_the_allowed_ids() -> None:
    vectors = unit_vectors(3000)
    ids = np.arange(3000, dtype=np.int64)
    allowed = ids[::7]
    exact = allowed[np.argsort(-(vectors[allowed] @ vectors[5]), kind="stable")[:5]]
    for kind in ("flat", "hnsw"):
        store = FaissStore(16, kind)
        store.add(ids, vectors)
        _, found = store.search(vectors[5], 5, allowed)
        assert list(found[0]) == list(exact), kind  # filter first, then the top k: exactly the best allowed
        _, few = store.search(vectors[5], 5, np.array([10, 20], dtype=np.int64))
        assert sorted(few[0][:2]) == [10, 20] and list(few[0][2:]) == [-1, -1, -1], kind
