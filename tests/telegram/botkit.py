"""Shared by the bot tests and the load benchmark: the real Application run against a FakeBotApi.

(Not a conftest.py: the top-level tests import their helpers with `from conftest import ...`, and a
second conftest module here would shadow theirs.)
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fake_bot_api import Call, FakeBotApi

from qa_bot.embed import Embedder, load_embedder
from qa_bot.pipeline import Pipeline
from qa_bot.settings import Settings
from qa_bot.telegram.app import build_application, serve

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
TOKEN = "123456789:AAHfakeTokenForTests_0123456789abcdef"
ADMIN = 42
OUTSIDER = 5555  # not in ALLOWED_USER_IDS
ALLOWED = list(range(1000, 5000))
GROUP = -1001234567
BUS_QUESTION = "Сколько автобусов МАЗ Беларусь поставит в Удмуртию?"
BUS_DOC_TITLE = "Микроэлектроника, поставки пассажирской техники"  # the title of 000_efd8a1e6da840478

_users = itertools.count(1000)
_seed_index: Path | None = None
_embedder: Embedder | None = None


def shared_embedder() -> Embedder:
    """The real embedding model (navec), loaded once per test session for every bot (2-3 s a load)."""
    global _embedder
    if _embedder is None:
        _embedder = load_embedder(make_settings(Path("unused"), "http://unused/bot"))
    return _embedder


def new_user() -> int:
    """A fresh allowed user id (so rate limits and history never leak between tests)."""
    return next(_users)


def make_settings(root: Path, api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": api_url,
        "docs_dir": root / "docs",
        "index_dir": root / "index",
        "cache_dir": Path.home() / ".cache" / "qa_bot",  # the navec model built once per machine
        "llm_backend": "extractive",
        "feedback_db": root / "feedback.sqlite3",
        "allowed_user_ids": ALLOWED,
        "admin_user_ids": [ADMIN],
        "rate_limit_per_minute": 5,
        "max_concurrent_answers": 2,
        "history_turns": 3,
        "telegram_stream_interval": 0.2,
    }
    return Settings(_env_file=None, **(values | overrides))


def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Documents and an index built from seeds/ once per test session (callers copy it)."""
    global _seed_index
    if _seed_index is None:
        root = tmp_path_factory.mktemp("seed")
        shutil.copytree(SEEDS, root / "docs")
        Pipeline(make_settings(root, "http://unused/bot"), embedder=shared_embedder()).update()
        _seed_index = root
    return _seed_index


def copy_collection(seed_root: Path, root: Path) -> Path:
    """A private copy of the documents and index, for a bot that may change them."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(seed_root / "docs", root / "docs")
    shutil.copytree(seed_root / "index", root / "index")
    return root


class RunningBot:
    """The bot served by `qa_bot.telegram.app.serve` in a thread with its own event loop."""

    def __init__(self, api: FakeBotApi, settings: Settings, **serve_options: Any) -> None:
        self.api = api
        self.settings = settings
        self.serve_options = serve_options  # e.g. webhook=URL, listen=..., port=...
        self.app = build_application(settings, Pipeline(settings, embedder=shared_embedder()))
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="bot", daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            serve(self.app, stop_signals=None, **self.serve_options)
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self.error = exc

    def start(self, timeout: float = 60.0) -> RunningBot:
        """Start; returns once the bot has loaded the pipeline and asked for updates (or set its webhook)."""
        self._thread.start()
        ready = "setWebhook" if self.serve_options.get("webhook") else "getUpdates"
        self.api.wait_for(lambda: self.api.calls_of(ready) or not self._thread.is_alive(), timeout)
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        if self.loop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.app.stop_running)
        self._thread.join(15)
        assert not self._thread.is_alive(), "the bot did not stop"

    @property
    def state(self) -> Any:
        return self.app.bot_data["qa_bot"]


@contextmanager
def running_bot(root: Path, **overrides: Any) -> Iterator[RunningBot]:
    """A loopback Bot API and the bot polling it, over the collection in `root`."""
    api = FakeBotApi(TOKEN).start()
    bot = RunningBot(api, make_settings(root, api.base_url, **overrides))
    try:
        yield bot.start()
    finally:
        bot.stop()
        api.stop()


def ask(
    api: FakeBotApi, user_id: int, text: str, chat_id: int | None = None, timeout: float = 10.0, **extra: Any
) -> Call:
    """Send a question and wait for the final answer (the message carrying the feedback buttons)."""
    chat = chat_id or user_id
    before = len(api.answers(chat))
    api.send_text(user_id, text, chat_id, **extra)
    return api.wait_answers(chat, before + 1, timeout)[-1]


def reply_to(api: FakeBotApi, chat_id: int, before: int, timeout: float = 10.0) -> str:
    """The text of the next plain sendMessage to `chat_id` after the first `before` ones."""
    return api.wait_calls("sendMessage", chat_id, before + 1, timeout)[before].text


def recorded(db: Path, user_id: int) -> list[tuple]:
    """Rows of the feedback store for answers to `user_id` (id, rating, rated_by)."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(
                "SELECT id, rating, rated_by FROM answers WHERE user_id = ?", (user_id,)
            ).fetchall()
    except sqlite3.OperationalError:  # being created right now
        return []


def wait_recorded(bot: RunningBot, user_id: int, count: int = 1, timeout: float = 10.0) -> list[tuple]:
    """Wait until the bot has recorded `count` answers to the user: it records only after sending,
    so from then on no error message can follow for those questions."""
    deadline = time.monotonic() + timeout
    while len(rows := recorded(bot.settings.feedback_db, user_id)) < count:
        assert time.monotonic() < deadline, f"no feedback row for user {user_id} after {timeout} s"
        time.sleep(0.02)
    return rows
