"""The lexical index choice measured: bm25s (the previous index), qa_bot's segment postings, SQLite FTS5.

    python bench/bench_lexical.py --sizes 10000,100000 [--queries 300] [--write]

Synthetic chunks as bench_scale.py draws them (`synthetic_chunks`: 60 Zipf-drawn lemmas per chunk, 10
chunks per document) and queries of 4 Zipf-drawn lemmas as its query worker draws them, top 20. Each
method at each size runs in a fresh process (so its RSS growth is its own):

- bm25s: `bm25s.BM25(k1=1.2, b=0.75, method="lucene")`, index + save, searched as the previous
  `LexicalIndex.search` did (scores of every row, argpartition); a one-document update re-indexes all;
- postings: `qa_bot.lexical.Postings.build` + `save` of all chunks; a one-document update is the
  postings of a 10-chunk segment (build + save); queries go through `Index.lexical_search` of a loaded
  index of one large segment (three documents tombstoned) and three 10-chunk segments (those documents'
  new versions), i.e. idf from all segments' frequencies, per-segment scores, argpartition, merge;
- FTS5: `fts5(lemmas)` (unicode61 without diacritic folding, WAL, synchronous=NORMAL), inserts,
  `optimize`, commit; a one-document update is DELETE + INSERT of 10 rows and a commit; queries are
  `MATCH 'a OR b OR c OR d' ORDER BY bm25(t) LIMIT 20`.

Top-10 agreement with bm25s: postings on a fresh single-segment index and FTS5, against bm25s's
top-10 on the same chunks. Many chunks score exactly alike (every chunk has 60 lemmas), so besides the
plain overlap a hit also counts when its bm25s score ties with bm25s's 10th; for postings the largest
relative difference of its scores from bm25s's is reported as well.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_scale import CHUNKS_PER_DOC, synthetic_chunks

SECTION = "## Lexical index: bm25s vs segment postings vs SQLite FTS5 (bench/bench_lexical.py)"
METHODS = ("postings", "fts5", "bm25s")  # bm25s last: it scores the others' hits for the agreement
LABELS = {
    "bm25s": "bm25s (previous: one index, rebuilt on every change)",
    "postings": "qa_bot segment postings (`lexical.Postings`, 4 segments)",
    "fts5": "SQLite FTS5 over lemmas",
}
K = 20
UPDATES = 5  # one-document updates timed per method (bm25s: 1, each re-indexes everything)
TIE = 1e-5  # relative: scores this close are equal


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def queries(n: int) -> list[list[str]]:
    """4-lemma queries drawn as bench_scale.py's query worker draws them."""
    rng = np.random.default_rng(4)
    return [[f"w{int(r):x}" for r in np.minimum(rng.zipf(1.3, 4), 5000) - 1] for _ in range(n)]


