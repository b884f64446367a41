"""Wires the stages together from the settings: used by the CLI, the Telegram bot and the evaluation."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .answer import Answer, Answerer
from .embed import Embedder, load_embedder
from .errors import LLMError
from .index import Index, IndexReport, read_pointer, update_index
from .llm import LLMBackend, make_backend
from .retrieve import Retriever
from .settings import Settings
from .text import use_synonyms

log = logging.getLogger(__name__)


CHECK_EVERY = 2.0  # seconds between looks at INDEX_DIR/CURRENT for a generation built by another process


@dataclass(frozen=True)
class Snapshot:
    """One loaded generation and the answerer over it, swapped as a whole."""

    index: Index
    answerer: Answerer
    generation: str | None  # the CURRENT name it was loaded from


class Pipeline:
    """Loads the index and models once; picks up a generation built elsewhere (CLI, another bot) by itself.

    The (index, answerer) pair is one immutable Snapshot replaced under a lock, so a reload or an
    LLM found again can never be overwritten by an answerer over an older index. A failed load is
    not remembered: the next question tries again, so answering resumes once a good index exists.
    """

    check_every = CHECK_EVERY

    def __init__(
        self, settings: Settings, *, backend: str | None = None, embedder: Embedder | None = None
    ) -> None:
        self.settings = settings
        use_synonyms(settings.synonyms_file)
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._backend_name = backend
        self._backend: tuple[LLMBackend | None, LLMError | None] | None = None
        self._probed_at = 0.0  # when make_backend last ran (monotonic seconds)
        self._probe_lock = threading.Lock()
        self._snap: Snapshot | None = None
        self._checked_at = 0.0  # when CURRENT was last compared with the snapshot (monotonic seconds)
        self._lock = threading.RLock()  # guards _snap and _backend swaps

    # -- parts, loaded on first use ----------------------------------------------------------

    def embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings)
            return self._embedder

    def snapshot(self) -> Snapshot:
        """The snapshot to answer from: the one in use, unless CURRENT names another generation
        (checked at most every CHECK_EVERY seconds); raises IndexMissingError / IndexCorruptError /
        IndexMismatchError when no usable index exists."""
        snap = self._snap
        if snap is not None and time.monotonic() - self._checked_at < self.check_every:
            return snap
        if snap is None:
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            return snap  # another thread is checking or loading: answer from the one in use meanwhile
        try:
            snap = self._snap
            if snap is not None and time.monotonic() - self._checked_at < self.check_every:
                return snap
            self._checked_at = time.monotonic()
            if snap is not None and self._still_current(snap):
                return snap
            try:
                return self._install(Index.load(self.settings.index_dir, self.settings))
            except BaseException:
                self._snap = None  # not remembered: the next question tries again
                raise
        finally:
            self._lock.release()

    def _still_current(self, snap: Snapshot) -> bool:
        if snap.generation is None:
            return True  # built in memory, never saved (nothing to compare with)
        name = read_pointer(self.settings.index_dir)
        return name == snap.generation and (self.settings.index_dir / name / "manifest.json").exists()

    def _install(self, index: Index) -> Snapshot:
        """Make `index` the one in use (caller holds the lock)."""
        index.check_settings(self.settings)
        backend, reason = self.backend()
        retriever = Retriever(
            index,
            self.embedder,
            mode=self.settings.retrieval_mode,
            dense_weight=self.settings.hybrid_dense_weight,
        )
        answerer = Answerer(retriever, backend, self.settings, fallback_reason=reason)
        self._snap = Snapshot(index, answerer, index.folder.name if index.folder is not None else None)
        self._checked_at = time.monotonic()
        return self._snap

    @property
    def index(self) -> Index:
        return self.snapshot().index

    def backend(self) -> tuple[LLMBackend | None, LLMError | None]:
        with self._lock:
            if self._backend is None:
                self._probed_at = time.monotonic()
                self._backend = make_backend(self.settings, self._backend_name)
            return self._backend

    def _look_for_llm_again(self) -> None:
        """LLM_BACKEND=auto fell back to extractive answers: probe Ollama again, at most every
        LLM_AUTO_RECHECK seconds and by one thread at a time, so that a server started after the bot
        is used without a restart."""
        current = self._backend
        if current is None or current[0] is not None or current[1] is None:
            return  # not resolved yet, an LLM in use, or extractive by choice
        if time.monotonic() - self._probed_at < self.settings.llm_auto_recheck:
            return
        if not self._probe_lock.acquire(blocking=False):
            return  # another thread is probing; answer extractively meanwhile
        try:
            self._probed_at = time.monotonic()
            found = make_backend(self.settings, self._backend_name)
            if found[0] is not None:
                log.info("LLM_BACKEND=auto: %s is reachable now; answers use it", found[0].label)
                with self._lock:
                    self._backend = found
                    if self._snap is not None:
                        self._install(self._snap.index)
        finally:
            self._probe_lock.release()

    @property
    def answerer(self) -> Answerer:
        return self.snapshot().answerer

    def warm_up(self) -> None:
        """Load everything now (start-up of the bot and `chat`) rather than on the first question."""
        answerer = self.answerer
        if self.settings.retrieval_mode != "bm25":
            answerer.retriever.embedder.embed_query("проверка")

    # -- actions -----------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[str] = (), **kwargs) -> Answer:
        """Answer from the current snapshot (a newer generation on disk is picked up first)."""
        self._look_for_llm_again()
        return self.snapshot().answerer.answer(question, history, **kwargs)

    def update(
        self,
        folders: Sequence[Path] | None = None,
        *,
        rebuild: bool = False,
        prune: bool | Callable[[list[str]], bool] = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> IndexReport:
        """Re-index the collection incrementally (`folders` are added to its sources) and switch to it."""
        index, report = update_index(
            self.settings, self.embedder, folders, rebuild=rebuild, prune=prune, progress=progress
        )
        if index is not None or self._snap is None:
            self.reload(index)
        return report

    def reload(self, index: Index | None = None) -> None:
        """Use `index` (or the one on disk) from now on; answers already running keep the old one."""
        with self._lock:
            self._snap = None
            self._install(index if index is not None else Index.load(self.settings.index_dir, self.settings))
