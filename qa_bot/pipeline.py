"""Wires the stages together from the settings: used by the CLI, the Telegram bot and the evaluation."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .answer import Answer, Answerer
from .embed import Embedder, load_embedder
from .errors import LLMError
from .index import Index, IndexReport, update_index
from .llm import LLMBackend, make_backend
from .retrieve import Retriever
from .settings import Settings

log = logging.getLogger(__name__)


class Pipeline:
    """Loads the index and models once; `reload()` swaps in a freshly built index."""

    def __init__(self, settings: Settings, *, backend: str | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._backend_name = backend
        self._backend: tuple[LLMBackend | None, LLMError | None] | None = None
        self._probed_at = 0.0  # when make_backend last ran (monotonic seconds)
        self._probe_lock = threading.Lock()
        self._index: Index | None = None
        self._answerer: Answerer | None = None

    # -- parts, loaded on first use ----------------------------------------------------------

    def embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings)
            return self._embedder

    @property
    def index(self) -> Index:
        if self._index is None:
            index = Index.load(self.settings.index_dir)
            index.check_settings(self.settings)
            self._index = index
        return self._index

    def backend(self) -> tuple[LLMBackend | None, LLMError | None]:
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
                self._backend, self._answerer = found, None
        finally:
            self._probe_lock.release()

    @property
    def answerer(self) -> Answerer:
        if self._answerer is None:
            backend, reason = self.backend()
            retriever = Retriever(
                self.index, self.embedder, mode=self.settings.retrieval_mode, dense_weight=self.settings.hybrid_dense_weight
            )
            self._answerer = Answerer(retriever, backend, self.settings, fallback_reason=reason)
        return self._answerer

    def warm_up(self) -> None:
        """Load everything now (start-up of the bot and `chat`) rather than on the first question."""
        answerer = self.answerer
        if self.settings.retrieval_mode != "bm25":
            answerer.retriever.embedder.embed_query("проверка")

    # -- actions -----------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[str] = (), **kwargs) -> Answer:
        self._look_for_llm_again()
        return self.answerer.answer(question, history, **kwargs)

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
        if index is not None or self._index is None:
            self.reload(index)
        return report

    def reload(self, index: Index | None = None) -> None:
        """Use `index` (or the one on disk) from now on; answers already running keep the old one."""
        self._index = index or Index.load(self.settings.index_dir)
        self._answerer = None
