"""The embedded index's segments: BM25 equal to bm25s, one changed document written as one small
segment, tombstones never returned, merges equal to a fresh build, unused segments deleted."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import pytest
from support import SEEDS

from qa_bot.chunk import chunk_document
from qa_bot.errors import IndexCorruptError
from qa_bot.index import DocumentInfo, Index, StoredChunk, index_text, settings_fingerprint
from qa_bot.ingest import read_document
from qa_bot.lexical import Postings, idf
from qa_bot.segments import FOLDER, MERGE_FACTOR
from qa_bot.text import lemmas

DIM = 16


def seed_corpus() -> list[list[str]]:
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        doc, _ = read_document(path)
        out += [lemmas(index_text(doc.title, c.text)) for c in chunk_document(doc, 800, 120)]
    return out


def test_postings_score_like_bm25s() -> None:
    corpus = seed_corpus()
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index(corpus, show_progress=False)
    avgdl = sum(map(len, corpus)) / len(corpus)
    postings = Postings.build(corpus, avgdl)
    df = {t: postings.document_frequency(t) for t in postings.vocabulary}
    for query in (corpus[3][:6], corpus[0][10:14], [corpus[5][2], corpus[5][2], corpus[1][7]]):
        expected = reference.get_scores_from_ids(reference.get_tokens_ids(query))
        got = postings.scores([(t, idf(len(corpus), df[t])) for t in query], len(corpus))
        assert np.allclose(got, expected, rtol=1e-5, atol=1e-6), query
        assert got.max() > 0


def chunks_of(doc_id: str, texts: list[str], first_id: int) -> list[StoredChunk]:
    out = []
    for i, text in enumerate(texts):
        terms = tuple(text.split())
        out.append(StoredChunk(f"{doc_id}#{i}", doc_id, i, i * 100, i * 100 + len(text), text,
                               vector_id=first_id + i, terms=terms))  # fmt: skip
    return out


def vectors(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def word_texts(rng: np.random.Generator, n: int) -> list[str]:
    return [" ".join(f"w{int(r)}" for r in rng.zipf(1.3, 30) % 400) for _ in range(n)]


class Collection:
    """An index written through the real with_changes path, with a record of what it should hold."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.index = Index.empty(settings, DIM)
        self.chunks: dict[str, list[StoredChunk]] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.next_id = 0

    def put(self, docs: dict[str, list[str]], seed: int, gone: set[str] = frozenset()) -> None:
        new: list[StoredChunk] = []
        vecs = []
        self.next_id = int(self.index.manifest["next_id"])  # a merge takes ids too
        for n, (doc_id, texts) in enumerate(docs.items()):
            made = chunks_of(doc_id, texts, self.next_id)
            self.next_id += len(made)
            new += made
            self.chunks[doc_id] = made
            self.vectors[doc_id] = vectors(len(made), seed * 1000 + n)
            vecs.append(self.vectors[doc_id])
        for d in gone:
            self.chunks.pop(d, None)
            self.vectors.pop(d, None)
        documents = {d: DocumentInfo(d, d, None, None, d, f"/x/{d}.txt", len(c)) for d, c in self.chunks.items()}
        manifest = settings_fingerprint(self.settings, DIM) | {"next_id": self.next_id, "files": {}, "sources": []}
        self.index = self.index.with_changes(
            self.settings, set(gone) | set(docs), new, np.concatenate(vecs) if vecs else np.zeros((0, DIM), np.float32),
            documents, manifest,
        )  # fmt: skip

    def fresh(self, tmp: Path) -> Index:
        """The same documents written at once into a new index."""
        other = Collection(self.settings.model_copy(update={"index_dir": tmp}))
        other.put({d: [c.text for c in cs] for d, cs in sorted(self.chunks.items())}, seed=0)
        return other.index


def segment_folders(settings) -> set[str]:
    return {p.name for p in (settings.index_dir / FOLDER).iterdir()}


def test_one_changed_document_writes_one_small_segment(settings_factory, tmp_path: Path) -> None:
    settings = settings_factory()
    rng = np.random.default_rng(0)
    col = Collection(settings)
    col.put({f"d{i:02d}": word_texts(rng, 5) for i in range(40)}, seed=1)
    (big,) = col.index.segments
    written = (big.folder / "chunks.sqlite").stat().st_mtime_ns
    old_chunks = {c.vector_id for c in col.chunks["d07"]}

    col.put({"d07": ["совсем новый текст про лифты", "и второй абзац"]}, seed=2)
    loaded = Index.load(settings.index_dir, settings)
    assert len(loaded.segments) == 2 and loaded.chunk_count == 39 * 5 + 2
    assert (big.folder / "chunks.sqlite").stat().st_mtime_ns == written  # the big segment is not rewritten
    assert [c.text for c in loaded.chunks_of(["d07"])] == ["совсем новый текст про лифты", "и второй абзац"]
    # the old chunks of d07 are tombstones: neither search returns them, filtered or not
    for doc_ids in (None, ["d07", "d08"]):
        lexical = loaded.lexical_search(col.chunks["d08"][0].terms + ("лифты",), 500, doc_ids)
        dense = loaded.dense_search(col.vectors["d08"][0], 500, doc_ids)
        assert lexical and dense
        assert not {r for r, _ in lexical + dense} & old_chunks
    assert loaded.lexical_search(["лифты"], 3)[0][0] == col.chunks["d07"][0].vector_id
    assert loaded.dense_search(col.vectors["d07"][1], 1)[0][0] == col.chunks["d07"][1].vector_id
    with pytest.raises(KeyError):
        loaded.chunk(max(old_chunks) + 10_000)


