"""Wires the stages together from the settings: used by the CLI, the Telegram bot and the evaluation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from .answer import Answer, Answerer
from .embed import Embedder, load_embedder
from .errors import LLMError
from .index import Index, IndexReport, update_index
from .llm import LLMBackend, make_backend
from .retrieve import Retriever
from .settings import Settings


class Pipeline:
    """Loads the index and models once; `reload()` swaps in a freshly built index."""

    def __init__(self, settings: Settings, *, backend: str | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._backend_name = backend
        self._backend: tuple[LLMBackend | None, LLMError | None] | None = None
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
            self._backend = make_backend(self.settings, self._backend_name)
        return self._backend

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
        return self.answerer.answer(question, history, **kwargs)

    def update(
        self,
        folders: Sequence[Path] | None = None,
        *,
        rebuild: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> IndexReport:
        """Re-index the documents incrementally and switch to the new index."""
        index, report = update_index(self.settings, self.embedder, folders, rebuild=rebuild, progress=progress)
        if index is not None or self._index is None:
            self.reload(index)
        return report

    def reload(self, index: Index | None = None) -> None:
        """Use `index` (or the one on disk) from now on; answers already running keep the old one."""
        self._index = index or Index.load(self.settings.index_dir)
        self._answerer = None