def replacement(n: int, doc: int, seed: int) -> list:
    """Ten new chunks (new lemmas) for document number `doc` of the n-chunk collection."""
    new = synthetic_chunks(n // CHUNKS_PER_DOC + doc, CHUNKS_PER_DOC, n + doc * CHUNKS_PER_DOC, seed=seed)
    d = f"doc{doc:07d}"
    return [c.__class__(**{**c.__dict__, "doc_id": d, "chunk_id": f"{d}#{c.index}"}) for c in new]


def update_docs(n: int) -> list[int]:
    """Documents the one-document updates replace, spread over the collection."""
    docs = n // CHUNKS_PER_DOC
    return [docs * (i + 1) // (UPDATES + 2) for i in range(UPDATES)]


def latency(search, qs: list[list[str]]) -> tuple[dict, list]:
    for q in qs[:20]:
        search(q)
    times, tops = [], []
    for q in qs:
        t = time.perf_counter()
        hits = search(q)
        times.append(time.perf_counter() - t)
        tops.append(hits[:10])
    ms = np.array(times) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}, tops


# -- workers (one fresh process each) ------------------------------------------------------------


def worker_postings(n: int, work: Path, qs: list[list[str]], others: list[Path]) -> dict:
    from qa_bot.index import Index
    from qa_bot.lexical import Postings
    from qa_bot.segments import Segment, write_segment

    chunks = synthetic_chunks(0, n, 0, seed=1)
    corpus = [c.terms for c in chunks]
    avgdl = sum(map(len, corpus)) / n
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    postings = Postings.build(corpus, avgdl)
    (work / "full").mkdir()
    postings.save(work / "full")
    build_s = time.perf_counter() - t
    grown = rss_mb() - rss0
    disk = folder_mb(work / "full")
    del postings
    updates = []
    for i, doc in enumerate(update_docs(n)):
        new = replacement(n, doc, seed=10 + i)
        (work / f"update{i}").mkdir()
        t = time.perf_counter()
        Postings.build([c.terms for c in new], avgdl).save(work / f"update{i}")
        updates.append(time.perf_counter() - t)
    # the index as qa_bot holds it after three one-document updates: one large segment with three
    # documents tombstoned, and three 10-chunk segments with their new versions
    root = work / "segments"
    big = Segment(root / write_segment(root, chunks, np.ones((n, 1), np.float32), 0, "flat", avgdl))
    del chunks
    gc.collect()
    small, dead = [], []
    for i, doc in enumerate(update_docs(n)[:3]):
        new = replacement(n, doc, seed=10 + i)
        first = new[0].vector_id
        small.append(
            Segment(root / write_segment(root, new, np.ones((len(new), 1), np.float32), first, "flat", avgdl))
        )
        dead.append(new[0].doc_id)
    index = Index(None, {}, {}, [big.without(dead), *small])
    gc.collect()
    rss1 = rss_mb()
    stats, _ = latency(lambda q: index.lexical_search(q, K), qs)
    fresh = Index(None, {}, {}, [big])  # the single segment of a fresh build, for the agreement
    tops = [fresh.lexical_search(q, 10) for q in qs]
    return {"build_s": build_s, "update_s": float(np.median(updates)), "rss_mb": grown,
            "query_rss_mb": rss_mb() - rss1, "disk_mb": disk, **stats, "top10": tops}  # fmt: skip


def worker_fts5(n: int, work: Path, qs: list[list[str]], others: list[Path]) -> dict:
    chunks = synthetic_chunks(0, n, 0, seed=1)
    rows = [(c.vector_id, " ".join(c.terms)) for c in chunks]
    del chunks
    gc.collect()
    path = work / "fts5.sqlite"
    rss0 = rss_mb()
    t = time.perf_counter()
    db = sqlite3.connect(path)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE VIRTUAL TABLE t USING fts5(lemmas, tokenize='unicode61 remove_diacritics 0');"
    )
    db.executemany("INSERT INTO t(rowid, lemmas) VALUES (?, ?)", rows)
    db.execute("INSERT INTO t(t) VALUES ('optimize')")
    db.commit()
    build_s = time.perf_counter() - t
    grown = rss_mb() - rss0
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    disk = folder_mb(path)
    sql = "SELECT rowid, bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ?"

    def search(q: list[str]) -> list[tuple[int, float]]:
        match = " OR ".join(f'"{term}"' for term in q)
        return [(r, -s) for r, s in db.execute(sql, (match, K))]

    rss1 = rss_mb()
    stats, tops = latency(search, qs)  # on the collection as built, the same chunks as bm25s's
    query_rss = rss_mb() - rss1
    updates = []
    for i, doc in enumerate(update_docs(n)):
        first = doc * CHUNKS_PER_DOC
        new = [(first + j, " ".join(c.terms)) for j, c in enumerate(replacement(n, doc, seed=10 + i))]
        t = time.perf_counter()
        db.execute("DELETE FROM t WHERE rowid BETWEEN ? AND ?", (first, first + CHUNKS_PER_DOC - 1))
        db.executemany("INSERT INTO t(rowid, lemmas) VALUES (?, ?)", new)
        db.commit()
        updates.append(time.perf_counter() - t)
    db.close()
    return {"build_s": build_s, "update_s": float(np.median(updates)), "rss_mb": grown,
            "query_rss_mb": query_rss, "disk_mb": disk, **stats, "top10": tops}  # fmt: skip


class Bm25s:
    """The previous LexicalIndex (bm25s) as far as building, saving and searching go."""

    def __init__(self, corpus: list) -> None:
        import bm25s

        self.model = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        self.model.index([list(tokens) for tokens in corpus], show_progress=False)
        self.size = len(corpus)

    def scores(self, q: list[str]) -> np.ndarray:
        ids = self.model.get_tokens_ids(q)
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, q: list[str], k: int) -> list[tuple[int, float]]:
        scores = self.scores(q)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(r), float(scores[r])) for r in top if scores[r] > 0]


