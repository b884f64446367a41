"""The persistent index: incremental updates, manifest checks, atomic writes, damage."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from support import LOOKALIKES, UDMURTIA, ULYANOVSK

from qa_bot.embed import Embedder
from qa_bot.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from qa_bot.index import CURRENT, Index, update_index


class CountingEmbedder(Embedder):
    """The real embedder, counting what it is asked to embed (a spy around a real part, not a fake)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dimension, self.embedded = inner, inner.name, inner.dimension, 0

    def _embed(self, texts: list[str], *, query: bool) -> object:
        self.embedded += 0 if query else len(texts)
        return self.inner._embed(texts, query=query)


def vector_count(index: Index) -> int:
    return sum(len(s.store) for s in index.segments)


def test_build_then_incremental_updates(docs: Path, settings_factory, embedder: Embedder) -> None:
    settings = settings_factory()
    spy = CountingEmbedder(embedder)

    index, report = update_index(settings, spy)
    assert report.added == [UDMURTIA, ULYANOVSK] and report.written
    assert report.embedded_chunks == spy.embedded == index.chunk_count == vector_count(index) > 5
    manifest = json.loads((index.folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedding_model"] == "navec" and manifest["embedding_dimension"] == 300
    assert manifest["chunk_size"] == settings.chunk_size and manifest["format_version"] == 2
    assert set(manifest["documents"]) == {UDMURTIA, ULYANOVSK}
    # chunk metadata is a readable SQLite table, not pickle
    (segment,) = index.segments
    with sqlite3.connect(segment.folder / "chunks.sqlite") as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(chunks)")}
        first = db.execute("SELECT doc_id, text FROM chunks WHERE row = 0").fetchone()
    assert {"chunk_id", "doc_id", "start", "end", "text", "terms"} <= columns and first[0] == UDMURTIA

    # unchanged: nothing read, embedded, loaded or written
    spy.embedded = 0
    again, report = update_index(settings, spy)
    assert again is None and not report.written and spy.embedded == 0 and report.chunks == index.chunk_count
    assert Index.load(settings.index_dir).folder == index.folder

    # touched but identical: read once to compare hashes, not re-embedded; then its new time is remembered
    os.utime(docs / f"{UDMURTIA}.txt")
    touched, report = update_index(settings, spy)
    assert touched is None and not report.written and spy.embedded == 0
    assert json.loads((index.folder / "manifest.json").read_text(encoding="utf-8"))["files"][UDMURTIA]["mtime_ns"] == (
        (docs / f"{UDMURTIA}.txt").stat().st_mtime_ns
    )

    # add one, change one, delete one: only the new and changed documents are embedded; the deleted
    # one is kept (and reported) until --prune
    shutil.copy(LOOKALIKES / "udmurtia_2019_agro.txt", docs / "udmurtia_2019_agro.txt")
    (docs / f"{ULYANOVSK}.txt").unlink()
    path = docs / f"{UDMURTIA}.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nДобавлен новый абзац о лифтах.", encoding="utf-8")
    spy.embedded = 0
    kept, report = update_index(settings, spy)
    assert report.added == ["udmurtia_2019_agro"] and report.changed == [UDMURTIA] and report.removed == []
    assert ULYANOVSK in kept.documents and any("--prune" in w and ULYANOVSK in w for w in report.warnings)
    spy.embedded = 0
    updated, report = update_index(settings, spy, prune=True)
    assert report.removed == [ULYANOVSK] and spy.embedded == 0
    expected = sum(d.chunks for d in updated.documents.values())
    assert expected == updated.chunk_count == len(updated.all_chunks())
    assert {c.doc_id for c in updated.all_chunks()} == {UDMURTIA, "udmurtia_2019_agro"}
    assert any("Добавлен новый абзац о лифтах." in c.text for c in updated.all_chunks())
    # the reloaded index equals what was written
    loaded = Index.load(settings.index_dir)
    assert [c.chunk_id for c in loaded.all_chunks()] == [c.chunk_id for c in updated.all_chunks()]


def test_missing_index_says_what_to_run(settings_factory) -> None:
    with pytest.raises(IndexMissingError, match="qa-bot index"):
        Index.load(settings_factory().index_dir)


def test_settings_mismatch_needs_rebuild(docs: Path, settings_factory, embedder: Embedder) -> None:
    update_index(settings_factory(), embedder)
    other = settings_factory(chunk_size=400)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        update_index(other, embedder)
    _, report = update_index(other, embedder, rebuild=True)
    assert report.written and Index.load(other.index_dir).manifest["chunk_size"] == 400


def test_interrupted_index_leaves_previous_one_usable(docs: Path, settings_factory, embedder: Embedder) -> None:
    settings = settings_factory()
    before, _ = update_index(settings, embedder)
    shutil.copy(LOOKALIKES / "ulyanovsk_2021_education.txt", docs / "new.txt")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C while embedding

    with pytest.raises(KeyboardInterrupt):
        update_index(settings, embedder, progress=interrupt)
    after = Index.load(settings.index_dir)
    assert after.folder == before.folder and set(after.documents) == {UDMURTIA, ULYANOVSK}
    assert not [p for p in settings.index_dir.iterdir() if p.name.endswith(".tmp")]
    # the next run picks the new document up
    _, report = update_index(settings, embedder)
    assert report.added == ["new"]


def test_corrupt_index_is_reported_and_rebuilt(docs: Path, settings_factory, embedder: Embedder) -> None:
    settings = settings_factory()
    index, _ = update_index(settings, embedder)
    (index.segments[0].folder / "vectors.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match="qa-bot index --rebuild"):
        Index.load(settings.index_dir)
    rebuilt, report = update_index(settings, embedder)  # a plain `qa-bot index` repairs it
    assert rebuilt is not None and report.written and any("Rebuilding" in w for w in report.warnings)
    assert Index.load(settings.index_dir).chunk_count == rebuilt.chunk_count > 0

    (settings.index_dir / CURRENT).write_text("gen-missing\n", encoding="utf-8")
    with pytest.raises(IndexCorruptError):
        Index.load(settings.index_dir)


def test_an_index_of_the_previous_format_is_rebuilt_by_a_plain_update(
    docs: Path, settings_factory, embedder: Embedder
) -> None:
    """Format 1 kept every chunk in one chunks.jsonl: readers are told to rebuild, `qa-bot index` does it."""
    settings = settings_factory()
    index, _ = update_index(settings, embedder)
    manifest_path = index.folder / "manifest.json"
    old = json.loads(manifest_path.read_text(encoding="utf-8")) | {"format_version": 1}
    old.pop("segments")
    manifest_path.write_text(json.dumps(old), encoding="utf-8")
    (index.folder / "chunks.jsonl").write_text("{}\n", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="has format 1.*--rebuild"):
        Index.load(settings.index_dir)
    rebuilt, report = update_index(settings, embedder)
    assert rebuilt is not None and report.written and any("Rebuilding" in w for w in report.warnings)
    assert set(Index.load(settings.index_dir).documents) == {UDMURTIA, ULYANOVSK}
