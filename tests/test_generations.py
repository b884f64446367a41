"""Index generations and their readers: retired generations outlive readers, a running pipeline
picks up a generation built elsewhere, and a failed load is never remembered. Real threads, real files."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from support import LOOKALIKES, UDMURTIA

from qa_bot import index as index_module
from qa_bot.embed import Embedder
from qa_bot.errors import IndexCorruptError, IndexMissingError
from qa_bot.index import CURRENT, Index, update_index
from qa_bot.pipeline import Pipeline

AGRO = "udmurtia_2019_agro"


def generations(index_dir: Path) -> list[Path]:
    return [p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("gen-")]


def edit(docs: Path, n: int) -> None:
    path = docs / f"{UDMURTIA}.txt"
    path.write_text(path.read_text(encoding="utf-8") + f"\n\nПравка номер {n}.", encoding="utf-8")


def test_retired_generations_are_kept_while_a_reader_may_need_them(
    docs: Path, settings_factory, embedder: Embedder
) -> None:
    settings = settings_factory()
    first, _ = update_index(settings, embedder)
    edit(docs, 1)
    second, _ = update_index(settings, embedder)
    assert first.folder.is_dir() and Index.load(settings.index_dir).folder == second.folder
    edit(docs, 2)
    update_index(settings, embedder)
    assert first.folder.is_dir() and len(generations(settings.index_dir)) == 3  # retired moments ago
    past = time.time() - index_module.RETIRED_GRACE_SECONDS - 60
    os.utime(first.folder, (past, past))
    os.utime(second.folder, (past, past))
    edit(docs, 3)
    update_index(settings, embedder)
    # the newest retired one stays whatever its age; older ones past the grace period go
    assert (
        not first.folder.exists() and not second.folder.exists() and len(generations(settings.index_dir)) == 2
    )


def test_readers_never_fail_while_a_writer_switches_generations(
    docs: Path, settings_factory, embedder: Embedder
) -> None:
    settings = settings_factory()
    update_index(settings, embedder)
    errors: list[Exception] = []
    loads = 0
    done = threading.Event()

    def reader() -> None:
        nonlocal loads
        while not done.is_set():
            try:
                Index.load(settings.index_dir)
                loads += 1
            except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for n in range(6):
            edit(docs, n)
            update_index(settings, embedder)
    finally:
        done.set()
        for t in threads:
            t.join()
    assert errors == [] and loads > 6


def test_a_running_pipeline_picks_up_a_generation_built_elsewhere(
    docs: Path, settings_factory, embedder: Embedder
) -> None:
    settings = settings_factory()
    update_index(settings, embedder)
    pipeline = Pipeline(settings, embedder=embedder)
    pipeline.check_every = 3600.0
    before = pipeline.ask("Сколько тонн молока произвели в Удмуртии в 2019 году?")
    assert AGRO not in pipeline.index.documents and all(c.doc_id != AGRO for c in before.citations)

    shutil.copy(LOOKALIKES / f"{AGRO}.txt", docs / f"{AGRO}.txt")
    update_index(settings_factory(), embedder)  # "the CLI": another Settings, another process's view
    assert AGRO not in pipeline.index.documents  # not looked at again within check_every
    pipeline.check_every = 0.0
    assert AGRO in pipeline.index.documents
    assert pipeline.answerer.retriever.index is pipeline.index


def test_a_failed_load_is_not_remembered(docs: Path, settings_factory, embedder: Embedder) -> None:
    settings = settings_factory()
    pipeline = Pipeline(settings, embedder=embedder)
    pipeline.check_every = 0.0
    with pytest.raises(IndexMissingError):
        pipeline.ask("Кто министр экономики Удмуртии?")
    update_index(settings, embedder)
    assert "Слугина" in pipeline.ask("Кто министр экономики Удмуртии?").answer  # no restart needed

    (settings.index_dir / CURRENT).write_text("gen-nowhere\n", encoding="utf-8")  # CURRENT pointing nowhere
    for _ in range(2):
        with pytest.raises(IndexCorruptError):
            pipeline.ask("Кто министр экономики Удмуртии?")
    update_index(settings, embedder)  # a plain `qa-bot index` repairs it
    assert "Слугина" in pipeline.ask("Кто министр экономики Удмуртии?").answer

    shutil.rmtree(settings.index_dir)  # the whole index folder deleted
    with pytest.raises(IndexMissingError):
        pipeline.ask("Кто министр экономики Удмуртии?")
    update_index(settings, embedder)
    assert "Слугина" in pipeline.ask("Кто министр экономики Удмуртии?").answer


def test_reload_and_lazy_answerers_never_mix_generations(
    docs: Path, settings_factory, embedder: Embedder
) -> None:
    settings = settings_factory()
    first, _ = update_index(settings, embedder)
    edit(docs, 1)
    second, _ = update_index(settings, embedder)
    pipeline = Pipeline(settings, embedder=embedder)
    mixed: list[str] = []
    stop = threading.Event()

    def asker() -> None:
        while not stop.is_set():
            snap = pipeline.snapshot()
            if snap.answerer.retriever.index is not snap.index:
                mixed.append("answerer over another index")
            time.sleep(0)  # let the reloading thread have the interpreter too (pure spinning starves it)

    threads = [threading.Thread(target=asker) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for n in range(200):
            pipeline.reload(Index.load(settings.index_dir) if n % 2 else first)
    finally:
        stop.set()
        for t in threads:
            t.join()
    pipeline.reload(second)
    assert mixed == [] and pipeline.answerer.retriever.index is pipeline.index is second


def test_questions_keep_flowing_while_a_new_generation_loads(
    docs: Path, settings_factory, embedder: Embedder
) -> None:
    settings = settings_factory()
    update_index(settings, embedder)
    pipeline = Pipeline(settings, embedder=embedder)
    pipeline.check_every = 0.0
    old = pipeline.index
    shutil.copy(LOOKALIKES / f"{AGRO}.txt", docs / f"{AGRO}.txt")
    update_index(settings, embedder)
    answered: list[object] = []
    with pipeline._lock:  # another thread is checking CURRENT / loading the new generation
        worker = threading.Thread(target=lambda: answered.append(pipeline.snapshot().index))
        worker.start()
        worker.join(timeout=5)
    assert answered == [old]  # served from the snapshot in use, without waiting for the load
    assert AGRO in pipeline.index.documents  # the next look loads the new generation