def worker_bm25s(n: int, work: Path, qs: list[list[str]], others: list[Path]) -> dict:
    import logging

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    chunks = synthetic_chunks(0, n, 0, seed=1)
    corpus = [c.terms for c in chunks]
    del chunks
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    index = Bm25s(corpus)
    index.model.save(str(work / "bm25s"), show_progress=False)
    build_s = time.perf_counter() - t
    grown = rss_mb() - rss0
    disk = folder_mb(work / "bm25s")
    rss1 = rss_mb()
    stats, _ = latency(functools.partial(index.search, k=K), qs)
    query_rss = rss_mb() - rss1
    agreement = {}
    for other in others:  # the other methods' top-10s, scored by bm25s
        theirs = json.loads(other.read_text(encoding="utf-8"))["top10"]
        overlap, tied, diff = [], [], 0.0
        for q, hits in zip(qs, theirs, strict=True):
            scores = index.scores(q)
            mine = index.search(q, 10)
            if not mine:
                continue
            tenth = mine[-1][1]
            overlap.append(len({r for r, _ in hits} & {r for r, _ in mine}) / len(mine))
            tied.append(sum(bool(scores[r] >= tenth * (1 - TIE)) for r, _ in hits) / len(mine))
            diff = max([diff] + [float(abs(s - scores[r]) / max(scores[r], 1e-9)) for r, s in hits])
        agreement[other.stem] = {"overlap": float(np.mean(overlap)), "tied": float(np.mean(tied)),
                                 "max_rel_diff": diff}  # fmt: skip
    doc = update_docs(n)[0]
    first = doc * CHUNKS_PER_DOC
    corpus[first : first + CHUNKS_PER_DOC] = [c.terms for c in replacement(n, doc, seed=10)]
    del index
    gc.collect()
    t = time.perf_counter()  # one changed document: bm25s re-indexes every chunk
    Bm25s(corpus).model.save(str(work / "bm25s-update"), show_progress=False)
    update_s = time.perf_counter() - t
    return {"build_s": build_s, "update_s": update_s, "rss_mb": grown, "query_rss_mb": query_rss,
            "disk_mb": disk, **stats, "agreement": agreement}  # fmt: skip


WORKERS = {"postings": worker_postings, "fts5": worker_fts5, "bm25s": worker_bm25s}


def run(method: str, n: int, work: Path, n_queries: int, timeout: float) -> dict:
    folder = work / f"{method}-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out = work / f"{method}-{n}.json"
    others = [work / f"{m}-{n}.json" for m in METHODS if m != method] if method == "bm25s" else []
    cmd = [sys.executable, __file__, "--worker", method, "--sizes", str(n), "--workdir", str(folder),
           "--queries", str(n_queries), "--out", str(out), *[a for o in others for a in ("--other", str(o))]]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(cmd, check=True, timeout=timeout, env=os.environ | {"PYTHONPATH": str(ROOT)})
    result = json.loads(out.read_text(encoding="utf-8"))
    shutil.rmtree(folder, ignore_errors=True)
    result["wall_s"] = time.perf_counter() - started  # the whole worker: data, build, update, queries
    print(f"  {method} at {n:,}: {result['wall_s']:.0f} s", file=sys.stderr, flush=True)
    return result


# -- report --------------------------------------------------------------------------------------


