"""Answers given in Telegram and the 👍/👎 they received, in SQLite (FEEDBACK_DB).

The store is user data kept apart from the rebuildable index; it is recreated when its file (or
folder) disappears, and answers never wait for it: the bot records an answer after sending it.
"""

from __future__ import annotations

import enum
import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..answer import Answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at   TEXT NOT NULL,     -- ISO 8601, UTC
    user_id    INTEGER,           -- who asked
    chat_id    INTEGER,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    citations  TEXT NOT NULL,     -- JSON list of {n, doc_id, title, date, chunk_id, quote, score}
    refused    INTEGER NOT NULL,  -- 1 when the documents held no answer
    backend    TEXT,
    notice     TEXT,
    rating     INTEGER,           -- 1 = 👍, -1 = 👎, NULL = not rated
    rated_by   INTEGER,
    rated_at   TEXT
);
CREATE INDEX IF NOT EXISTS answers_problems ON answers (rating, refused, id);
"""


@dataclass(frozen=True)
class FeedbackRow:
    id: int
    asked_at: str
    user_id: int | None
    chat_id: int | None
    question: str
    answer: str
    citations: list[dict]
    refused: bool
    rating: int | None


MAX_ID = 2**53  # answer ids are random below this (not guessable, and fit SQLite's INTEGER)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_answer_id() -> int:
    """An id for an answer before it is stored (it goes into the buttons' callback data)."""
    return secrets.randbelow(MAX_ID - 1) + 1


class Rated(enum.Enum):
    STORED = "stored"
    UNKNOWN = "unknown"  # no such answer (never recorded, or a forged id)
    NOT_ASKER = "not_asker"  # only the person who asked may rate an answer


class FeedbackStore:
    """Every answer is recorded once sent; a press of its asker sets its rating. Thread-safe (one connection a call)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def check(self) -> None:
        """Create the store now (raises what opening it raises)."""
        with self._connect():
            pass

    def adopt(self, old: Path) -> bool:
        """Copy the store kept at `old` (the former default, inside the index folder) when this one does not
        exist yet; True when copied."""
        if self.path.exists() or not old.is_file() or old.resolve() == self.path.resolve():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(old, timeout=10)) as source, closing(sqlite3.connect(self.path)) as target:
            source.backup(target)  # consistent, WAL included
        return True

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection to the store, creating the folder, the file and the table when missing."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            yield db

    def record(self, answer: Answer, user_id: int | None, chat_id: int | None, answer_id: int | None = None) -> int:
        """Store an answer (under `answer_id` when given); returns its id."""
        citations = json.dumps(answer.to_dict()["citations"], ensure_ascii=False)
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO answers (id, asked_at, user_id, chat_id, question, answer, citations, refused, backend,"
                " notice) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (answer_id, _now(), user_id, chat_id, answer.question, answer.answer, citations, int(answer.refused),
                 answer.backend, answer.notice),
            )  # fmt: skip
            return int(cursor.lastrowid or 0)

    def rate(self, answer_id: int, rating: int, user_id: int | None) -> Rated:
        """Set 👍 (1) or 👎 (-1) on an answer, if `user_id` asked it."""
        if not 0 < answer_id < 2**63:
            return Rated.UNKNOWN
        with self._connect() as db:
            row = db.execute("SELECT user_id FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if row is None:
                return Rated.UNKNOWN
            if row[0] is not None and row[0] != user_id:
                return Rated.NOT_ASKER
            db.execute(
                "UPDATE answers SET rating = ?, rated_by = ?, rated_at = ? WHERE id = ?",
                (rating, user_id, _now(), answer_id),
            )
            return Rated.STORED

    def get(self, answer_id: int) -> FeedbackRow | None:
        rows = self._select("WHERE id = ?", (answer_id,))
        return rows[0] if rows else None

    def problems(self, limit: int = 20) -> list[FeedbackRow]:
        """The most recent answers rated 👎 or refused, newest first."""
        return self._select("WHERE rating = -1 OR refused = 1 ORDER BY id DESC LIMIT ?", (limit,))

    def _select(self, where: str, params: tuple) -> list[FeedbackRow]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, asked_at, user_id, chat_id, question, answer, citations, refused, rating FROM answers "
                + where,
                params,
            ).fetchall()
        return [
            FeedbackRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), bool(r[7]), r[8]) for r in rows
        ]
