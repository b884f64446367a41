"""STORE=milvus against a real Milvus Lite: builds, per-document updates, filters in the engine,
the same rankings as the FAISS store, and a clear message when a server cannot be reached."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import LOOKALIKES, UDMURTIA, ULYANOVSK

from qa_bot.embed import Embedder
from qa_bot.index import Index, plan_removal, remove_documents, update_index
from qa_bot.pipeline import Pipeline
from qa_bot.retrieve import Retriever

pytest.importorskip("milvus_lite")

from qa_bot.milvus_store import MilvusIndex, StoreUnavailableError

AGRO = "udmurtia_2019_agro"
QUESTIONS = [
    "Кто министр экономики Удмуртии?",
    "Сколько автобусов МАЗ получит Удмуртия?",
    "На сколько вырос товарооборот Ульяновской области с Белоруссией?",
]


def test_milvus_lite_index_answers_like_the_faiss_one(
    docs: Path, settings_factory, embedder: Embedder
) -> None:
    shutil.copy(LOOKALIKES / f"{AGRO}.txt", docs / f"{AGRO}.txt")
    faiss_settings = settings_factory(index_dir=docs.parent / "faiss-index")
    milvus_settings = settings_factory(store="milvus")
    update_index(faiss_settings, embedder)
    built, report = update_index(milvus_settings, embedder)
    assert (
        isinstance(built, MilvusIndex)
        and report.written
        and (milvus_settings.index_dir / "milvus.db").exists()
    )
    flat, milvus = Index.load(faiss_settings.index_dir, faiss_settings), Index.load(milvus_settings.index_dir)
    assert isinstance(milvus, MilvusIndex) and milvus.chunk_count == flat.chunk_count
    assert milvus.document_frequency() == flat.document_frequency()
    for question in QUESTIONS:
        for mode in ("bm25", "dense"):
            a = [h.chunk for h in Retriever(flat, embedder).search(question, 3, mode)]
            b = [h.chunk for h in Retriever(milvus, embedder).search(question, 3, mode)]
            assert [c.chunk_id for c in a] == [c.chunk_id for c in b], (question, mode)
            assert a == b  # text, offsets and lemmas come back from Milvus's scalar fields intact

    # the document filter runs inside Milvus, before the top k is cut
    terms = Retriever(milvus, embedder).query_terms(QUESTIONS[1])
    only = milvus.lexical_search(terms, 5, doc_ids=[AGRO])
    assert only and {milvus.chunk(r).doc_id for r, _ in only} == {AGRO}
    vector = embedder.embed_query(QUESTIONS[1])
    assert {milvus.chunk(r).doc_id for r, _ in milvus.dense_search(vector, 5, doc_ids=[ULYANOVSK])} == {
        ULYANOVSK
    }
    assert milvus.dense_search(vector, 5, doc_ids=[]) == []


def test_milvus_documents_are_updated_and_removed_by_doc_id(
    docs: Path, settings_factory, embedder: Embedder
) -> None:
    settings = settings_factory(store="milvus")
    update_index(settings, embedder)
    path = docs / f"{UDMURTIA}.txt"
    path.write_text(
        path.read_text(encoding="utf-8").replace("120 автобусов", "130 автобусов"), encoding="utf-8"
    )
    updated, report = update_index(settings, embedder)
    assert report.changed == [UDMURTIA] and report.embedded_chunks == updated.documents[UDMURTIA].chunks
    pipeline = Pipeline(settings, embedder=embedder)
    answer = pipeline.ask("Сколько автобусов МАЗ получит Удмуртия?")
    assert "130" in answer.answer and answer.citations[0].doc_id == UDMURTIA
    stored = updated.chunks_of([UDMURTIA])
    assert len(stored) == updated.documents[UDMURTIA].chunks and any(
        "130 автобусов" in c.text for c in stored
    )

    remove_documents(settings, plan_removal(settings, [UDMURTIA]))
    after = Index.load(settings.index_dir, settings)
    assert set(after.documents) == {ULYANOVSK} and after.chunks_of([UDMURTIA]) == []
    assert after.chunk_count == after.documents[ULYANOVSK].chunks
    assert not after.knows("удмуртия") or after.document_frequency()["удмуртия"] <= after.chunk_count


def test_an_unreachable_milvus_server_says_what_to_do(settings_factory, embedder: Embedder) -> None:
    settings = settings_factory(
        store="milvus", milvus_uri="http://127.0.0.1:9", milvus_token="user:s3cret-token"
    )
    with pytest.raises(StoreUnavailableError) as caught:
        update_index(settings, embedder, [LOOKALIKES])
    message = str(caught.value)
    assert (
        "Cannot reach http://127.0.0.1:9" in message and "MILVUS_URI" in message and "s3cret" not in message
    )


@pytest.mark.slow
def test_an_index_built_by_another_process_is_searchable_and_lite_is_one_process(
    docs: Path, tmp_path: Path, settings_factory, embedder: Embedder
) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DOCS_DIR", "INDEX_DIR", "STORE", "MILVUS_URI")}
    env |= {
        "STORE": "milvus",
        "DOCS_DIR": str(docs),
        "INDEX_DIR": str(tmp_path / "index"),
        "LLM_BACKEND": "extractive",
        # a Lite file given in the environment, as the README shows (pymilvus reads MILVUS_URI itself
        # at import and rejects anything but a server address)
        "MILVUS_URI": str(tmp_path / "lite" / "collection.db"),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "qa_bot.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip

    built = cli("index")
    assert built.returncode == 0, built.stderr
    settings = settings_factory(store="milvus", milvus_uri=env["MILVUS_URI"])
    index = Index.load(settings.index_dir, settings)  # this process finds the collection released: loads it
    hits = Retriever(index, embedder).search("Сколько автобусов МАЗ получит Удмуртия?", 3)
    assert hits and hits[0].chunk.doc_id == UDMURTIA
    busy = cli("ask", "Сколько автобусов МАЗ получит Удмуртия?")  # this process holds the Lite file now
    assert busy.returncode == 1 and "one process at a time" in busy.stderr and "Traceback" not in busy.stderr