def test_many_updates_merge_into_what_a_fresh_build_holds(settings_factory, tmp_path: Path) -> None:
    settings = settings_factory()
    rng = np.random.default_rng(3)
    col = Collection(settings)
    col.put({f"d{i:02d}": word_texts(rng, 4) for i in range(30)}, seed=1)
    most = 0
    for step in range(3 * MERGE_FACTOR):
        col.put({f"n{step:02d}": word_texts(rng, 3)}, seed=10 + step, gone={f"d{step:02d}"})
        most = max(most, len(col.index.segments))
    assert most <= 2 * MERGE_FACTOR  # merged as tiers fill up, not one segment per update forever
    assert segment_folders(settings) >= {s.name for s in col.index.segments}
    # segments no kept generation lists are deleted
    kept_generations = [p for p in settings.index_dir.iterdir() if p.name.startswith("gen-")]
    assert len(segment_folders(settings)) <= len(col.index.segments) + 2 * len(kept_generations)

    loaded = Index.load(settings.index_dir, settings)
    fresh = col.fresh(tmp_path / "fresh")
    assert sorted(c.chunk_id for c in loaded.all_chunks()) == sorted(c.chunk_id for c in fresh.all_chunks())
    assert set(loaded.documents) == set(fresh.documents) and loaded.chunk_count == fresh.chunk_count
    for probe in ("n05", "d29", "n20"):
        df = fresh.document_frequency()
        terms = sorted(set(col.chunks[probe][0].terms), key=lambda t: (df[t], t))[:4]  # its rarest lemmas
        ours = [loaded.chunk(r).chunk_id for r, _ in loaded.lexical_search(terms, 5)]
        theirs = [fresh.chunk(r).chunk_id for r, _ in fresh.lexical_search(terms, 5)]
        assert ours[0] == theirs[0] == f"{probe}#0" and len(set(ours) & set(theirs)) >= 4, (probe, ours, theirs)
        nearest = loaded.dense_search(col.vectors[probe][0], 1)[0][0]
        assert loaded.chunk(nearest).chunk_id == f"{probe}#0"


def test_a_damaged_segment_is_reported(settings_factory) -> None:
    settings = settings_factory()
    col = Collection(settings)
    col.put({"a": ["один два три", "четыре пять"]}, seed=1)
    (segment,) = col.index.segments
    (segment.folder / "weights.npy").write_bytes(b"x")
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        Index.load(settings.index_dir, settings)


def test_pruned_top_k_equals_ranking_every_row() -> None:
    """Postings.top (rarest lemmas first, common ones only for rows that can still make the top k)
    returns what scoring every row and sorting returns, with deleted rows and filters too."""
    rng = np.random.default_rng(7)
    corpus = [[f"w{int(r)}" for r in rng.zipf(1.2, 40) % 3000] for _ in range(4000)]
    n = len(corpus)
    postings = Postings.build(corpus, sum(map(len, corpus)) / n)
    dead = np.zeros(n, dtype=bool)
    dead[rng.choice(n, 300, replace=False)] = True
    allowed = np.sort(rng.choice(n, 500, replace=False))
    checked = 0
    for _ in range(60):
        query = [f"w{int(r)}" for r in rng.zipf(1.3, int(rng.integers(1, 6))) % 3000]
        weighted = [(t, idf(n, postings.document_frequency(t))) for t in query if postings.document_frequency(t)]
        if not weighted:
            continue
        full = postings.scores(weighted, n)
        for mask, rows_in in ((None, None), (dead, None), (dead, allowed), (None, allowed)):
            k = int(rng.integers(1, 30))
            rows, scores = postings.top(weighted, k, n, mask, rows_in)
            pool = np.arange(n) if rows_in is None else rows_in
            if mask is not None:
                pool = pool[~mask[pool]]
            pool = pool[full[pool] > 0]
            expected = np.sort(full[pool])[::-1][:k]
            assert np.allclose(scores, expected, rtol=1e-5, atol=1e-6), query  # the same k best scores
            assert np.allclose(full[rows], scores, rtol=1e-5, atol=1e-6)  # each row with its own score
            assert set(rows) <= set(pool)
            checked += 1
    assert checked > 100