def fmt(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


def report(
    results: dict[int, dict[str, dict]], command: str, n_queries: int, load: tuple[float, float]
) -> str:
    head = ["chunks", "index", "build s", "× bm25s", "1-doc update ms", "× bm25s", "query p50 ms",
            "query p95 ms", "p95 × bm25s", "RSS growth MB (build / queries)", "on disk MB",
            "top-10 agreement with bm25s (same rows / ties counted)"]  # fmt: skip
    rows = []
    for n, by in results.items():
        base = by["bm25s"]
        for method in ("bm25s", "postings", "fts5"):
            r = by[method]
            agree = base["agreement"].get(f"{method}-{n}")
            rows.append([
                f"{n:,}", LABELS[method], fmt(r["build_s"]), f"{r['build_s'] / base['build_s']:.2f}",
                fmt(r["update_s"] * 1000), f"{r['update_s'] / base['update_s']:.4f}",
                fmt(r["p50_ms"]), fmt(r["p95_ms"]), f"{r['p95_ms'] / base['p95_ms']:.2f}",
                f"{r['rss_mb']:.0f} / {r['query_rss_mb']:.0f}", fmt(r["disk_mb"]),
                f"{agree['overlap']:.1%} / {agree['tied']:.1%}" if agree else "(reference)",
            ])  # fmt: skip
    largest = max(results)
    by = results[largest]
    p, f, b = by["postings"], by["fts5"], by["bm25s"]
    diff = b["agreement"]["postings-" + str(largest)]["max_rel_diff"]
    agree = b["agreement"]["postings-" + str(largest)]["tied"]
    walls = ", ".join(
        f"{n:,}: {sum(r['wall_s'] for r in by_n.values()):.0f} s" for n, by_n in results.items()
    )
    chosen = "postings" if p["p95_ms"] <= f["p95_ms"] else "fts5"
    other = f if chosen == "postings" else p
    choice = (
        f"Choice: {'the segment postings qa_bot has now' if chosen == 'postings' else 'SQLite FTS5'}. Both turn "
        f"a one-document update from bm25s's full re-index ({b['update_s']:.1f} s at {largest:,} chunks) into "
        f"milliseconds; at query time {LABELS[chosen]} answers in {by[chosen]['p95_ms']:.1f} ms p95 where "
        f"{LABELS['fts5' if chosen == 'postings' else 'postings']} takes {other['p95_ms']:.1f} ms."
    )
    if chosen == "postings":
        choice += (
            f" The postings rank as bm25s did ({agree:.0%} of top-10 hits agree, ties counted) for "
            f"{p['p95_ms'] / b['p95_ms']:.1f}× bm25s's p95 (idf summed over segments, one scoring pass per "
            "segment); merges (segments.merge_plan: 8 segments of a size tier become one) are not in the update "
            "figure, they run in the writer when a tier fills. FTS5's built-in bm25() would moreover rank "
            "differently from before; matching it would take a custom rank function (a C extension)."
        )
    if max(results) < 1_000_000:
        choice += (
            f" Wall time of the whole run per size: {walls}; 1M chunks (ten times more work, FTS5's queries "
            "growing with the rows matched) would not fit in ten minutes on this shared machine and was not run."
        )
    lines = [
        SECTION,
        "",
        (
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `{command}` on this machine's "
            f"{os.cpu_count()} shared CPUs (load average {load[0]:.1f} at start, {load[1]:.1f} at the end: other jobs "
            "ran alongside, so absolute times are noisy; ratios are to bm25s in the same run). Synthetic chunks as "
            "in bench_scale.py (60 Zipf-drawn lemmas each, 10 per document); "
            f"{n_queries} queries of 4 Zipf-drawn lemmas, top {K}. Each method and size in a fresh process. "
            "Build = the whole index written to disk (bm25s: index + save; postings: `Postings.build` + `save`; "
            "FTS5: inserts + optimize + commit). 1-doc update = replacing one document's 10 chunks (bm25s: re-index "
            "and save everything; postings: a 10-chunk segment's `Postings.build` + `save`, median of "
            f"{UPDATES}; FTS5: DELETE + INSERT of 10 rows + commit, median of {UPDATES}). Queries: bm25s as the "
            "previous `LexicalIndex.search`; postings through `Index.lexical_search` over 4 segments (one large "
            "with 3 documents tombstoned, three of 10 chunks); FTS5 `MATCH 'a OR b OR c OR d' ORDER BY bm25(t) "
            "LIMIT 20`. Agreement: top-10 of postings (fresh single segment) and FTS5 against bm25s's; every "
            "chunk has 60 lemmas, so many scores tie exactly, and the second figure also counts a hit whose "
            "bm25s score equals bm25s's 10th."
        ),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        (
            f"At {largest:,} chunks: postings score as bm25s does (largest relative score difference {diff:.1e}); "
            f"a one-document update costs {p['update_s'] * 1000:.1f} ms against {b['update_s']:.1f} s for bm25s "
            f"and {f['update_s'] * 1000:.1f} ms for FTS5; query p95 {p['p95_ms']:.1f} ms against "
            f"{b['p95_ms']:.1f} ms (bm25s) and {f['p95_ms']:.1f} ms (FTS5). FTS5's bm25() uses idf "
            "log((N - n + 0.5) / (n + 0.5)), floored near zero for lemmas in over half the chunks, instead of "
            "Lucene's log(1 + ...), hence its lower agreement; a query with a very common lemma makes it rank "
            "every matching row."
        ),
        "",
        choice,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="collection sizes in chunks, comma-separated")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qa-bot-bench-lexical"))
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per method and size")
    parser.add_argument("--write", action="store_true", help="(re)write this section of BENCHMARKS.md")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--other", type=Path, action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.worker:
        result = WORKERS[args.worker](sizes[0], args.workdir, queries(args.queries), args.other)
        result["peak_rss_mb"] = peak_rss_mb()
        args.out.write_text(json.dumps(result), encoding="utf-8")
        return
    load_start = os.getloadavg()[0]
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    results: dict[int, dict[str, dict]] = {}
    for n in sizes:
        results[n] = {m: run(m, n, args.workdir, args.queries, args.timeout) for m in METHODS}
    (args.workdir / "results.json").write_text(json.dumps(results), encoding="utf-8")
    command = "python bench/bench_lexical.py " + " ".join(sys.argv[1:])
    section = report(results, command.strip(), args.queries, (load_start, os.getloadavg()[0]))
    print(section)
    if args.write:
        from sections import write_section

        write_section(ROOT / "BENCHMARKS.md", SECTION, section)


if __name__ == "__main__":
    main()
