#!/usr/bin/env python
"""Retrieval and indexing benchmark of qa_bot, with a plain baseline measured in the same run.

    python bench/bench_retrieval.py [--sizes 1000,10000,100000] [--queries 200] [--out BENCHMARKS.md]

The settings are the defaults plus the environment: the figures in BENCHMARKS.md were measured with
EMBEDDING_MODEL=navec (the default e5-small embeds a few chunks per second here, so a 100k-chunk
build would take hours).

For each corpus size it generates Russian documents (bench/corpus.py: seed and look-alike
sentences recombined, regions/numbers varied, vocabulary grown from the navec news vocabulary),
and in a fresh subprocess per size (so peak memory does not accumulate):

* build: the real `qa_bot.index.update_index` on that folder (rebuild), with its phases timed by
  wrapping the library functions it calls (ingest, chunk_document, lemmas, embed_passages,
  write_segment with its Postings.build/save and FaissStore.add/save, segment merges, Index.save
  ...); index size on disk (segments: chunks.sqlite, BM25 postings, vectors.faiss); peak RSS; then
  a second `update_index` on the unchanged corpus and a third after changing one document (which
  writes one small segment and a tombstone);
* query: a fresh process loads the index as the CLI does and times `Retriever.search` for the gold
  questions in each mode, the hybrid stages one by one, a cProfile of hybrid search, and the same
  searches done by a baseline (brute-force numpy dense search, a pure-Python BM25 over the same
  lemmas, the same fusion) for ratios.

Then vector search alone: FaissStore flat and HNSW at the largest size and at 1M vectors (the real
navec chunk vectors of the largest index's segments, tiled with small Gaussian perturbations beyond
the real count), with recall of HNSW against flat, next to a numpy brute-force baseline.

The results are printed and written as the "## Retrieval and indexing" section of BENCHMARKS.md
(other sections of the file are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import heapq
import inspect
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from operator import itemgetter
from pathlib import Path

import numpy as np
from sections import write_section

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
SECTION = "## Retrieval and indexing"
MODES = ("bm25", "dense", "hybrid")
P95_TARGET_MS = 20.0
REINDEX_TARGET = 0.10


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def timings(call, items) -> list[float]:
    """Seconds that `call(item)` took, for each item."""
    out = []
    for item in items:
        t = time.perf_counter()
        call(item)
        out.append(time.perf_counter() - t)
    return out


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"p50": pct(ms, 50), "p95": pct(ms, 95), "mean": float(np.mean(ms)) if ms else float("nan")}


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


DISK_KINDS = {"vectors.faiss": "vectors.faiss", "chunks.sqlite": "chunks.sqlite", "vocabulary.json": "bm25 postings",
              "indptr.npy": "bm25 postings", "rows.npy": "bm25 postings", "weights.npy": "bm25 postings"}  # fmt: skip


def index_disk(index) -> dict[str, int]:
    """Bytes on disk of a loaded generation by kind: its segments' files and its own JSON files."""
    out: dict[str, int] = defaultdict(int)
    out["JSON (generation, segment.json)"] = folder_bytes(Path(index.folder))
    for segment in index.segments:
        for path in segment.folder.iterdir():
            out[DISK_KINDS.get(path.name, "JSON (generation, segment.json)")] += path.stat().st_size
    return dict(out)


def live_rows(index) -> tuple[np.ndarray, list[tuple[object, np.ndarray]]]:
    """Vector ids of the live chunks in id order, and per segment (segment, its live local rows)."""
    parts = []
    for segment in index.segments:
        keep = np.ones(segment.size, dtype=bool)
        keep[segment.dead_rows] = False
        parts.append((segment, np.flatnonzero(keep).astype(np.int64)))
    ids = np.concatenate([s.first_id + rows for s, rows in parts]) if parts else np.zeros(0, np.int64)
    return ids, parts


def live_vectors(index) -> tuple[np.ndarray, np.ndarray]:
    """(vector ids, vectors) of the live chunks, in id order."""
    ids, parts = live_rows(index)
    return ids, np.concatenate([s.vectors(rows) for s, rows in parts]).astype(np.float32)


def make_settings(docs: str | Path, index: str | Path):
    from qa_bot.settings import Settings

    # No .env file: the benchmark measures the defaults (environment variables still apply).
    return Settings(_env_file=None, docs_dir=Path(docs), index_dir=Path(index))


