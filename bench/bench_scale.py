"""Past one machine: the storage layer end to end at N chunks, FAISS-HNSW and Milvus Lite side by side.

Per store, each phase in a fresh process (so peak RSS is that phase's): build (write N chunks through
the store's `with_changes`, the code path `qa-bot index` takes after embedding), on-disk size, load +
hybrid queries through the real Retriever (p50/p95, peak RSS of the query process), a re-index of the
unchanged corpus (the real `update_index`, the path `qa-bot index` takes: every document file is
stat'ed, nothing is read, embedded, loaded or written) and a one-document update (delete one document's
chunks, add ten new ones), both as a share of the build.

Cheap synthetic data, said plainly: embedding 1M real chunks would take days on 2 shared cores, so
vectors are random unit vectors (DIM, default 384 = e5-small) and each chunk's lemmas are drawn with a
Zipf law from a synthetic vocabulary; the text is the lemmas. Ranking quality is not measured here
(see bench_retrieval.py); cost is.

    python bench/bench_scale.py --chunks 100000            # a smaller size first
    python bench/bench_scale.py --chunks 1000000 --write   # and the BENCHMARKS.md section
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHUNKS_PER_DOC = 10
TERMS_PER_CHUNK = 60
VOCABULARY = 200_000
QUERIES = 200  # hybrid questions per store (--queries)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def settings_for(workdir: Path, store: str):
    from qa_bot.settings import Settings

    return Settings(_env_file=None, index_dir=workdir / store, store=store, faiss_index="hnsw",
                    embedding_model="synthetic", llm_backend="extractive")  # type: ignore[call-arg]  # fmt: skip


def synthetic_chunks(first_doc: int, n_chunks: int, first_id: int, seed: int):
    """StoredChunks of documents first_doc.., CHUNKS_PER_DOC each, with Zipf-drawn lemmas."""
    from qa_bot.index import StoredChunk

    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.15, size=(n_chunks, TERMS_PER_CHUNK)), VOCABULARY) - 1
    names = [f"w{r:x}" for r in range(VOCABULARY)]  # shared strings: 1M chunks fit in a few GB
    chunks = []
    for i in range(n_chunks):
        doc = f"doc{first_doc + i // CHUNKS_PER_DOC:07d}"
        terms = tuple(names[r] for r in ranks[i].tolist())
        text = " ".join(terms)
        j = i % CHUNKS_PER_DOC
        chunks.append(StoredChunk(f"{doc}#{j}", doc, j, j * 500, j * 500 + len(text), text,
                                  vector_id=first_id + i, terms=terms))  # fmt: skip
    return chunks


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def documents_of(chunks) -> dict:
    from qa_bot.index import DocumentInfo

    counts: dict[str, int] = {}
    for c in chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    return {
        d: DocumentInfo(d, f"Документ {d}", "2025-10-01", None, d, f"/synthetic/{d}.txt", n)
        for d, n in counts.items()
    }


def manifest_for(settings, dim: int, next_id: int, documents: dict) -> dict:
    from qa_bot.index import settings_fingerprint

    return settings_fingerprint(settings, dim) | {
        "next_id": next_id, "documents": {d: i.sha256 for d, i in documents.items()}, "files": {}, "sources": [],
    }  # fmt: skip


def worker_build(store: str, workdir: Path, n: int, dim: int) -> dict:
    from qa_bot.index import Index

    settings = settings_for(workdir, store)
    started = time.perf_counter()
    chunks = synthetic_chunks(0, n, 0, seed=1)
    vectors = unit_vectors(n, dim, seed=2)
    made = time.perf_counter() - started
    started = time.perf_counter()
    empty = Index.empty(settings, dim)
    documents = documents_of(chunks)
    index = empty.with_changes(
        settings, set(), chunks, vectors, documents, manifest_for(settings, dim, n, documents)
    )
    seconds = time.perf_counter() - started
    return {"build_s": seconds, "data_s": made, "chunks": index.chunk_count, "peak_rss_mb": peak_rss_mb()}


def worker_query(store: str, workdir: Path, n: int, dim: int, queries: int = QUERIES) -> dict:
    from qa_bot.embed import Embedder
    from qa_bot.index import Index
    from qa_bot.retrieve import Retriever

    class RandomQueries(Embedder):
        """Query vectors near stored ones (a real question is near its passage), deterministic."""

        name, dimension = "synthetic", dim

        def __init__(self) -> None:
            self.rng = np.random.default_rng(3)

        def _embed(self, texts: list[str], *, query: bool) -> np.ndarray:
            x = self.rng.standard_normal((len(texts), dim)).astype(np.float32)
            return x / np.linalg.norm(x, axis=1, keepdims=True)

    settings = settings_for(workdir, store)
    started = time.perf_counter()
    index = Index.load(settings.index_dir, settings)
    load_s = time.perf_counter() - started
    retriever = Retriever(index, RandomQueries(), mode="hybrid")
    rng = np.random.default_rng(4)
    questions = [
        " ".join(f"w{int(r):x}" for r in np.minimum(rng.zipf(1.3, 4), 5000) - 1) for _ in range(queries)
    ]
    retriever.search(questions[0], 5)  # first query pays lazy set-ups (document frequencies)
    times = []
    for q in questions:
        t = time.perf_counter()
        hits = retriever.search(q, 5)
        times.append(time.perf_counter() - t)
        assert hits, q
    some = sorted(index.documents)[:20]
    filtered = []
    for q in questions[:50]:  # at most 50
        t = time.perf_counter()
        retriever.search(q, 5, doc_ids=some)
        filtered.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return {"load_s": load_s, "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "filtered_p95_ms": float(np.percentile(np.array(filtered) * 1000, 95)),
            "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def worker_update(store: str, workdir: Path, n: int, dim: int) -> dict:
    from qa_bot.index import Index

    settings = settings_for(workdir, store)
    started = time.perf_counter()
    index = Index.load(settings.index_dir, settings)
    load_s = time.perf_counter() - started
    doc = sorted(index.documents)[len(index.documents) // 2]
    new = synthetic_chunks(n // CHUNKS_PER_DOC + 1, CHUNKS_PER_DOC, int(index.manifest["next_id"]), seed=5)
    new = [c.__class__(**{**c.__dict__, "doc_id": doc, "chunk_id": f"{doc}#{c.index}"}) for c in new]
    vectors = unit_vectors(len(new), dim, seed=6)
    documents = dict(index.documents) | documents_of(new)
    manifest = manifest_for(settings, dim, int(index.manifest["next_id"]) + len(new), documents)
    started = time.perf_counter()
    index.with_changes(settings, {doc}, new, vectors, documents, manifest)
    write_s = time.perf_counter() - started
    return {"load_s": load_s, "write_s": write_s, "update_s": load_s + write_s, "peak_rss_mb": peak_rss_mb()}


def worker_unchanged(store: str, workdir: Path, n: int, dim: int) -> dict:
    """`update_index` over the built index when no document changed, as `qa-bot index` runs it.

    The synthetic documents get files (one small .txt per document, in workdir/docs-STORE) and the
    current manifest their stamps and source folder, as a real index has; that setup is not timed.
    Timed: the whole `update_index` call (writer lock, manifest and segment checks, the scan that
    stats every file, the comparison). It must not embed, load the index or write a generation.
    """
    from qa_bot.collection import resolve_source, stamp
    from qa_bot.index import CURRENT, read_manifest, stored_sources, update_index

    settings = settings_for(workdir, store)
    docs = workdir / f"docs-{store}"
    shutil.rmtree(docs, ignore_errors=True)
    docs.mkdir(parents=True)
    folder, manifest = read_manifest(settings.index_dir)
    files = {}
    for doc in manifest["documents"]:
        path = docs / f"{doc}.txt"
        path.write_text(f"Документ {doc}\n", encoding="utf-8")
        files[doc] = stamp(path)
    source = resolve_source(docs)
    state = {"files": files, "sources": stored_sources([source], settings.index_dir), "excluded": {},
             "dropped": []}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest | state, ensure_ascii=False), "utf-8")
    settings = settings.model_copy(update={"docs_dir": docs})
    current = (settings.index_dir / CURRENT).read_text(encoding="utf-8")

    def no_model():
        raise AssertionError("an unchanged corpus must not load the embedding model")

    runs = []
    for _ in range(3):  # the first is the figure; the other two show the spread
        started = time.perf_counter()
        index, report = update_index(settings, no_model)
        runs.append(time.perf_counter() - started)
        changed = report.added or report.changed or report.removed
        assert index is None and not report.written and not changed, report
    # and the command itself, in a fresh process (interpreter start and imports included)
    env = os.environ | {"INDEX_DIR": str(settings.index_dir), "DOCS_DIR": str(docs), "STORE": store,
                        "FAISS_INDEX": "hnsw", "EMBEDDING_MODEL": "synthetic", "LLM_BACKEND": "extractive"}  # fmt: skip
    started = time.perf_counter()
    command = [str(Path(sys.executable).with_name("qa-bot")), "index"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir, check=True)
    cli_s = time.perf_counter() - started
    assert "already up to date" in done.stdout, done.stdout + done.stderr
    assert (settings.index_dir / CURRENT).read_text(encoding="utf-8") == current, "a generation was written"
    return {"unchanged_s": runs[0], "runs_s": runs, "cli_s": cli_s, "cli_says": done.stdout.strip(),
            "files": len(files), "peak_rss_mb": peak_rss_mb()}  # fmt: skip


WORKERS = {
    "build": worker_build, "query": worker_query, "unchanged": worker_unchanged, "update": worker_update,
}  # fmt: skip


def run(phase: str, store: str, workdir: Path, n: int, dim: int, timeout: float, queries: int = QUERIES) -> dict:
    cmd = [sys.executable, __file__, "--worker", phase, "--store", store, "--workdir", str(workdir),
           "--chunks", str(n), "--dim", str(dim), "--queries", str(queries)]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "2", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if done.returncode:
        return {
            "error": done.stderr.strip().splitlines()[-1]
            if done.stderr.strip()
            else f"exit {done.returncode}"
        }
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--stores", default="faiss,milvus")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qa-bot-bench-scale"))
    parser.add_argument("--timeout", type=float, default=1200.0, help="Seconds per phase before giving up.")
    parser.add_argument("--write", action="store_true", help="Rewrite the section in BENCHMARKS.md.")
    parser.add_argument("--worker", choices=list(WORKERS))
    parser.add_argument("--store")
    parser.add_argument("--queries", default=str(QUERIES),
                        help="Hybrid questions per store: 200, or per store as faiss=200,milvus=30.")
    parser.add_argument("--phases", default="build,query,unchanged,update",
                        help="Phases to run; a later run with --keep adds the rest to the same --save file.")
    parser.add_argument("--keep", action="store_true", help="Reuse the workdir (a build left by --phases build).")
    parser.add_argument("--save", type=Path, help="Also write the measured rows to this JSON file.")
    parser.add_argument("--add", type=Path, action="append", default=[],
                        help="Report rows saved by an earlier run (--save) next to this run's.")  # fmt: skip
    args = parser.parse_args()
    if args.worker:
        extra = {"queries": int(args.queries)} if args.worker == "query" else {}
        print(json.dumps(WORKERS[args.worker](args.store, args.workdir, args.chunks, args.dim, **extra)))
        return
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for earlier in args.add:
        results |= json.loads(earlier.read_text(encoding="utf-8"))
    if args.keep and args.save and args.save.exists():
        results |= json.loads(args.save.read_text(encoding="utf-8"))
    for store in args.stores.split(","):
        queries = queries_for(args.queries, store)
        row: dict[str, object] = dict(results.get(store, {}))
        for phase in args.phases.split(","):
            print(f"{store}: {phase} at {args.chunks:,} chunks…", file=sys.stderr, flush=True)
            out = run(phase, store, args.workdir, args.chunks, args.dim, args.timeout, queries)
            row[phase] = out
            print(f"  {out}", file=sys.stderr, flush=True)
            if "error" in out:
                break
            if phase == "build":
                row["disk_mb"] = folder_bytes(args.workdir / store) / 1e6
        measured = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        results[store] = row | {"measured": measured, "queries": queries}
        if args.save:
            args.save.write_text(json.dumps({s: results[s] for s in args.stores.split(",") if s in results}), "utf-8")
    section = report(results, args.chunks, args.dim)
    print(section)
    if args.write:
        from bench.sections import write_section

        write_section(ROOT / "BENCHMARKS.md", section.splitlines()[0], section)


def queries_for(spec: str, store: str) -> int:
    """--queries: one count for every store ("200") or per store ("faiss=200,milvus=30"; others: QUERIES)."""
    if "=" not in spec:
        return int(spec)
    counts = dict(part.split("=", 1) for part in spec.split(","))
    return int(counts.get(store, QUERIES))


def report(results: dict[str, dict], n: int, dim: int) -> str:
    head = ["store", "build", "on disk", "build peak RSS", "hybrid p50", "hybrid p95", "filtered p95",
            "query RSS", "unchanged re-index", "unchanged / build", "1-doc update", "update / build"]  # fmt: skip
    rows = []
    for store, r in results.items():
        b, q, u = r.get("build", {}), r.get("query", {}), r.get("update", {})
        same = r.get("unchanged", {})  # absent in rows saved before this phase existed
        if "error" in b or "error" in q or "error" in u or not (b and q and u):
            what = b.get("error") or q.get("error") or u.get("error") or "not all phases measured yet"
            rows.append([store, str(what)] + [""] * (len(head) - 2))
            continue
        rows.append([
            ("FAISS-HNSW + segments (SQLite chunks, BM25 postings)" if store == "faiss"
             else "Milvus Lite (BM25 function + HNSW)") + f", {r.get('queries', QUERIES)} questions",
            f"{b['build_s']:.0f} s", f"{r['disk_mb']:.0f} MB", f"{b['peak_rss_mb']:.0f} MB",
            f"{q['p50_ms']:.1f} ms", f"{q['p95_ms']:.1f} ms", f"{q['filtered_p95_ms']:.1f} ms",
            f"{q['peak_rss_mb']:.0f} MB",
            f"{same['unchanged_s']:.2f} s" if "unchanged_s" in same else str(same.get("error", "—")),
            f"{100 * same['unchanged_s'] / b['build_s']:.2f} %" if "unchanged_s" in same else "—",
            f"{u['update_s']:.1f} s", f"{100 * u['update_s'] / b['build_s']:.1f} %",
        ])  # fmt: skip
    lines = [
        f"## Storage at {n:,} chunks: FAISS-HNSW and Milvus Lite (bench/bench_scale.py)",
        "",
        (
            f"Synthetic data ({dim}-d random unit vectors, {TERMS_PER_CHUNK} Zipf-drawn lemmas per chunk, "
            f"{CHUNKS_PER_DOC} chunks per document); each phase in its own process on this machine's 2 shared cores. "
            "Build = writing every chunk through the store (embedding excluded); hybrid = the real Retriever "
            "(BM25 + dense, k=5; questions per store in the first column); filtered = restricted to 20 documents; "
            "unchanged re-index = `update_index` when no file changed (one file per document stat'ed, nothing loaded or "
            "written); 1-doc update = load + replace one document's chunks + write the generation."
        ),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
