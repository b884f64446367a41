#!/usr/bin/env python
"""Load benchmark of the Telegram bot: N simulated users against the real Application.

    python bench/bot_load.py [--users 20,50,100] [--questions 3] [--out BENCHMARKS.md]

The bot is `qa-bot bot` itself, in its own process (AIORateLimiter, concurrent updates, the answer
queue with MAX_CONCURRENT_ANSWERS at its default), with the extractive backend over an index of
seeds/, long polling a loopback Bot API server (tests/telegram/fake_bot_api.py) run by this script,
which records when each answer arrives. Every simulated user asks its questions one after another (the next one as
soon as the previous answer arrived); all users start at once. Latency is from the moment the
question is offered to getUpdates to the moment the final answer (sendMessage with the feedback
buttons) reaches the server. For scale, the same questions answered by `Pipeline.ask` in a loop
(no Telegram) are timed too.

The figures are printed and written as the "## Telegram bot load" section of BENCHMARKS.md
(other sections are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "telegram"))

from fake_bot_api import Call, FakeBotApi
from sections import write_section

from qa_bot.pipeline import Pipeline
from qa_bot.settings import Settings
from qa_bot.telegram.answering import QUEUE_NOTICE_AFTER
from qa_bot.telegram.streaming import TYPING_AFTER

SECTION = "## Telegram bot load"
TOKEN = "123456789:AAHbenchmarkTokenNotReal_0123456789ab"


def gold_questions(limit: int = 40) -> list[str]:
    """Answerable single questions of the gold set (no conversation history)."""
    rows = [
        json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return [r["question"] for r in rows if r.get("answerable") and not r.get("history")][:limit]


def settings_for(root: Path) -> Settings:
    """The settings the index is built with (the bot process reads the same from its environment)."""
    return Settings(
        _env_file=None, docs_dir=root / "docs", index_dir=root / "index", llm_backend="extractive"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def simulate(api: FakeBotApi, users: int, questions: list[str], per_user: int) -> dict[str, float]:
    """All users ask at once, each its questions in turn; returns throughput and latency figures."""
    latencies: list[float] = []
    lock = threading.Lock()
    first_user = 100_000

    def user(uid: int) -> None:
        for i in range(per_user):
            question = questions[(uid * 7 + i) % len(questions)]
            before = len(api.answers(uid))
            api.send_text(uid, question)
            sent = time.monotonic()
            answer: Call = api.wait_answers(uid, before + 1, timeout=300)[-1]
            with lock:
                latencies.append(answer.at - sent)

    before_calls = len(api.calls)
    threads = [threading.Thread(target=user, args=(first_user + u,)) for u in range(users)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    calls = [c for c in api.calls[before_calls:] if c.method != "getUpdates"]
    return {
        "users": users,
        "answers": len(latencies),
        "wall_s": wall,
        "answers_per_s": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * percentile(latencies, 0.95),
        "max_ms": 1000 * max(latencies),
        "api_calls_per_answer": len(calls) / len(latencies),
    }


def pipeline_rate(settings: Settings, questions: list[str], count: int) -> float:
    """Answers per second of `Pipeline.ask` alone, one after another."""
    pipeline = Pipeline(settings)
    pipeline.warm_up()
    started = time.perf_counter()
    for i in range(count):
        pipeline.ask(questions[i % len(questions)])
    return count / (time.perf_counter() - started)


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    ) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    import telegram

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs ({cpu}, load average {load:.1f} at the start), Python {platform.python_version()}, "
        f"python-telegram-bot {telegram.__version__}"
    )


def section(rows: list[dict[str, float]], single: float, per_user: int, command: str) -> str:
    calls = max(r["api_calls_per_answer"] for r in rows)
    lines = [
        SECTION,
        "",
        f"Measured {date.today()} with `{command}` on {machine()}.",
        "",
        (
            "`qa-bot bot` in its own process (long polling, `AIORateLimiter`, concurrent updates, answer queue "
            "with the default `MAX_CONCURRENT_ANSWERS=2`), extractive backend over the seed index, against the "
            "loopback Bot API of the tests run by the benchmark, which also plays the users. Each simulated user "
            f"asks {per_user} gold questions one after another; all start at once. Latency: question offered to "
            "getUpdates → final answer received by the server."
        ),
        "",
        "| users | answers | wall s | answers/s | p50 ms | p95 ms | max ms | Bot API calls per answer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['users']} | {r['answers']} | {r['wall_s']:.1f} | {r['answers_per_s']:.1f} | {r['p50_ms']:.0f} "
            f"| {r['p95_ms']:.0f} | {r['max_ms']:.0f} | {r['api_calls_per_answer']:.1f} |"
        )
    lines += [
        "",
        (
            f"For scale: `Pipeline.ask` alone answers {single:.0f} questions/s one after another. The bot's "
            "ceiling is Telegram's flood limit, which `AIORateLimiter` enforces on our side: 30 requests/s for "
            f"the whole bot (after a burst of 30). At {calls:.1f} Bot API calls per answer (the answer, plus "
            f'"typing…" when generating takes over {TYPING_AFTER} s, a queue notice and its deletion when a '
            f"wait exceeds {QUEUE_NOTICE_AFTER} s) that is "
            f"about {30 / calls:.0f} answers/s whatever the CPU, and latency grows with the number of users "
            "waiting for their turn. With an LLM backend, generation (MAX_CONCURRENT_ANSWERS at a time) is the "
            "limit instead."
        ),
        "",
    ]
    return "\n".join(lines)


@contextmanager
def bot_process(root: Path, api: FakeBotApi, per_user: int) -> Iterator[None]:
    """`qa-bot bot` exactly as users start it, in its own process, polling the loopback `api`."""
    env = os.environ | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "DOCS_DIR": str(root / "docs"),
        "INDEX_DIR": str(root / "index"),
        "FEEDBACK_DB": str(root / "feedback.sqlite3"),
        "LLM_BACKEND": "extractive",
        "RATE_LIMIT_PER_MINUTE": str(per_user + 1),  # throughput is measured, not the per-user limit
        "ALLOWED_USER_IDS": "",
    }
    log = (root / "bot.log").open("w")
    command = [sys.executable, "-m", "qa_bot.cli", "bot"]
    proc = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    try:
        api.wait_for(lambda: api.calls_of("getUpdates") or proc.poll() is not None, timeout=180)
        if proc.poll() is not None:
            raise RuntimeError(f"qa-bot bot exited: {(root / 'bot.log').read_text()}")
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run(users: list[int], per_user: int, log: Callable[[str], None]) -> tuple[list[dict[str, float]], float]:
    questions = gold_questions()
    with tempfile.TemporaryDirectory(prefix="bot_load_") as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "seeds", root / "docs")
        Pipeline(settings_for(root)).update()
        single = pipeline_rate(settings_for(root), questions, 200)
        log(f"Pipeline.ask alone: {single:.0f} answers/s")
        rows = []
        for n in users:
            api = FakeBotApi(TOKEN).start()
            try:
                with bot_process(root, api, per_user):
                    row = simulate(api, n, questions, per_user)
            finally:
                api.stop()
            log(
                f"{n} users: {row['answers']} answers in {row['wall_s']:.1f} s = {row['answers_per_s']:.1f}/s, "
                f"p50 {row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms, max {row['max_ms']:.0f} ms"
            )
            rows.append(row)
    return rows, single


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="20,50,100", help="comma-separated numbers of simulated users")
    parser.add_argument("--questions", type=int, default=3, help="questions per user")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "BENCHMARKS.md", help="file to write the section into"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    users = [int(n) for n in args.users.split(",")]
    rows, single = run(users, args.questions, lambda line: print(line, flush=True))
    command = f"python bench/bot_load.py --users {args.users} --questions {args.questions}"
    text = section(rows, single, args.questions, command)
    print("\n" + text)
    if not args.no_write:
        write_section(args.out, SECTION, text)
        print(f"wrote the '{SECTION}' section of {args.out}")


if __name__ == "__main__":
    main()