def gold_questions() -> list[dict]:
    rows = []
    with (ROOT / "eval" / "gold.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def query_list(n: int) -> list[str]:
    questions = [g["question"] for g in gold_questions()]
    return [questions[i % len(questions)] for i in range(n)]


class Phases:
    """Times library functions by wrapping them in place (the library files are not touched)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.missing: list[str] = []
        self._undo: list[tuple[object, str, object]] = []

    def patch(self, owner: object, attr: str, name: str) -> None:
        raw = inspect.getattr_static(owner, attr, None)
        if raw is None:
            self.missing.append(name)
            return
        wrapper_kind = type(raw) if isinstance(raw, (classmethod, staticmethod)) else None
        func = raw.__func__ if wrapper_kind else raw
        seconds, calls = self.seconds, self.calls

        @functools.wraps(func)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - start
                calls[name] += 1

        setattr(owner, attr, wrapper_kind(timed) if wrapper_kind else timed)
        self._undo.append((owner, attr, raw))

    def take(self) -> dict[str, float]:
        out = dict(self.seconds)
        self.seconds.clear()
        self.calls.clear()
        return out

    def undo(self) -> None:
        for owner, attr, raw in reversed(self._undo):
            setattr(owner, attr, raw)
        self._undo.clear()


def install_build_phases(embedder_cls: type) -> Phases:
    import qa_bot.index as qindex
    from qa_bot.lexical import Postings
    from qa_bot.segments import Segment
    from qa_bot.store import FaissStore

    ph = Phases()
    for owner, attr, name in [
        (qindex, "scan", "ingest"),  # collection.scan: stat, read, clean, hash the changed files
        (qindex, "chunk_document", "chunking"),
        (qindex, "lemmas", "lemmatising"),
        (qindex, "build_chunks", "build_chunks"),
        (embedder_cls, "embed_passages", "embedding"),
        (qindex, "write_segment", "write_segment"),  # SQLite chunks + the four below + fsync
        (FaissStore, "add", "faiss_add"),
        (FaissStore, "save", "faiss_write"),
        (Postings, "build", "bm25_build"),
        (Postings, "save", "bm25_write"),
        (Segment, "all_rows", "merge_read_rows"),  # only _merge reads whole segments
        (Segment, "vectors", "merge_read_vectors"),  # (loads the segment's FAISS file first)
        (qindex.Index, "save", "index_save"),  # the generation: documents.json, manifest, fsync
        (qindex.Index, "load", "index_load"),
        (qindex, "_fsync_tree", "fsync"),
    ]:
        ph.patch(owner, attr, name)
    return ph


def tidy_phases(raw: dict[str, float], total: float) -> dict[str, float]:
    """Exclusive phase times (nested calls subtracted) that add up to `total`."""
    g = defaultdict(float, raw)
    inside_segment = g["faiss_add"] + g["faiss_write"] + g["bm25_build"] + g["bm25_write"]
    out = {
        "ingest (read, clean, hash)": g["ingest"],
        "load previous index": g["index_load"],
        "chunking": g["chunking"],
        "lemmatising": g["lemmatising"],
        "embedding": g["embedding"],
        "FAISS add": g["faiss_add"],
        "BM25 build": g["bm25_build"],
        "merge: read segments": g["merge_read_rows"] + g["merge_read_vectors"],
        "write: segment chunks SQLite + fsync": max(0.0, g["write_segment"] - inside_segment),
        "write: FAISS": g["faiss_write"],
        "write: BM25": g["bm25_write"],
        "write: generation JSON": g["index_save"] - g["fsync"],
        "write: fsync": g["fsync"],
    }
    out["other (chunk objects, diffing, manifest)"] = max(0.0, total - sum(out.values()))
    return out


# ---------------------------------------------------------------------------------------------
# baseline: a naive BM25 and brute-force numpy dense search
# ---------------------------------------------------------------------------------------------
class NaiveBM25:
    """BM25 (Lucene idf, k1=1.2, b=0.75, as qa_bot.lexical.Postings) with Python dict postings."""

    def __init__(self, docs_terms, k1: float = 1.2, b: float = 0.75) -> None:
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for row, terms in enumerate(docs_terms):
            lengths.append(len(terms))
            for term, tf in Counter(terms).items():
                postings.setdefault(term, []).append((row, tf))
        n = max(1, len(lengths))
        avg = (sum(lengths) / n) or 1.0
        self.norm = [k1 * (1 - b + b * length / avg) for length in lengths]
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
        self.postings = postings

    def top(self, terms, k: int) -> list[tuple[int, float]]:
        acc: dict[int, float] = {}
        norm = self.norm
        for term in terms:
            plist = self.postings.get(term)
            if not plist:
                continue
            idf = self.idf[term]
            for row, tf in plist:
                acc[row] = acc.get(row, 0.0) + idf * tf / (tf + norm[row])
        return heapq.nlargest(k, acc.items(), key=itemgetter(1))


def numpy_top(matrix: np.ndarray, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = matrix @ vector
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    return scores[top], top


def fuse(bm25: dict[int, float], dense: dict[int, float], w: float) -> dict[int, float]:
    """The same convex fusion of max-normalised BM25 and cosine as qa_bot.retrieve.Retriever._fuse."""
    top_b = max(bm25.values(), default=0.0) or 1.0
    return {r: (1 - w) * bm25.get(r, 0.0) / top_b + w * dense.get(r, 0.0) for r in set(bm25) | set(dense)}


# ---------------------------------------------------------------------------------------------
# corpus preparation (main process)
# ---------------------------------------------------------------------------------------------
def real_documents() -> list[Path]:
    return sorted((ROOT / "seeds").glob("*.txt")) + sorted((ROOT / "eval" / "distractors").glob("*.txt"))


def prepare_corpus(workdir: Path, sizes: list[int], seed: int) -> dict:
    from corpus import CorpusGenerator

    from qa_bot.chunk import chunk_document
    from qa_bot.ingest import parse_document

    settings = make_settings(workdir, workdir / "unused-index")
    started = time.perf_counter()
    reals = real_documents()
    sources = [p.read_text(encoding="utf-8") for p in reals]
    lookalikes = sorted((ROOT / "tests" / "data" / "lookalikes").glob("*.txt"))
    sources += [p.read_text(encoding="utf-8") for p in lookalikes]

    def n_chunks(doc_id: str, text: str) -> int:
        return len(chunk_document(parse_document(doc_id, text), settings.chunk_size, settings.chunk_overlap))

    real_chunks = sum(n_chunks(p.stem, p.read_text(encoding="utf-8")) for p in reals)
    gen = CorpusGenerator(sources, seed=seed)
    sample = [n_chunks(f"s{i}", gen.document(i)) for i in range(200)]
    per_doc = sum(sample) / len(sample)
    wanted = {n: max(0, round((n - real_chunks) / per_doc)) for n in sizes}
    pool = workdir / "pool"
    log(f"generating {max(wanted.values())} synthetic documents (~{per_doc:.1f} chunks each)")
    gen.write(pool, 0, max(wanted.values()))
    folders = {}
    for n in sizes:
        folder = workdir / f"docs_{n}"
        folder.mkdir(parents=True, exist_ok=True)
        for p in reals:
            shutil.copyfile(p, folder / p.name)
        for i in range(wanted[n]):
            name = f"syn_{i:06d}.txt"
            os.link(pool / name, folder / name)
        folders[n] = str(folder)
    return {
        "seconds": time.perf_counter() - started,
        "real_documents": len(reals),
        "real_chunks": real_chunks,
        "template_sentences": len(gen.sentences),
        "noun_lexicon": len(gen.lexicon),
        "chunks_per_synthetic_doc": per_doc,
        "synthetic_docs": wanted,
        "folders": folders,
        "sample_document": gen.document(0)[:700],
    }


# ---------------------------------------------------------------------------------------------
# worker: build
# ---------------------------------------------------------------------------------------------
def worker_build(p: dict) -> dict:
    from qa_bot.embed import load_embedder
    from qa_bot.index import update_index

    settings = make_settings(p["docs"], p["index"])
    rss_start = rss_mb()
    t = time.perf_counter()
    embedder = load_embedder(settings)
    model_seconds = time.perf_counter() - t
    rss_model = rss_mb()
    phases = install_build_phases(type(embedder))

    log(f"build {p['size']}: full build")
    t = time.perf_counter()
    index, report = update_index(settings, embedder, rebuild=True)
    full = time.perf_counter() - t
    full_phases = tidy_phases(phases.take(), full)
    peak_build = peak_rss_mb()
    disk = index_disk(index)
    chunks, documents, embedded = report.chunks, report.documents, report.embedded_chunks
    del index
    gc.collect()

    log(f"build {p['size']}: re-index, nothing changed")
    t = time.perf_counter()
    index, report2 = update_index(settings, embedder)
    unchanged = time.perf_counter() - t
    unchanged_phases = tidy_phases(phases.take(), unchanged)
    del index
    gc.collect()

    docs = Path(p["docs"])
    victims = sorted(docs.glob("syn_*.txt")) or sorted(docs.glob("*.txt"))
    victim = victims[len(victims) // 2]
    text = victim.read_text(encoding="utf-8")
    tmp = victim.with_name(".bench-edit.tmp")
    tmp.write_text(text + "\nДополнительно сообщается, что стороны подпишут соглашение в декабре.\n", "utf-8")
    os.replace(tmp, victim)  # a new inode: the hard-linked copies of the other sizes stay unchanged
    log(f"build {p['size']}: re-index after changing {victim.name}")
    t = time.perf_counter()
    index3, report3 = update_index(settings, embedder)
    one = time.perf_counter() - t
    segments_after = len(index3.segments) if index3 is not None else 0
    del index3
    one_phases = tidy_phases(phases.take(), one)
    phases.undo()

    return {
        "size": p["size"],
        "documents": documents,
        "chunks": chunks,
        "embedded_chunks": embedded,
        "model_load_s": model_seconds,
        "full_s": full,
        "full_phases": full_phases,
        "unchanged_s": unchanged,
        "unchanged_written": report2.written,
        "unchanged_phases": unchanged_phases,
        "one_changed_s": one,
        "one_changed_doc": victim.name,
        "one_changed_embedded": report3.embedded_chunks,
        "one_changed_phases": one_phases,
        "segments_after_one_changed": segments_after,
        "disk_bytes": disk,
        "disk_total": sum(disk.values()),
        "rss_start_mb": rss_start,
        "rss_model_mb": rss_model,
        "peak_rss_mb": max(peak_build, peak_rss_mb()),
        "peak_rss_full_build_mb": peak_build,
        "missing_hooks": phases.missing,
        "settings": {
            k: getattr(settings, k)
            for k in (
                "embedding_model",
                "chunk_size",
                "chunk_overlap",
                "faiss_index",
                "hybrid_dense_weight",
                "top_k",
            )
        },
    }


# ---------------------------------------------------------------------------------------------
# worker: query
# ---------------------------------------------------------------------------------------------
def profile_rows(profiler, limit: int = 14) -> dict[str, list[dict]]:
    import pstats

    stats = pstats.Stats(profiler)
    rows = []
    for (path, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "bench_retrieval" in path:
            continue
        short = path
        for marker in ("site-packages/", f"{ROOT}/", "lib/python3.11/"):
            if marker in short:
                short = short.split(marker, 1)[1]
                break
        rows.append(
            {"function": f"{short}:{line}({func})", "calls": ncalls, "tottime": tottime, "cumtime": cumtime}
        )
    total = max(
        (r["cumtime"] for r in rows if r["function"].endswith("(search)") and "retrieve" in r["function"]),
        default=0,
    )
    return {
        "total_s": total,
        "by_tottime": sorted(rows, key=lambda r: -r["tottime"])[:limit],
        "by_cumtime": sorted(rows, key=lambda r: -r["cumtime"])[: limit + 6],
    }


def worker_query(p: dict) -> dict:
    import cProfile

    import faiss

    from qa_bot.embed import load_embedder
    from qa_bot.index import Index
    from qa_bot.retrieve import CANDIDATES, Retriever
    from qa_bot.store import FaissStore
    from qa_bot.text import lemmas

    settings = make_settings(p["docs"], p["index"])
    k = settings.top_k
    pool = max(CANDIDATES, k)
    t = time.perf_counter()
    embedder = load_embedder(settings)
    model_s = time.perf_counter() - t
    rss_model = rss_mb()
    t = time.perf_counter()
    index = Index.load(settings.index_dir)
    load_s = time.perf_counter() - t
    rss_index = rss_mb()
    n_chunks = index.chunk_count
    questions = query_list(p["queries"])
    retriever = Retriever(index, embedder, mode="hybrid", dense_weight=settings.hybrid_dense_weight)

    t = time.perf_counter()
    retriever.search(questions[0], k, "hybrid")  # builds the retriever's lazy caches
    cold_ms = (time.perf_counter() - t) * 1000
    for q in questions[:10]:
        for mode in MODES:
            retriever.search(q, k, mode)

    log(f"query {p['size']}: ours, {len(questions)} queries x {len(MODES)} modes")
    ours = {mode: timings(lambda q, m=mode: retriever.search(q, k, m), questions) for mode in MODES}

    # Top-1 document on answerable gold questions (synthetic look-alikes make this hard on purpose).
    gold = [g for g in gold_questions() if g.get("answerable") and g.get("sources")]
    top1 = {}
    for mode in MODES:
        ok = 0
        for g in gold:
            hits = retriever.search(g["question"], k, mode)
            ok += bool(hits) and hits[0].chunk.doc_id in g["sources"]
        top1[mode] = ok / max(1, len(gold))

    # Hybrid stage by stage, with the same calls Retriever.search makes.
    stages: dict[str, list[float]] = defaultdict(list)
    for q in questions:
        t0 = time.perf_counter()
        terms = retriever.query_terms(q)
        t1 = time.perf_counter()
        index.lexical_search(terms, pool)
        t2 = time.perf_counter()
        vec = embedder.embed_query(q)
        t3 = time.perf_counter()
        index.dense_search(vec, pool)
        t4 = time.perf_counter()
        stages["query_terms (lemmas + difflib)"].append(t1 - t0)
        stages["Index.lexical_search (segment postings)"].append(t2 - t1)
        stages["embed_query (navec)"].append(t3 - t2)
        stages["Index.dense_search (segment FaissStores)"].append(t4 - t3)

    # Proposed: single-threaded FAISS for single-query search (see the vector-search table).
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    variant = {m: timings(lambda q, m=m: retriever.search(q, k, m), questions) for m in ("dense", "hybrid")}
    faiss.omp_set_num_threads(threads)

    profiler = cProfile.Profile()
    profiler.enable()
    for q in questions:
        retriever.search(q, k, "hybrid")
    profiler.disable()
    profile = profile_rows(profiler)

    # ---- baseline, over the same chunks, lemmas and vectors ----
    log(f"query {p['size']}: baseline")
    rss_before_base = rss_mb()
    t = time.perf_counter()
    # the live chunks' vectors in vector-id order (tombstoned chunks of older segments are skipped);
    # the baseline's row i is the chunk with vector id ids[i]
    ids, matrix = live_vectors(index)
    matrix_s = time.perf_counter() - t
    chunks = index.all_chunks()
    assert [c.vector_id for c in chunks] == ids.tolist()
    t = time.perf_counter()
    naive = NaiveBM25([c.terms for c in chunks])
    del chunks
    naive_build_s = time.perf_counter() - t
    rss_after_base = rss_mb()
    base_npy = Path(p["workdir"]) / f"baseline_vectors_{p['size']}.npy"
    np.save(base_npy, matrix)
    base_npy_bytes = base_npy.stat().st_size
    base_npy.unlink()
    w = settings.hybrid_dense_weight

    def base_search(q: str, mode: str) -> list[tuple[int, float]]:
        b: dict[int, float] = {}
        d: dict[int, float] = {}
        if mode in ("bm25", "hybrid"):
            b = dict(naive.top(lemmas(q), pool))
        if mode in ("dense", "hybrid"):
            scores, rows = numpy_top(matrix, embedder.embed_query(q), pool)
            d = dict(zip(rows.tolist(), scores.tolist()))
        fused = b if mode == "bm25" else d if mode == "dense" else fuse(b, d, w)
        return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]

    for q in questions[:10]:
        for mode in MODES:
            base_search(q, mode)
    base = {mode: timings(lambda q, m=mode: base_search(q, m), questions) for mode in MODES}

    # Components alone, same inputs: BM25 search and dense vector search.
    comp: dict[str, list[float]] = defaultdict(list)
    agree_bm25 = []
    agree_dense = []
    unique = list(dict.fromkeys(questions))
    vectors = [embedder.embed_query(q) for q in unique]
    for q, vec in zip(unique, vectors, strict=True):
        terms = lemmas(q)
        t0 = time.perf_counter()
        ours_rows = [r for r, _ in index.lexical_search(terms, pool)]
        t1 = time.perf_counter()
        naive_rows = [int(ids[r]) for r, _ in naive.top(terms, pool)]
        t2 = time.perf_counter()
        ours_ids = [r for r, _ in index.dense_search(vec, pool)]
        t3 = time.perf_counter()
        _, np_rows = numpy_top(matrix, vec, pool)
        t4 = time.perf_counter()
        comp["bm25_ours"].append(t1 - t0)
        comp["bm25_naive"].append(t2 - t1)
        comp["dense_faiss"].append(t3 - t2)
        comp["dense_numpy"].append(t4 - t3)
        if len(naive_rows):
            agree_bm25.append(len(set(ours_rows[:10]) & set(naive_rows[:10])) / min(10, len(naive_rows)))
        agree_dense.append(len(set(ours_ids[:10]) & set(ids[np_rows[:10]].tolist())) / 10)
    qvec = np.vstack([embedder.embed_query(g["question"]) for g in gold_questions()]).astype(np.float32)
    np.save(p["qvec"], qvec)

    # Approximate vector stores under the same Retriever (large sizes only): latency, and how often the
    # hybrid top-k differs from the exact (flat) one. The store swapped is the largest segment's (after
    # the one-document update the index also holds that document's small segment, left as it is).
    stores: dict[str, dict] = {}
    if n_chunks >= p.get("store_variants_min", 50_000):
        del matrix
        gc.collect()
        segment = max(index.segments, key=lambda s: s.size)
        rows = np.arange(segment.size, dtype=np.int64)  # a segment's FAISS ids are its local rows
        raw = segment.vectors(rows)
        own_store = segment.store  # what FAISS_INDEX (default auto) built for this segment
        flat_store = FaissStore(own_store.dimension, "flat")
        t = time.perf_counter()
        flat_store.add(rows, raw)
        flat_build = time.perf_counter() - t
        segment._store = flat_store
        exact = {q: [h.chunk.chunk_id for h in retriever.search(q, k, "hybrid")] for q in unique}
        hnsw = FaissStore(flat_store.dimension, "hnsw")
        t = time.perf_counter()
        hnsw.add(rows, raw)
        hnsw_build = time.perf_counter() - t
        nlist = min(256, max(1, segment.size // 39))
        quantizer = faiss.IndexFlatIP(flat_store.dimension)
        ivf_index = faiss.IndexIVFFlat(quantizer, flat_store.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        t = time.perf_counter()
        ivf_index.train(
            raw[np.random.default_rng(3).choice(len(raw), min(len(raw), 64 * nlist), replace=False)]
        )
        ivf_index.add_with_ids(raw, rows)
        ivf_build = time.perf_counter() - t
        del raw

        class IVFStore:  # what Segment.dense needs of a store
            def search(self, vector: np.ndarray, k: int, ids=None, exclude=None):
                chosen = ids if ids is not None else exclude
                selector = (
                    faiss.IDSelectorBatch(np.ascontiguousarray(chosen, dtype=np.int64))
                    if chosen is not None and len(chosen)
                    else None
                )
                if selector is not None and ids is None:
                    selector = faiss.IDSelectorNot(selector)
                params = (
                    faiss.SearchParametersIVF(sel=selector, nprobe=32)
                    if selector
                    else faiss.SearchParametersIVF(nprobe=32)
                )
                return ivf_index.search(
                    np.ascontiguousarray(np.atleast_2d(vector), dtype=np.float32), k, params=params
                )

        for name, store, build_s, one_thread in [
            ("flat store (FAISS_INDEX=flat, exact)", flat_store, flat_build, True),
            ("HNSW store (FAISS_INDEX=hnsw / auto from 50k chunks, efSearch 128)", hnsw, hnsw_build, True),
            (f"IVF{nlist},Flat store nprobe 32, faiss 1 thread (candidate)", IVFStore(), ivf_build, True),
        ]:
            segment._store = store  # type: ignore[assignment]
            if one_thread:
                faiss.omp_set_num_threads(1)
            for q in questions[:10]:
                retriever.search(q, k, "hybrid")
            times = timings(lambda q: retriever.search(q, k, "hybrid"), questions)
            same_top1 = same_topk = 0
            for q in unique:
                got = [h.chunk.chunk_id for h in retriever.search(q, k, "hybrid")]
                same_top1 += got[:1] == exact[q][:1]
                same_topk += got == exact[q]
            ok = 0
            for g in gold:
                hits = retriever.search(g["question"], k, "hybrid")
                ok += bool(hits) and hits[0].chunk.doc_id in g["sources"]
            faiss.omp_set_num_threads(threads)
            stores[name] = {
                **summary_ms(times),
                "build_s": build_s,
                "same_top1": same_top1 / len(unique),
                "same_topk": same_topk / len(unique),
                "top1_gold": ok / max(1, len(gold)),
            }
        segment._store = own_store

    return {
        "size": p["size"],
        "chunks": n_chunks,
        "queries": len(questions),
        "model_load_s": model_s,
        "index_load_s": load_s,
        "rss_model_mb": rss_model,
        "rss_index_mb": rss_index,
        "index_rss_mb": rss_index - rss_model,
        "baseline_rss_mb": rss_after_base - rss_before_base,
        "baseline_build": {
            "numpy_matrix_s": matrix_s,
            "naive_bm25_s": naive_build_s,
            "npy_bytes": base_npy_bytes,
        },
        "peak_rss_mb": peak_rss_mb(),
        "cold_first_query_ms": cold_ms,
        "ours": {m: summary_ms(v) for m, v in ours.items()},
        "ours_faiss_1_thread": {m: summary_ms(v) for m, v in variant.items()},
        "stores": stores,
        "baseline": {m: summary_ms(v) for m, v in base.items()},
        "components": {m: summary_ms(v) for m, v in comp.items()},
        "stages": {m: summary_ms(v) for m, v in stages.items()},
        "agreement_top10": {"bm25": float(np.mean(agree_bm25)), "dense": float(np.mean(agree_dense))},
        "top1_gold": top1,
        "vocabulary": len(index.vocabulary),
        "segments": len(index.segments),
        "profile": profile,
    }


# ---------------------------------------------------------------------------------------------
# worker: vector search alone (FaissStore flat / HNSW, numpy), up to 1M vectors
# ---------------------------------------------------------------------------------------------
def worker_vectors(p: dict) -> dict:
    import faiss

    from qa_bot.index import Index
    from qa_bot.retrieve import CANDIDATES
    from qa_bot.store import FaissStore

    real = live_vectors(Index.load(Path(p["index"])))[1]  # the largest index's live chunk vectors
    dim = real.shape[1]
    rng = np.random.default_rng(7)
    gold_q = np.load(p["qvec"])
    extra = gold_q[rng.integers(0, len(gold_q), max(0, p["queries"] - len(gold_q)))]
    extra = extra + rng.normal(0, 0.02, extra.shape).astype(np.float32)
    queries = np.vstack([gold_q, extra])[: p["queries"]].astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    sigma = p["noise"] / math.sqrt(dim)
    k = CANDIDATES
    threads = faiss.omp_get_max_threads()
    out = {
        "real_vectors": len(real),
        "dim": dim,
        "noise_norm": p["noise"],
        "queries": len(queries),
        "sizes": {},
    }

    active = queries

    def timed_search(search) -> tuple[dict, list[np.ndarray]]:
        search(active[0])
        times, found = [], []
        for q in active:
            t = time.perf_counter()
            ids = search(q)
            times.append(time.perf_counter() - t)
            found.append(ids)
        return summary_ms(times), found

    def recall(found: list[np.ndarray], truth: list[np.ndarray]) -> dict[str, float]:
        return {
            "recall@10": float(
                np.mean([len(set(f[:10]) & set(t[:10])) / 10 for f, t in zip(found, truth, strict=True)])
            ),
            "recall@50": float(
                np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
            ),
        }

    for n in p["sizes"]:
        log(f"vectors {n}: making the matrix")
        reps = math.ceil(n / len(real))
        X = np.empty((n, dim), dtype=np.float32)
        for r in range(reps):
            lo, hi = r * len(real), min(n, (r + 1) * len(real))
            part = real[: hi - lo]
            if r:
                part = part + rng.normal(0, sigma, part.shape).astype(np.float32)
                part /= np.linalg.norm(part, axis=1, keepdims=True)
            X[lo:hi] = part
        ids_all = np.arange(n, dtype=np.int64)
        active = queries if n <= 300_000 else queries[: min(len(queries), 100)]  # exact search is slow there
        out.setdefault("queries_by_size", {})[str(n)] = len(active)
        row: dict[str, dict] = {}
        kinds = ["flat"] + (["hnsw"] if n <= p["hnsw_max"] else [])
        truth: list[np.ndarray] = []
        for kind in kinds:
            gc.collect()
            rss0 = rss_mb()
            log(f"vectors {n}: FaissStore({kind!r}) add")
            t = time.perf_counter()
            store = FaissStore(dim, kind)
            for lo in range(0, n, 100_000):
                store.add(ids_all[lo : lo + 100_000], X[lo : lo + 100_000])
            build_s = time.perf_counter() - t
            mem = rss_mb() - rss0
            if kind == "flat":
                stats, truth = timed_search(lambda q, s=store: s.search(q, k)[1][0])
                row["FaissStore flat"] = {"build_s": build_s, "rss_mb": mem, **stats}
                faiss.omp_set_num_threads(1)
                stats, _ = timed_search(lambda q, s=store: s.search(q, k)[1][0])
                faiss.omp_set_num_threads(threads)
                row["FaissStore flat, faiss 1 thread"] = {
                    "build_s": build_s,
                    "rss_mb": mem,
                    **stats,
                }
                name = "FaissStore flat"
            else:
                for ef in (64, 128):
                    faiss.downcast_index(store.index.index).hnsw.efSearch = ef
                    stats, found = timed_search(lambda q, s=store: s.search(q, k)[1][0])
                    row[f"FaissStore hnsw, efSearch {ef}"] = {
                        "build_s": build_s,
                        "rss_mb": mem,
                        **stats,
                        **recall(found, truth),
                    }
                faiss.omp_set_num_threads(1)
                stats, found = timed_search(lambda q, s=store: s.search(q, k)[1][0])
                faiss.omp_set_num_threads(threads)
                row["FaissStore hnsw, efSearch 128, faiss 1 thread"] = {
                    "build_s": build_s,
                    "rss_mb": mem,
                    **stats,
                    **recall(found, truth),
                }
                faiss.downcast_index(store.index.index).hnsw.efSearch = 64
                name = "FaissStore hnsw, efSearch 64"
            if n == p["sizes"][0]:
                log(f"vectors {n}: FaissStore({kind!r}).remove of 6 ids (one changed document)")
                t = time.perf_counter()
                store.remove(np.arange(6, dtype=np.int64))
                row[name]["remove_6_ids_s"] = time.perf_counter() - t
            del store

        # Not in qa_bot yet: an inverted-file index, which trains in seconds and supports remove_ids.
        nlist = min(256 if n <= 300_000 else 1024, max(1, n // 39))
        gc.collect()
        rss0 = rss_mb()
        log(f"vectors {n}: IVF{nlist},Flat (candidate)")
        t = time.perf_counter()
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = X[rng.choice(n, min(n, 64 * nlist), replace=False)]
        ivf.train(sample)
        ivf.add_with_ids(X, ids_all)
        build_s = time.perf_counter() - t
        mem = rss_mb() - rss0
        faiss.omp_set_num_threads(1)
        for nprobe in (16, 32):
            ivf.nprobe = nprobe
            stats, found = timed_search(lambda q, i=ivf: i.search(q[None, :], k)[1][0])
            row[f"IVF{nlist},Flat nprobe {nprobe}, 1 thread (candidate)"] = {
                "build_s": build_s,
                "rss_mb": mem,
                **stats,
                **recall(found, truth),
            }
        faiss.omp_set_num_threads(threads)
        del ivf, quantizer

        stats, _ = timed_search(lambda q, m=X: numpy_top(m, q, k)[1])
        row["numpy brute force (baseline)"] = {"build_s": 0.0, "rss_mb": X.nbytes / 2**20, **stats}
        out["sizes"][str(n)] = row
        del X
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# ---------------------------------------------------------------------------------------------
# orchestration, report
# ---------------------------------------------------------------------------------------------
def run_worker(kind: str, params: dict, workdir: Path) -> dict:
    out = workdir / f"result_{kind}_{params.get('size', 'x')}.json"
    params = {**params, "out": str(out)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--params", json.dumps(params)]
    subprocess.run(cmd, check=True, cwd=str(ROOT))
    return json.loads(out.read_text(encoding="utf-8"))


def machine_info() -> dict:
    import psutil

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(mod: str) -> str:
        try:
            return __import__(mod).__version__
        except Exception:  # noqa: BLE001
            return "n/a"

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "ram_gb": psutil.virtual_memory().total / 2**30,
        "python": platform.python_version(),
        "faiss": version("faiss"),
        "torch": version("torch"),
        "numpy": version("numpy"),
        "bm25s": version("bm25s"),
        "sentence_transformers": version("sentence_transformers"),
        "commit": commit or "n/a",
        "loadavg_start": os.getloadavg(),
    }


def fmt_s(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def fmt_ms(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f}"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render(run: dict) -> str:
    m = run["machine"]
    corpus = run["corpus"]
    builds = run["builds"]
    queries = run["queries"]
    vec = run.get("vectors")
    any_build = next(iter(builds.values()))
    st = any_build["settings"]
    out = [SECTION, ""]
    out.append(
        f"Measured {run['date']} with `{run['command']}` (commit {m['commit']}, {run['wall_s'] / 60:.1f} min wall "
        f"clock). Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']:.0f} GB RAM; Python {m['python']}, "
        f"faiss {m['faiss']}, torch {m['torch']}, numpy {m['numpy']}, "
        f"sentence-transformers {m['sentence_transformers']}. Load average at start / end: "
        f"{m['loadavg_start'][0]:.2f} / {run['loadavg_end'][0]:.2f}"
        + (
            " (other jobs shared the 2 CPUs, so absolute times are noisy; the ratios are taken in the same run)."
            if max(m["loadavg_start"][0], run["loadavg_end"][0]) > 0.5
            else "."
        )
    )
    out.append("")
    out.append(
        f"Settings: the defaults (embedding `{st['embedding_model']}` real model for every chunk, "
        f"chunk_size {st['chunk_size']}, overlap {st['chunk_overlap']}, FAISS `{st['faiss_index']}`, "
        f"hybrid dense weight {st['hybrid_dense_weight']}, k={st['top_k']}, 50 candidates per retriever). "
        f"Corpus: the {corpus['real_documents']} seed and distractor documents ({corpus['real_chunks']} chunks) plus "
        f"synthetic Russian articles from `bench/corpus.py`: {corpus['template_sentences']} sentences of the seeds and "
        f"look-alikes recombined, regions/cities/regional adjectives swapped and inflected, numbers and dates varied, "
        f"30% of common nouns replaced by Zipf-drawn nouns from a {corpus['noun_lexicon']}-lemma navec news lexicon "
        f"(so the vocabulary grows with the corpus), ~{corpus['chunks_per_synthetic_doc']:.1f} chunks per document. "
        f"Queries: the {len(gold_questions())} questions of `eval/gold.jsonl` cycled to {run['args']['queries']} per "
        f"mode, after a warm-up. Each size is built and queried in fresh subprocesses (peak RSS includes the ~"
        f"{any_build['rss_model_mb']:.0f} MB of Python, torch and the navec model)."
    )
    out.append("")

    # ---- build ----
    out.append("### Index build (`update_index`, rebuild)")
    out.append("")
    rows = []
    for n, b in builds.items():
        ph = b["full_phases"]
        emb = ph["embedding"]
        no_emb = b["full_s"] - emb
        rows.append(
            [
                f"{b['chunks']:,}",
                f"{b['documents']:,}",
                fmt_s(b["full_s"]),
                f"{b['chunks'] / b['full_s']:,.0f}",
                f"{b['chunks'] / no_emb:,.0f}" if no_emb > 0 else "-",
                fmt_s(ph["ingest (read, clean, hash)"]),
                fmt_s(ph["chunking"]),
                fmt_s(ph["lemmatising"]),
                f"{fmt_s(emb)} ({b['embedded_chunks'] / emb:,.0f}/s)" if emb else "-",
                fmt_s(ph["FAISS add"]),
                fmt_s(ph["BM25 build"]),
                fmt_s(sum(v for k, v in ph.items() if k.startswith("write"))),
                fmt_s(ph["other (chunk objects, diffing, manifest)"]),
                f"{b['loadavg'][0]:.1f} → {b['loadavg'][1]:.1f}",
            ]
        )
    out.append(
        table(
            [
                "chunks",
                "docs",
                "total s",
                "chunks/s",
                "chunks/s w/o embedding",
                "ingest s",
                "chunking s",
                "lemmatising s",
                "embedding s",
                "FAISS add s",
                "BM25 build s",
                "write s",
                "other s",
                "load avg",
            ],
            rows,
        )
    )
    out.append("")
    out.append("Index size on disk and memory (RSS):")
    out.append("")
    rows = []
    for n, b in builds.items():
        d = b["disk_bytes"]
        q = queries[n]
        bb = q["baseline_build"]
        rows.append(
            [
                f"{b['chunks']:,}",
                mb(b["disk_total"]),
                mb(d.get("vectors.faiss", 0)),
                mb(d.get("bm25 postings", 0)),
                mb(d.get("chunks.sqlite", 0)),
                f"{b['peak_rss_mb']:.0f}",
                f"{q['peak_rss_mb']:.0f}",
                f"{q['index_rss_mb']:.0f}",
                f"{fmt_s(q['index_load_s'])}",
                f"{mb(bb['npy_bytes'])} / {q['baseline_rss_mb']:.0f} MB / {fmt_s(bb['numpy_matrix_s'] + bb['naive_bm25_s'])}",
            ]
        )
    out.append(
        table(
            [
                "chunks",
                "on disk MB",
                "vectors.faiss MB",
                "BM25 postings MB",
                "chunks.sqlite MB",
                "peak RSS build MB",
                "peak RSS query process MB",
                "index in RAM MB",
                "index load s",
                "baseline: .npy MB / RAM of matrix+postings / build s",
            ],
            rows,
        )
    )
    out.append("")

    # ---- re-index ----
    out.append("### Re-indexing")
    out.append("")
    rows = []
    for n, b in builds.items():

        def top_phases(ph: dict) -> str:
            items = sorted(((v, k) for k, v in ph.items() if v > 0.005), reverse=True)[:3]
            return ", ".join(f"{k} {fmt_s(v)}" for v, k in items)

        ratio = b["unchanged_s"] / b["full_s"]
        rows.append(
            [
                f"{b['chunks']:,}",
                fmt_s(b["full_s"]),
                fmt_s(b["unchanged_s"]),
                f"{ratio:.1%} {'✓' if ratio < REINDEX_TARGET else '✗'}",
                top_phases(b["unchanged_phases"]),
                fmt_s(b["one_changed_s"]),
                f"{b['one_changed_s'] / b['full_s']:.1%}",
                top_phases(b["one_changed_phases"]),
                str(b.get("segments_after_one_changed", "")),
            ]
        )
    out.append(
        table(
            [
                "chunks",
                "full build s",
                "unchanged s",
                "unchanged / full (target < 10%)",
                "unchanged: main phases s",
                "1 doc changed s",
                "1 changed / full",
                "1 changed: main phases s",
                "segments after",
            ],
            rows,
        )
    )
    out.append("")

    # ---- query latency ----
    out.append("### Query latency (ms), ours vs baseline in the same run")
    out.append("")
    out.append(
        "Ours: `Retriever.search(question, k, mode)` on the index loaded by `Index.load` (query lemmas with "
        "typo repair, BM25 over the segments' postings with idf from all segments, navec query embedding, each "
        "segment's FaissStore as FAISS_INDEX=auto builds it (flat below 50k chunks, HNSW above), fusion, coverage); "
        "after the one-document update of the build step the index has two segments (the old one with a "
        "tombstone, and the changed document's). Baseline: "
        "`lemmas()` + pure-Python dict-of-postings BM25 (same formula) and/or the same query embedding + numpy "
        "`matrix @ q` + `argpartition`, the same fusion. Ratio = ours / baseline (below 1: ours is faster)."
    )
    out.append("")
    rows = []
    for n, q in queries.items():
        for mode in MODES:
            o, bl = q["ours"][mode], q["baseline"][mode]
            flag = ""
            if mode == "hybrid":
                flag = " ✓" if o["p95"] < P95_TARGET_MS else " ✗"
            rows.append(
                [
                    f"{q['chunks']:,}",
                    mode,
                    fmt_ms(o["p50"]),
                    fmt_ms(o["p95"]) + flag,
                    fmt_ms(bl["p50"]),
                    fmt_ms(bl["p95"]),
                    f"{o['p50'] / bl['p50']:.2f}",
                    f"{o['p95'] / bl['p95']:.2f}",
                    f"{q['top1_gold'][mode]:.0%}",
                    f"{q['loadavg'][0]:.1f} → {q['loadavg'][1]:.1f}",
                ]
            )
        for mode, v in q.get("ours_faiss_1_thread", {}).items():
            bl = q["baseline"][mode]
            rows.append(
                [
                    f"{q['chunks']:,}",
                    f"{mode}, faiss 1 thread",
                    fmt_ms(v["p50"]),
                    fmt_ms(v["p95"])
                    + ((" ✓" if v["p95"] < P95_TARGET_MS else " ✗") if mode == "hybrid" else ""),
                    fmt_ms(bl["p50"]),
                    fmt_ms(bl["p95"]),
                    f"{v['p50'] / bl['p50']:.2f}",
                    f"{v['p95'] / bl['p95']:.2f}",
                    "",
                    "",
                ]
            )
        for name, v in q.get("stores", {}).items():
            bl = q["baseline"]["hybrid"]
            rows.append(
                [
                    f"{q['chunks']:,}",
                    f"hybrid, {name}",
                    fmt_ms(v["p50"]),
                    fmt_ms(v["p95"]) + (" ✓" if v["p95"] < P95_TARGET_MS else " ✗"),
                    fmt_ms(bl["p50"]),
                    fmt_ms(bl["p95"]),
                    f"{v['p50'] / bl['p50']:.2f}",
                    f"{v['p95'] / bl['p95']:.2f}",
                    f"{v['top1_gold']:.0%}",
                    f"same top-1 as flat {v['same_top1']:.0%}, same top-{any_k(run)} {v['same_topk']:.0%}",
                ]
            )
    out.append(
        table(
            [
                "chunks",
                "mode",
                "ours p50",
                "ours p95",
                "baseline p50",
                "baseline p95",
                "ratio p50",
                "ratio p95",
                "gold doc @1 (ours)",
                "load avg",
            ],
            rows,
        )
    )
    out.append("")
    out.append(
        f'Target: hybrid p95 < {P95_TARGET_MS:.0f} ms at 100k chunks. "gold doc @1": share of the answerable gold '
        "questions whose source document ranks first; the generated documents are look-alikes of the seeds (same "
        "sentences, other regions and numbers; the seeds' own regions and cities never occur in them). "
        '"faiss 1 thread" rows: the same Retriever with `faiss.omp_set_num_threads(1)`, which `FaissStore.search` now sets itself, so both rows run on one thread. '
        "Store rows: the same Retriever with the largest segment's store swapped for a flat or HNSW `FaissStore` or "
        "an IVF index over the same vectors (the changed document's small segment keeps its own); the last column "
        "compares their hybrid results with the exact (flat) ones."
    )
    out.append("")
    out.append("Components alone on the same inputs (p50 / p95 ms) and top-10 agreement ours vs baseline:")
    out.append("")
    rows = []
    for n, q in queries.items():
        c, s = q["components"], q["stages"]
        rows.append(
            [
                f"{q['chunks']:,}",
                f"{q['vocabulary']:,}",
                f"{fmt_ms(c['bm25_ours']['p50'])} / {fmt_ms(c['bm25_ours']['p95'])}",
                f"{fmt_ms(c['bm25_naive']['p50'])} / {fmt_ms(c['bm25_naive']['p95'])}",
                f"{fmt_ms(c['dense_faiss']['p50'])} / {fmt_ms(c['dense_faiss']['p95'])}",
                f"{fmt_ms(c['dense_numpy']['p50'])} / {fmt_ms(c['dense_numpy']['p95'])}",
                f"{fmt_ms(s['embed_query (navec)']['p50'])} / {fmt_ms(s['embed_query (navec)']['p95'])}",
                f"{fmt_ms(s['query_terms (lemmas + difflib)']['p50'])} / {fmt_ms(s['query_terms (lemmas + difflib)']['p95'])}",
                f"{q['agreement_top10']['bm25']:.0%} / {q['agreement_top10']['dense']:.0%}",
                f"{q['cold_first_query_ms']:.0f}",
            ]
        )
    out.append(
        table(
            [
                "chunks",
                "BM25 vocabulary",
                "BM25 Index.lexical_search",
                "BM25 naive Python",
                "dense Index.dense_search",
                "numpy brute force",
                "embed_query",
                "query_terms",
                "top-10 agreement BM25 / dense",
                "first query ms (lazy caches)",
            ],
            rows,
        )
    )
    out.append("")

    # ---- hybrid at the largest size: stages and profile ----
    largest = list(queries)[-1]
    q = queries[largest]
    out.append(f"### Where hybrid time goes at {q['chunks']:,} chunks")
    out.append("")
    total = q["ours"]["hybrid"]["mean"]
    rows = []
    acc = 0.0
    for name, v in q["stages"].items():
        acc += v["mean"]
        rows.append([name, fmt_ms(v["p50"]), fmt_ms(v["p95"]), fmt_ms(v["mean"]), f"{v['mean'] / total:.0%}"])
    rest = max(0.0, total - acc)
    rows.append(["fusion, sort, coverage, Hit objects (rest)", "", "", fmt_ms(rest), f"{rest / total:.0%}"])
    rows.append(
        [
            "**Retriever.search hybrid (total)**",
            fmt_ms(q["ours"]["hybrid"]["p50"]),
            fmt_ms(q["ours"]["hybrid"]["p95"]),
            fmt_ms(total),
            "100%",
        ]
    )
    out.append(table(["stage", "p50 ms", "p95 ms", "mean ms", "share of mean"], rows))
    out.append("")
    prof = q["profile"]
    out.append(
        f"cProfile of {q['queries']} hybrid searches (profiler overhead included), top functions by own time:"
    )
    out.append("")
    rows = [
        [
            f"`{r['function']}`",
            str(r["calls"]),
            f"{r['tottime'] * 1000 / q['queries']:.2f}",
            f"{r['cumtime'] * 1000 / q['queries']:.2f}",
        ]
        for r in prof["by_tottime"][:10]
    ]
    out.append(table(["function", "calls", "own ms/query", "cumulative ms/query"], rows))
    out.append("")

    # ---- vector search ----
    if vec:
        out.append("### Vector search alone: flat vs HNSW, up to 1M vectors")
        out.append("")
        out.append(
            f"Single-query search, k=50 (the retriever's candidate pool), "
            f"{' / '.join(str(v) for v in vec.get('queries_by_size', {}).values()) or vec['queries']} queries "
            f"(the gold question vectors, plus slightly perturbed copies). Vectors: the {vec['real_vectors']:,} real navec chunk vectors of "
            f"the largest index; beyond that, copies perturbed by Gaussian noise of norm {vec['noise_norm']} and "
            f"renormalised (1M = the real vectors x10 with noise). Recall is against exact search. Rows marked "
            f'(candidate) are not in qa_bot. "remove 6 ids" = `FaissStore.remove` for one changed document '
            f"(HNSW cannot delete: qa_bot hides the ids and rebuilds the graph once a quarter of it is stale). "
            f"Load average during this part: "
            f"{vec['loadavg'][0]:.1f} → {vec['loadavg'][1]:.1f}."
        )
        out.append("")
        rows = []
        for n, row in vec["sizes"].items():
            for name, e in row.items():
                rows.append(
                    [
                        f"{int(n):,}",
                        name,
                        fmt_s(e["build_s"]) if e["build_s"] else "-",
                        f"{e['rss_mb']:.0f}",
                        fmt_ms(e["p50"]),
                        fmt_ms(e["p95"]),
                        f"{e['recall@10']:.3f}" if "recall@10" in e else "exact",
                        f"{e['recall@50']:.3f}" if "recall@50" in e else "exact",
                        fmt_s(e["remove_6_ids_s"]) if "remove_6_ids_s" in e else "",
                    ]
                )
        out.append(
            table(
                [
                    "vectors",
                    "index",
                    "build s",
                    "RAM MB",
                    "p50 ms",
                    "p95 ms",
                    "recall@10",
                    "recall@50",
                    "remove 6 ids s",
                ],
                rows,
            )
        )
        out.append("")

    out.append("### Verdict")
    out.append("")
    out.extend(f"- {line}" for line in verdict(run))
    out.append("")
    return "\n".join(out)


def any_k(run: dict) -> int:
    return int(next(iter(run["builds"].values()))["settings"]["top_k"])


def verdict(run: dict) -> list[str]:
    lines = []
    builds, queries, vec = run["builds"], run["queries"], run.get("vectors")
    largest = list(queries)[-1]
    q = queries[largest]
    b = builds[largest]
    p95 = q["ours"]["hybrid"]["p95"]
    stages = sorted(((v["mean"], k) for k, v in q["stages"].items()), reverse=True)
    share = stages[0][0] / q["ours"]["hybrid"]["mean"]
    lines.append(
        f"Hybrid p95 at {q['chunks']:,} chunks: {p95:.1f} ms, target {P95_TARGET_MS:.0f} ms: "
        f"{'met' if p95 < P95_TARGET_MS else 'MISSED'}. Largest stage: {stages[0][1]} "
        f"({stages[0][0]:.1f} ms mean, {share:.0%} of the search); top own-time function in the profile: "
        f"`{q['profile']['by_tottime'][0]['function']}`."
    )
    v = q.get("ours_faiss_1_thread", {}).get("hybrid")
    if v:
        lines.append(
            f"Same search with `faiss.omp_set_num_threads(1)`: hybrid p50/p95 {v['p50']:.1f}/{v['p95']:.1f} ms "
            f"({'meets' if v['p95'] < P95_TARGET_MS else 'misses'} the target)."
        )
    for name, v in q.get("stores", {}).items():
        lines.append(
            f"Hybrid with {name}: p50/p95 {v['p50']:.1f}/{v['p95']:.1f} ms "
            f"({'meets' if v['p95'] < P95_TARGET_MS else 'misses'} the target); top-1 identical to flat for "
            f"{v['same_top1']:.0%} of the questions, whole top-{any_k(run)} for {v['same_topk']:.0%}."
        )
    ratio = b["unchanged_s"] / b["full_s"]
    lines.append(
        f"Unchanged re-index at {b['chunks']:,} chunks: {b['unchanged_s']:.1f} s = {ratio:.1%} of the full build, "
        f"target < 10%: {'met' if ratio < REINDEX_TARGET else 'MISSED'}. One changed document: "
        f"{b['one_changed_s']:.1f} s ({b['one_changed_s'] / b['full_s']:.0%} of a full build)."
    )
    if vec:
        sizes = list(vec["sizes"])
        big = vec["sizes"][sizes[-1]]
        flat, flat1 = big["FaissStore flat"], big["FaissStore flat, faiss 1 thread"]
        line = (
            f"At {int(sizes[-1]):,} vectors: FaissStore flat p50/p95 {flat['p50']:.0f}/{flat['p95']:.0f} ms "
            f"({flat1['p50']:.0f}/{flat1['p95']:.0f} ms with 1 faiss thread), numpy brute force "
            f"{big['numpy brute force (baseline)']['p95']:.0f} ms p95"
        )
        h64 = big.get("FaissStore hnsw, efSearch 64")
        if h64:
            h128 = big["FaissStore hnsw, efSearch 128"]
            line += (
                f"; HNSW (M=32) p95 {h64['p95']:.1f} ms at recall@10 {h64['recall@10']:.3f} (efSearch 128: "
                f"{h128['p95']:.1f} ms, {h128['recall@10']:.3f}) after a {h64['build_s']:.0f} s build"
            )
        ivf = [(name, e) for name, e in big.items() if name.startswith("IVF")]
        if ivf:
            name, e = ivf[-1]
            line += f"; {name.split(' (')[0]}: p95 {e['p95']:.1f} ms, recall@10 {e['recall@10']:.3f}, built in {e['build_s']:.0f} s"
        lines.append(line + ".")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="corpus sizes in chunks (comma-separated)")
    ap.add_argument("--queries", type=int, default=200, help="timed queries per mode and size")
    ap.add_argument(
        "--vector-sizes",
        default="largest,1000000",
        help="sizes for the FAISS flat/HNSW comparison; 'largest' = the largest built index; '' skips it",
    )
    ap.add_argument("--noise", type=float, default=0.3, help="norm of the perturbation of repeated vectors")
    ap.add_argument(
        "--hnsw-max",
        type=int,
        default=1_000_000,
        help="build HNSW only up to this many vectors (the 1M build takes minutes)",
    )
    ap.add_argument(
        "--out", default=str(ROOT / "BENCHMARKS.md"), help="markdown file to write the section into"
    )
    ap.add_argument("--no-write", action="store_true", help="only print")
    ap.add_argument(
        "--workdir", default=None, help="where documents and indexes go (default: a temporary folder)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--seed", type=int, default=20251002)
    ap.add_argument(
        "--store-variants-min",
        type=int,
        default=50_000,
        help="compare flat/HNSW/IVF stores under the Retriever from this many chunks on",
    )
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--params", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    sys.path.insert(0, str(BENCH))
    if args.worker:
        params = json.loads(args.params)
        fn = {"build": worker_build, "query": worker_query, "vectors": worker_vectors}[args.worker]
        load_start = os.getloadavg()[0]
        result = fn(params)
        result["loadavg"] = [load_start, os.getloadavg()[0]]
        Path(params["out"]).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        return 0

    started = time.perf_counter()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    command = "python bench/bench_retrieval.py" + (
        "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    )
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="qa_bot_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    run: dict = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": command,
        "args": vars(args),
        "machine": machine_info(),
    }
    try:
        log(f"work folder {workdir}")
        run["corpus"] = prepare_corpus(workdir, sizes, args.seed)
        log(f"corpus ready in {run['corpus']['seconds']:.0f} s")
        run["builds"], run["queries"] = {}, {}
        for n in sizes:
            index_dir = workdir / f"index_{n}"
            params = {
                "size": n,
                "docs": run["corpus"]["folders"][n],
                "index": str(index_dir),
                "workdir": str(workdir),
            }
            run["builds"][n] = run_worker("build", params, workdir)
            b = run["builds"][n]
            log(
                f"size {n}: {b['chunks']} chunks built in {b['full_s']:.1f} s, unchanged {b['unchanged_s']:.2f} s, "
                f"one changed {b['one_changed_s']:.2f} s"
            )
            qparams = {**params, "queries": args.queries, "qvec": str(workdir / "question_vectors.npy"),
                       "store_variants_min": args.store_variants_min}  # fmt: skip
            run["queries"][n] = run_worker("query", qparams, workdir)
            h = run["queries"][n]["ours"]["hybrid"]
            log(f"size {n}: hybrid p50 {h['p50']:.1f} ms, p95 {h['p95']:.1f} ms")
        vsizes = []
        largest_index = workdir / f"index_{sizes[-1]}"
        for s in args.vector_sizes.split(","):
            s = s.strip()
            if s == "largest":
                vsizes.append(run["builds"][sizes[-1]]["chunks"])
            elif s:
                vsizes.append(int(s.replace("_", "")))
        if vsizes:
            run["vectors"] = run_worker(
                "vectors",
                {
                    "size": "vectors",
                    "sizes": sorted(vsizes),
                    "index": str(largest_index),
                    "qvec": str(workdir / "question_vectors.npy"),
                    "queries": args.queries,
                    "noise": args.noise,
                    "hnsw_max": args.hnsw_max,
                },
                workdir,
            )
        run["wall_s"] = time.perf_counter() - started
        run["loadavg_end"] = os.getloadavg()
        (workdir / "results.json").write_text(
            json.dumps(run, ensure_ascii=False, indent=1, default=str), "utf-8"
        )
        section = render(run)
        print(section)
        if not args.no_write:
            write_section(Path(args.out), SECTION, section)
            log(f"wrote the '{SECTION}' section of {args.out}")
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
