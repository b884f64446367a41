"""The baseline a user would otherwise pick: LangChain's recursive splitter 1000/200, the same
embedder, FAISS top-4, no BM25, no title context, no refusal threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ..embed import Embedder
from ..index import DocumentInfo, StoredChunk
from ..ingest import Document
from ..retrieve import Hit
from ..store import make_vector_store
from ..text import lemma, lemmas

BASELINE_K = 4


class BaselineRetriever:
    """Dense-only retrieval over plain recursive chunks; same `search` shape as Retriever."""

    def __init__(self, documents: Sequence[Document], embedder: Embedder) -> None:
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
        self.embedder = embedder
        self.documents = {
            d.doc_id: DocumentInfo(d.doc_id, d.title, d.date, d.source, d.sha256, d.path, 0) for d in documents
        }
        self.chunks: list[StoredChunk] = []
        for doc in documents:
            for i, piece in enumerate(splitter.create_documents([doc.text])):
                start = int(piece.metadata["start_index"])
                text = piece.page_content
                self.chunks.append(
                    StoredChunk(
                        f"{doc.doc_id}#b{i}", doc.doc_id, i, start, start + len(text), text,
                        vector_id=len(self.chunks), terms=tuple(lemmas(text)),
                    )  # fmt: skip
                )
        self.store = make_vector_store(embedder.dimension)
        vectors = embedder.embed_passages([c.text for c in self.chunks])
        self.store.add(np.arange(len(self.chunks), dtype=np.int64), vectors)

        self._vocabulary = {t for c in self.chunks for t in c.terms}

    # the few parts of Retriever and Index the Answerer reads (dates, metadata, refusal evidence)
    mode = "dense"
    embedder_loaded = True

    @property
    def index(self) -> BaselineRetriever:
        return self

    @property
    def embedding_model(self) -> str:
        return self.embedder.name

    @property
    def chunk_count(self) -> int:
        return len(self.chunks)

    def chunk(self, row: int) -> StoredChunk:
        return self.chunks[row]

    def query_vector(self, text: str) -> np.ndarray:
        return self.embedder.embed_query(text)

    def chunks_of(self, doc_ids: Sequence[str]) -> list[StoredChunk]:
        return [c for c in self.chunks if c.doc_id in doc_ids]

    def knows(self, term: str) -> bool:
        return term in self._vocabulary

    def query_terms(self, question: str) -> list[str]:
        return lemmas(question)

    def term(self, word: str) -> str:
        return lemma(word)

    def unknown_names(self, question: str) -> list[str]:
        """The baseline has no such check."""
        return []

    def name_terms(self, question: str, *, known_only: bool = True) -> list[str]:
        """... nor this one."""
        return []

    def with_named_documents(self, question: str, hits: list[Hit], *args: object) -> list[Hit]:
        return hits

    def adjacent(self, hit: Hit, step: int) -> Hit | None:
        """The plain baseline reads only the passages it retrieved."""
        return None

    def document_terms(self, doc_id: str) -> frozenset[str]:
        return frozenset(t for c in self.chunks if c.doc_id == doc_id for t in c.terms)

    def search(
        self, question: str, k: int = BASELINE_K, mode: str | None = None, doc_ids: Sequence[str] | None = None
    ) -> list[Hit]:
        depth = BASELINE_K if doc_ids is None else len(self.chunks)
        scores, ids = self.store.search(self.embedder.embed_query(question), depth)
        hits = [
            Hit(chunk=self.chunks[i], document=self.documents[self.chunks[i].doc_id], score=float(s), relevance=1.0,
                dense=float(s))  # fmt: skip
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0 and (doc_ids is None or self.chunks[i].doc_id in doc_ids)
        ]
        return hits[:BASELINE_K]
