"""Collections that do not lose documents: remembered sources, --docs adds, explicit remove and prune."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import LOOKALIKES, UDMURTIA, ULYANOVSK

from qa_bot.cli import cli
from qa_bot.embed import Embedder
from qa_bot.errors import DocumentsError
from qa_bot.index import Index, plan_removal, read_manifest, remove_documents, update_index
from qa_bot.pipeline import Pipeline

AGRO = "udmurtia_2019_agro"
EDU = "ulyanovsk_2021_education"


@pytest.fixture
def more(tmp_path: Path) -> Path:
    """A second documents folder holding the two look-alike articles."""
    folder = tmp_path / "more"
    shutil.copytree(LOOKALIKES, folder)
    return folder


def test_docs_adds_to_the_remembered_sources(
    docs: Path, more: Path, settings_factory, embedder: Embedder
) -> None:
    settings = settings_factory()
    update_index(settings, embedder)  # a new collection starts from DOCS_DIR
    index, report = update_index(settings, embedder, [more])
    assert report.added == [AGRO, EDU] and report.removed == []
    assert set(index.documents) == {UDMURTIA, ULYANOVSK, AGRO, EDU}
    assert read_manifest(settings.index_dir)[1]["sources"] == [
        "../docs",
        "../more",
    ]  # beside the index: relative

    # the bot's callers pass no folders: every remembered source is re-scanned, nothing is dropped
    shutil.copy(more / f"{AGRO}.txt", more / "agro_copy.txt")
    pipeline = Pipeline(settings, embedder=embedder)
    report = pipeline.update(None, rebuild=True)
    assert report.removed == [] and set(pipeline.index.documents) == {
        UDMURTIA,
        ULYANOVSK,
        AGRO,
        EDU,
        "agro_copy",
    }


def test_a_single_file_is_a_source(docs: Path, settings_factory, embedder: Embedder) -> None:
    settings = settings_factory()
    index, report = update_index(settings, embedder, [LOOKALIKES / f"{EDU}.txt"])
    assert report.added == [EDU] and set(index.documents) == {EDU}
    with pytest.raises(DocumentsError, match="does not exist"):
        update_index(settings, embedder, [docs / "nothing.md"])


def test_a_folders_subfolders_are_read_and_hidden_ones_left_out(
    more: Path, settings_factory, embedder: Embedder
) -> None:
    nested = more / "2021" / "oct"
    nested.mkdir(parents=True)
    shutil.move(str(more / f"{EDU}.txt"), nested / f"{EDU}.txt")
    (more / ".git").mkdir()
    (more / ".git" / "notes.txt").write_text("Служебный файл.", encoding="utf-8")
    index, report = update_index(settings_factory(), embedder, [more])
    assert report.added == [AGRO, EDU] and set(index.documents) == {AGRO, EDU}


def test_a_vanished_source_is_reported_and_its_documents_kept(
    docs: Path, more: Path, settings_factory, embedder: Embedder
) -> None:
    settings = settings_factory()
    update_index(settings, embedder, [docs, more])
    more.rename(more.with_name("elsewhere"))
    index, report = update_index(settings, embedder)
    assert index is None and report.removed == [] and report.documents == 4
    assert any(str(more.resolve()) in w and "2 indexed document(s) are kept" in w for w in report.warnings)
    # even a full rebuild keeps them: they are re-embedded from their stored passages
    rebuilt, report = update_index(settings, embedder, rebuild=True)
    assert report.removed == [] and set(rebuilt.documents) == {UDMURTIA, ULYANOVSK, AGRO, EDU}
    original = (LOOKALIKES / f"{AGRO}.txt").read_text(encoding="utf-8")
    words = original.split()[40:60]
    assert " ".join(words) in " ".join(" ".join(c.text.split()) for c in rebuilt.chunks_of([AGRO]))
    assert rebuilt.documents[AGRO].sha256 == Index.load(settings.index_dir).documents[AGRO].sha256


def test_prune_asks_and_drops_only_documents_whose_files_are_gone(
    docs: Path, settings_factory, embedder: Embedder
) -> None:
    settings = settings_factory()
    update_index(settings, embedder)
    (docs / f"{ULYANOVSK}.txt").unlink()
    asked: list[list[str]] = []
    _, report = update_index(settings, embedder, prune=lambda ids: asked.append(ids) or False)
    assert asked == [[ULYANOVSK]] and report.removed == [] and report.documents == 2
    index, report = update_index(settings, embedder, prune=lambda ids: True)
    assert report.removed == [ULYANOVSK] and set(index.documents) == {UDMURTIA}


def test_remove_by_id_path_and_source(docs: Path, more: Path, settings_factory, embedder: Embedder) -> None:
    settings = settings_factory()
    index, _ = update_index(settings, embedder, [docs, more])
    plan = plan_removal(settings, [UDMURTIA, str(more / f"{EDU}.txt"), "no-such-doc"])
    assert plan.doc_ids == [UDMURTIA, EDU] and plan.unknown == ["no-such-doc"] and plan.sources == []
    assert plan.chunks == index.documents[UDMURTIA].chunks + index.documents[EDU].chunks
    report = remove_documents(settings, plan)
    assert report.removed == [UDMURTIA, EDU]
    assert set(Index.load(settings.index_dir).documents) == {ULYANOVSK, AGRO}

    # a removed file still in a source stays out on the next run, and comes back when it changes
    _, report = update_index(settings, embedder)
    assert report.added == [] and set(Index.load(settings.index_dir).documents) == {ULYANOVSK, AGRO}
    path = docs / f"{UDMURTIA}.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nНовый абзац.", encoding="utf-8")
    _, report = update_index(settings, embedder)
    assert report.added == [UDMURTIA]

    # a whole source: its documents and the source itself
    plan = plan_removal(settings, [str(more)])
    assert plan.doc_ids == [AGRO] and plan.sources == [str(more.resolve())]
    remove_documents(settings, plan)
    _, manifest = read_manifest(settings.index_dir)
    assert manifest["sources"] == ["../docs"] and AGRO not in manifest["documents"]
    _, report = update_index(settings, embedder)
    assert report.added == [] and AGRO not in Index.load(settings.index_dir).documents

    # DOCS_DIR (where the bot's uploads land) is a source of every plain update, unless dropped explicitly
    remove_documents(settings, plan_removal(settings, [str(docs)]))
    _, report = update_index(settings, embedder)
    assert report.documents == 0 and not Index.load(settings.index_dir).documents
    _, report = update_index(settings, embedder, [docs])
    assert report.added == [UDMURTIA, ULYANOVSK]


def test_a_copied_collection_indexes_its_own_documents(
    docs: Path, tmp_path: Path, settings_factory, embedder: Embedder
) -> None:
    update_index(settings_factory(), embedder)
    copy = tmp_path / "copy"
    shutil.copytree(docs, copy / "docs")
    shutil.copytree(tmp_path / "index", copy / "index")
    settings = settings_factory(docs_dir=copy / "docs", index_dir=copy / "index")
    shutil.copy(LOOKALIKES / f"{AGRO}.txt", copy / "docs" / f"{AGRO}.txt")
    index, report = update_index(settings, embedder)
    assert report.added == [AGRO] and report.embedded_chunks == index.documents[AGRO].chunks
    assert {Path(d.path).parent for d in index.documents.values()} == {(copy / "docs").resolve()}


@pytest.fixture
def run(tmp_path: Path, docs: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    env = {"DOCS_DIR": str(docs), "INDEX_DIR": str(tmp_path / "index"), "LLM_BACKEND": "extractive"}

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def test_cli_index_docs_adds_and_remove_confirms(run, docs: Path, more: Path, tmp_path: Path) -> None:
    assert run("index").exit_code == 0
    added = run("index", "--docs", str(more / f"{AGRO}.txt"))
    assert added.exit_code == 0, added.output
    assert "3 documents" in added.output and "added 1" in added.output and "removed 0" in added.output

    refused = run("remove", UDMURTIA)  # no stdin: refuses, removes nothing
    assert (
        refused.exit_code == 2 and "--yes" in refused.output and "Will remove 1 document(s)" in refused.output
    )
    declined = run("remove", UDMURTIA, input="n\n")
    assert declined.exit_code == 0 and "Nothing was removed" in declined.output
    assert UDMURTIA in run("sources").output
    unknown = run("remove", "nope", "--yes")
    assert unknown.exit_code == 2 and "Not in the index: nope" in unknown.output
    done = run("remove", UDMURTIA, input="y\n")
    assert (
        done.exit_code == 0
        and "Removed 1 document(s)" in done.output
        and UDMURTIA not in run("sources").output
    )

    os.remove(more / f"{AGRO}.txt")
    kept = run("index")
    assert "--prune" in kept.output and "removed 0" in kept.output
    no_answer = run("index", "--prune")
    assert no_answer.exit_code == 2 and "1 indexed document(s) have no file" in no_answer.output
    pruned = run("index", "--prune", "--yes")
    assert pruned.exit_code == 0 and "removed 1" in pruned.output
    assert json.loads(run("sources", "--json").output)[0]["doc_id"] == ULYANOVSK
